"""PP-OCRv4 text detection and recognition run directly with ONNX Runtime.

The weights are the ones that ship inside the `rapidocr-onnxruntime` wheel (Apache-2.0),
loaded through importlib.resources and checked against a pinned sha256. Only the ONNX files
are used: the pre- and post-processing are reproduced here (rapidocr's own code needs
pyclipper and shapely, which faceless does not).

Preprocessing, as rapidocr does it: BGR channel order, x / 255, minus mean 0.5, divided by
std 0.5, NCHW float32; the detection input must be a multiple of 32 on each side (padded
here, never resized, so the scale stays exact); the recognition input is 48 px tall.

Shared by the text and plate detectors. The recogniser never hands its text back to a
caller: `Recognizer.judge` passes each string to a rule function and returns only the rule's
numbers, so a recognised plate cannot end up in a result, a log record or an exception.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceless.core.digest import sha256_file
from faceless.core.errors import AnalysisError, ModelError
from faceless.detect.base import ModelCard
from faceless.detect.boxes import tile_starts
from faceless.detect.onnx import (
    PRECISIONS,
    Session,
    ShapedSessions,
    gpu_bucket,
    load_model_bytes,
    make_session,
    package_file,
)

RAPIDOCR = "rapidocr_onnxruntime"
DET_FILE = "models/ch_PP-OCRv4_det_infer.onnx"
REC_FILE = "models/ch_PP-OCRv4_rec_infer.onnx"
DET_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
REC_SHA256 = "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
DET_CARD = ModelCard(
    name="PP-OCRv4 text detection (ch, mobile)",
    sha256=DET_SHA256,
    licence="Apache-2.0",
    source=f"package data of the `rapidocr-onnxruntime` wheel ({RAPIDOCR}/{DET_FILE})",
)
# The default detection network: the same weights with the graph's scalar nodes folded into
# its convolutions, and the neck (but for its input convolutions) and the DB head int8
# (tools/quantize_ppocr_det.py): less CPU for the same plate recall (docs/decisions).
DET_INT8_FILE = "ppocr-det-int8.onnx"
DET_INT8_SHA256 = "db5f8d92c71db1bf713e90acccd16171bd9e538c95bd79cc25a3a7358d4d299d"
DET_INT8_CARD = ModelCard(
    name="PP-OCRv4 text detection (ch, mobile), neck and head int8",
    sha256=DET_INT8_SHA256,
    licence="Apache-2.0",
    source=f"faceless/models/{DET_INT8_FILE}, folded and partly quantized by "
           "tools/quantize_ppocr_det.py from the `rapidocr-onnxruntime` wheel's detection model",
)
REC_CARD = ModelCard(
    name="PP-OCRv4 text recognition (ch, mobile)",
    sha256=REC_SHA256,
    licence="Apache-2.0",
    source=f"package data of the `rapidocr-onnxruntime` wheel ({RAPIDOCR}/{REC_FILE})",
)
STRIDE = 32  # the detection network downsamples by 32
REC_HEIGHT = 48  # the recognition network reads 48-px-high lines
REC_MIN_WIDTH = 128  # narrower lines are padded to this (rapidocr: 320; same reads, faster)
REC_BATCH = 8


def user_card(path: Path) -> ModelCard:
    return ModelCard(path.stem, sha256_file(path), "unknown (user-supplied)", str(path))


def _load(model_path: Path | None, package: str, name: str, sha256: str) -> bytes:
    if model_path is None:
        return load_model_bytes(package_file(package, name), sha256)
    return load_model_bytes(model_path, None)


def to_blob(rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """An RGB uint8 (H, W, 3) image as PP-OCR's (3, H, W) float32 input: BGR, (x/255-.5)/.5.

    Written into `out` (a (3, H, W) float32 view, e.g. part of a padded batch) when given.
    One channel at a time, in place: the same values as converting the whole image and then
    scaling it, without the whole-frame temporaries, which cost far more CPU than the
    arithmetic.
    """
    h, w = rgb.shape[:2]
    if out is None:
        out = np.empty((3, h, w), np.float32)
    for c in range(3):
        np.multiply(rgb[:, :, 2 - c], np.float32(1 / 127.5), out=out[c], dtype=np.float32)
        out[c] -= np.float32(1.0)
    return out


# --------------------------------------------------------------------------- detection


@dataclass(frozen=True)
class TextBoxes:
    """Rotated text rectangles in image pixels: corners (N, 4, 2) and DB scores (N,)."""

    quads: np.ndarray
    score: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "quads",
                           np.asarray(self.quads, np.float32).reshape(-1, 4, 2))
        object.__setattr__(self, "score", np.asarray(self.score, np.float32).reshape(-1))

    @classmethod
    def empty(cls) -> TextBoxes:
        return cls(np.zeros((0, 4, 2), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.score)

    def xyxy(self) -> np.ndarray:
        """Axis-aligned boxes around the rotated rectangles, (N, 4) float32."""
        if not len(self):
            return np.zeros((0, 4), np.float32)
        return np.concatenate([self.quads.min(axis=1), self.quads.max(axis=1)], axis=1)

    def select(self, keep: np.ndarray) -> TextBoxes:
        return TextBoxes(self.quads[keep], self.score[keep])

    @staticmethod
    def concat(parts: list[TextBoxes]) -> TextBoxes:
        if not parts:
            return TextBoxes.empty()
        return TextBoxes(np.concatenate([p.quads for p in parts]),
                         np.concatenate([p.score for p in parts]))


def tile_size(length: int, tile: int, overlap: int) -> int:
    """The smallest window (a multiple of the stride, at most `tile`) that covers [0, length)
    in as few windows as `tile` would, with at least `overlap` px between neighbours.

    PP-OCRv4's backbone scales its channels by globally pooled features, so what a window
    holds decides what it finds: in a large window, sky and road dominate the pooled
    statistics, and a plate that a smaller window shows clearly can stay below threshold.
    Windows of about `tile` px keep that context local; shrinking them to the length needed
    keeps the extra cost of the overlap small (1080p: two 1088-px windows).
    """
    if length <= tile:
        return length
    n = math.ceil((length - overlap) / (tile - overlap))
    need = math.ceil((length + (n - 1) * overlap) / n)
    return min(tile, -(-need // STRIDE) * STRIDE)


def db_boxes(prob: np.ndarray, threshold: float, box_threshold: float, unclip_ratio: float,
             min_size: float = 3.0, max_candidates: int = 1000) -> TextBoxes:
    """DB post-processing: probability map (H, W) to rotated, unclipped text rectangles.

    As in PaddleOCR: binarize at `threshold`, dilate by 2x2, take each connected region's
    minimum-area rectangle, score it by the mean probability inside, and drop it below
    `box_threshold`. DB predicts a shrunk text kernel; it is grown back ("unclipped") by
    distance = area * unclip_ratio / perimeter on every side. PaddleOCR offsets the polygon
    with pyclipper; for a rectangle that is the same rectangle grown by that distance (with
    rounded corners, which the axis-aligned box covers anyway).
    """
    mask = cv2.dilate((prob > threshold).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if len(contours) > max_candidates:  # keep the largest regions, not the first found
        contours = sorted(contours, key=cv2.contourArea, reverse=True)[:max_candidates]
    h, w = prob.shape
    quads, scores = [], []
    for contour in contours:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < min_size:
            continue
        corners = cv2.boxPoints(((cx, cy), (rw, rh), angle))
        x1, y1 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [w - 1, h - 1])
        x2, y2 = np.clip(np.ceil(corners.max(axis=0)).astype(int), 0, [w - 1, h - 1])
        inside = np.zeros((y2 - y1 + 1, x2 - x1 + 1), np.uint8)
        cv2.fillPoly(inside, [np.round(corners - [x1, y1]).astype(np.int32)], 1)
        score = cv2.mean(prob[y1:y2 + 1, x1:x2 + 1], inside)[0]
        if score < box_threshold:
            continue
        d = rw * rh * unclip_ratio / (2 * (rw + rh))
        if min(rw, rh) + 2 * d < min_size + 2:
            continue
        quads.append(cv2.boxPoints(((cx, cy), (rw + 2 * d, rh + 2 * d), angle)))
        scores.append(score)
    if not quads:
        return TextBoxes.empty()
    return TextBoxes(np.stack(quads), np.asarray(scores))


class _LazyModel:
    """A shipped (or user-given) ONNX model, checked and loaded once on first use."""

    package: str = RAPIDOCR
    fixed_height = False  # the network reads inputs of one height (on CUDA: ShapedSessions)
    file: str
    sha256: str
    default_card: ModelCard

    def __init__(self, model_path: Path | None = None, threads: int | None = None) -> None:
        self.model_path = model_path
        self.threads = threads
        self._session: Session | None = None
        self._lock = threading.Lock()

    @property
    def card(self) -> ModelCard:
        return self.default_card if self.model_path is None else user_card(self.model_path)

    def setup(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            model = _load(self.model_path, self.package, self.file, self.sha256)
            session = make_session(model, self.threads)
            self._prepare(session)
            keep = (lambda h: h) if self.fixed_height else gpu_bucket
            self._sessions = ShapedSessions(session, model, self.threads, heights=keep)
            self._session = session

    def _prepare(self, session: Session) -> None:
        """Check the graph's shape and read what inference needs; raise ModelError if wrong."""
        raise NotImplementedError


class TextModel(_LazyModel):
    """The PP-OCRv4 detection network: an image in, a text probability map out."""

    file, sha256, default_card = DET_FILE, DET_SHA256, DET_CARD

    def __init__(self, model_path: Path | None = None, threads: int | None = None,
                 precision: str = "int8") -> None:
        super().__init__(model_path, threads)
        if precision not in PRECISIONS:
            raise ModelError(f"text model precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {precision!r}")
        if precision == "int8":
            self.package, self.file = "faceless.models", DET_INT8_FILE
            self.sha256, self.default_card = DET_INT8_SHA256, DET_INT8_CARD

    def _prepare(self, session: Session) -> None:
        inputs = session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError("not a PP-OCR-shaped text detection graph: expected one "
                             f"NCHW input, got {[i.shape for i in inputs]}")
        self._input = inputs[0].name

    def probability(self, rgb: np.ndarray, tile: int, overlap: int) -> np.ndarray:
        """Text probability (H, W) float32 of an RGB image, tiled when larger than `tile`."""
        self.setup()
        h, w = rgb.shape[:2]
        if h <= tile and w <= tile:
            return self._run(rgb)
        th, tw = tile_size(h, tile, overlap), tile_size(w, tile, overlap)
        out = np.zeros((h, w), np.float32)
        for y in tile_starts(h, th, overlap):
            for x in tile_starts(w, tw, overlap):
                part = self._run(rgb[y:y + th, x:x + tw])
                view = out[y:y + part.shape[0], x:x + part.shape[1]]
                np.maximum(view, part, out=view)
        return out

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        # Pad bottom/right to the stride (mid-grey once normalised) instead of resizing.
        ph, pw = max(STRIDE, -(-h // STRIDE) * STRIDE), max(STRIDE, -(-w // STRIDE) * STRIDE)
        try:
            session, ph, pw = self._sessions.fit(ph, pw)  # larger on CUDA: ShapedSessions
            blob = np.zeros((1, 3, ph, pw), np.float32)
            to_blob(rgb, blob[0, :, :h, :w])
            (pred,) = session.run(None, {self._input: blob})[:1]
        except Exception as err:  # ORT's own error types; the item must fail closed
            raise AnalysisError(f"text detector failed on a {w}x{h} input: {err}") from err
        return np.asarray(pred, np.float32).reshape(ph, pw)[:h, :w]


# --------------------------------------------------------------------------- recognition


def order_corners(quad: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    q = np.asarray(quad, np.float32).reshape(4, 2)
    by_x = q[np.argsort(q[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], np.float32)


def crop_line(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The text line under a rotated rectangle, warped upright (as rapidocr crops it)."""
    tl, tr, br, bl = order_corners(quad)
    cw = max(1, round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    ch = max(1, round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    dst = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    m = cv2.getPerspectiveTransform(np.array([tl, tr, br, bl]), dst)
    crop = cv2.warpPerspective(rgb, m, (cw, ch), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)
    if ch >= 1.5 * cw:  # a vertical line: read it turned
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


Rule = Callable[[str, float], float]
"""Judges one recognised line: (text, mean character confidence) -> a number."""


class Recognizer(_LazyModel):
    """The PP-OCRv4 recognition network, whose output never leaves this class as text."""

    file, sha256, default_card = REC_FILE, REC_SHA256, REC_CARD
    fixed_height = True

    def _prepare(self, session: Session) -> None:
        meta = session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ModelError("the recognition model carries no character list in its "
                             "metadata (key 'character')")
        # CTC class 0 is the blank; the dictionary follows; PaddleOCR appends a space.
        self._chars = ["", *meta["character"].splitlines(), " "]
        self._input = session.get_inputs()[0].name

    def judge(self, rgb: np.ndarray, quads: np.ndarray, rule: Rule) -> np.ndarray:
        """rule(text, confidence) for the line under each quad; only the numbers come back."""
        self.setup()
        lines = [crop_line(rgb, q) for q in np.asarray(quads).reshape(-1, 4, 2)]
        out = np.zeros(len(lines), np.float32)
        for idx, logits in self._batches(lines):
            for i, row in zip(idx, logits, strict=True):
                out[i] = rule(*self._decode(row))
        return out

    def _batches(self, lines: list[np.ndarray]) -> Iterator[tuple[list[int], np.ndarray]]:
        ratios = [ln.shape[1] / ln.shape[0] for ln in lines]
        order = np.argsort(ratios, kind="stable")  # similar widths batch with little padding
        for start in range(0, len(order), REC_BATCH):
            idx = [int(i) for i in order[start:start + REC_BATCH]]
            width = max(REC_MIN_WIDTH, max(math.ceil(REC_HEIGHT * ratios[i]) for i in idx))
            try:
                # On CUDA the width is rounded up to its bucket and the batch filled up to
                # REC_BATCH with blank lines, so the session sees few shapes (ShapedSessions);
                # the extra width is the same mid-grey padding that shorter lines get here.
                session, _, width = self._sessions.fit(REC_HEIGHT, width)
                rows = REC_BATCH if self._sessions.gpu else len(idx)
                blob = np.zeros((rows, 3, REC_HEIGHT, width), np.float32)
                for k, i in enumerate(idx):
                    rw = min(width, max(1, math.ceil(REC_HEIGHT * ratios[i])))
                    to_blob(cv2.resize(lines[i], (rw, REC_HEIGHT)), blob[k, :, :, :rw])
                (pred,) = session.run(None, {self._input: blob})[:1]
            except Exception as err:  # never echo anything about the content
                raise AnalysisError(f"text recogniser failed on a batch of {len(idx)} "
                                    f"lines: {type(err).__name__}") from None
            yield idx, np.asarray(pred)[:len(idx)]

    def _decode(self, logits: np.ndarray) -> tuple[str, float]:
        """Greedy CTC: best class per step, repeats merged, blanks dropped."""
        best = logits.argmax(axis=1)
        prob = logits.max(axis=1)
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        chars = [self._chars[c] if c < len(self._chars) else "" for c in best[keep]]
        conf = float(prob[keep].mean()) if keep.any() else 0.0
        return "".join(chars), conf
