"""Legible-text detector: PP-OCRv4 detection (from the `rapidocr-onnxruntime` wheel).

Finds where text is, never what it says: the recognition network is not used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceless.core.errors import AnalysisError, ConfigError
from faceless.core.types import Detections, Kind
from faceless.detect.base import ModelCard, ScaledDetector
from faceless.detect.boxes import NESTED, merge_union
from faceless.detect.ocr import TextBoxes, TextModel, db_boxes
from faceless.detect.onnx import PRECISIONS


@dataclass(frozen=True)
class TextOptions:
    """How the text detector looks at a frame.

    The main pass runs at the frame's own resolution (padded to a multiple of 32, never
    squeezed), so a plate that can be read in the frame is seen at that same size; frames
    whose short side is under `min_side` are upscaled first (rapidocr does the same, to 736),
    by at most `max_upscale`. Frames with a side over `tile` run in overlapping windows of at
    most `tile` px (as few as that allows, evenly sized): this bounds memory without lowering
    the resolution, and keeps what the network sees local (its channel attention pools over
    the whole input, so in a large window the background can drown out a plate; see
    ocr.tile_size). A coarse pass at `coarse_side` (long side) on large frames catches text
    too big for the network's receptive field.
    """

    threshold: float = 0.3  # DB binarisation of the probability map (PaddleOCR: 0.3)
    box_threshold: float = 0.5  # mean probability inside a region to keep it (PaddleOCR: 0.5)
    unclip_ratio: float = 2.0  # DB kernel growth; PaddleOCR 1.5-1.6, more covers the strokes
    min_side: int = 640
    max_upscale: float = 2.0
    tile: int = 1280  # 1080p: two 1088-px windows (+13% pixels); 1280x1280 and less: one
    tile_overlap: int = 256
    coarse_side: int = 960  # 0 turns the coarse pass off
    # Passes at these multiples of the main pass's scale: (1.0, 1.5) is the thorough setting
    # for small or faint text (more plates found, at several times the time: docs/decisions).
    scales: tuple[float, ...] = (1.0,)
    min_size: float = 3.0  # shortest side of a region (px at the pass's scale)
    max_candidates: int = 1000
    merge_iou: float = 0.3  # boxes overlapping more (or nested) are merged into their union
    model_path: Path | None = None
    # int8: the shipped network with its neck and head quantized (less CPU, the same plate
    # recall: docs/decisions); fp32: the rapidocr wheel's original. A model_path overrides both.
    precision: str = "int8"
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("threshold", "box_threshold"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must lie in (0, 1), got {getattr(self, name)}")
        if not 1.0 <= self.unclip_ratio <= 4.0:
            raise ConfigError(f"unclip_ratio must lie in [1, 4], got {self.unclip_ratio}")
        if not 1.0 <= self.max_upscale <= 4.0:
            raise ConfigError(f"max_upscale must lie in [1, 4], got {self.max_upscale}")
        if self.min_side < 0:
            raise ConfigError(f"min_side must be >= 0, got {self.min_side}")
        if self.tile < 256 or self.tile % 32:
            raise ConfigError(f"tile must be a multiple of 32 and >= 256, got {self.tile}")
        if not 0 <= self.tile_overlap <= self.tile // 2:
            raise ConfigError(f"tile_overlap must lie in [0, tile/2], got {self.tile_overlap}")
        if self.coarse_side and self.coarse_side < 64:
            raise ConfigError(f"coarse_side must be 0 (off) or >= 64, got {self.coarse_side}")
        if not self.scales or any(not 0.1 <= s <= 4.0 for s in self.scales):
            raise ConfigError(f"scales must be non-empty, each in [0.1, 4], got {self.scales}")
        if self.min_size < 1 or self.max_candidates < 1:
            raise ConfigError("min_size and max_candidates must be >= 1")
        if not 0.0 < self.merge_iou <= 1.0:
            raise ConfigError(f"merge_iou must lie in (0, 1], got {self.merge_iou}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, "
                              f"got {self.precision!r}")

    def passes(self, width: int, height: int) -> list[float]:
        """Scale of each pass over a frame of this size, the main pass first."""
        short, long_side = min(width, height), max(width, height)
        main = 1.0
        if 0 < short < self.min_side:
            main = min(self.max_upscale, self.min_side / short)
        out = list(dict.fromkeys(main * s for s in self.scales))
        if self.coarse_side and long_side * main > self.coarse_side * 1.5:
            out.append(self.coarse_side / long_side)
        return out


def check_image(image: np.ndarray, what: str) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 \
            or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise AnalysisError(f"{what}: expected an (H, W, 3) uint8 image, got {shape} "
                            f"{getattr(image, 'dtype', type(image).__name__)}")


class TextDetector(ScaledDetector):
    """Finds lines and words of text; boxes cover the whole characters (xyxy, image px)."""

    kind = Kind.TEXT

    def __init__(self, options: TextOptions | None = None) -> None:
        self.options = options or TextOptions()
        self.model = TextModel(self.options.model_path, self.options.threads,
                               self.options.precision)

    @property
    def card(self) -> ModelCard:
        return self.model.card

    def setup(self) -> None:
        """Load the model once; later calls do nothing."""
        self.model.setup()

    def main_pass(self, width: int, height: int) -> float:
        """The scale of the main pass over a whole frame of this size."""
        return self.options.passes(width, height)[0]

    def find(self, image: np.ndarray, passes: Sequence[float] | None = None) -> TextBoxes:
        """Rotated text rectangles of every pass, in the image's pixels (may overlap).

        `passes`: scales to run at instead of `options.passes` of the image's size (a crop of
        a video frame runs at the frame's own main scale).
        """
        check_image(image, "text detector")
        self.setup()
        o = self.options
        h, w = image.shape[:2]
        parts = []
        for scale in o.passes(w, h) if passes is None else passes:
            if scale != 1.0:
                sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
                interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
                img = cv2.resize(image, (sw, sh), interpolation=interp)
            else:
                sw, sh, img = w, h, image
            prob = self.model.probability(img, o.tile, o.tile_overlap)
            found = db_boxes(prob, o.threshold, o.box_threshold, o.unclip_ratio, o.min_size,
                             o.max_candidates)
            if scale != 1.0 and len(found):
                found = TextBoxes(found.quads * np.array([w / sw, h / sh], np.float32),
                                  found.score)
            parts.append(found)
        return TextBoxes.concat(parts)

    def detect(self, image: np.ndarray, passes: Sequence[float] | None = None) -> Detections:
        found = self.find(image, passes)
        h, w = image.shape[:2]
        xyxy, score = merge_union(found.xyxy(), found.score, self.options.merge_iou,
                                   contain=NESTED)
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return Detections(xyxy[keep], np.clip(score[keep], 0.0, 1.0), Kind.TEXT)
