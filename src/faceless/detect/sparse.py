"""Video plate and text search between full searches: closer looks around the tracked ones.

A plate search runs the text network over the whole frame, the costliest step of a video's
analysis, so video frames get it only every `text_every`-th frame and tracking carries plates
between. A plate
the detector finds on some frames and misses on others is then found less often, and a track
that misses a few searches ends. Between full searches, a **closer look** runs the same
detector on a crop around each plate (or text) that tracking expects, at the full search's
own scale (so a plate is judged at the size it has there), for a few per cent of the pixels.

A detection that touches a crop's inner edge is dropped: it may be part of a plate cut by the
crop, and the tracker would take the part for the plate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from faceless.core.errors import ConfigError
from faceless.core.types import Detections, Kind
from faceless.detect.boxes import NESTED, merge_union


@dataclass(frozen=True)
class SparseOptions:
    """How often plates and text get closer looks between full searches, and how wide."""

    # A closer look on every Nth frame not fully searched (0: never). Every 2nd frame leaks
    # about as little as every frame, for much less CPU, and less than full searches more
    # often without looks, at less CPU too (docs/decisions).
    every: int = 2
    # The crop reaches this many box widths left and right, and box heights above and below:
    # wider crops cost CPU for no fewer leaks, narrower ones cut the plates off
    # (docs/decisions).
    context_x: float = 0.75
    context_y: float = 1.0
    min_crop: int = 96  # px of a crop's side at least
    max_looks: int = 8  # crops per frame at most (after merging overlapping ones)
    # Crops per frame cover at most this share of the frame's pixels (the largest first), so
    # a frame full of tracked signs cannot cost more than about half a full search (looks on
    # 5 frames of 6 and the search on the 6th: at most 1.5x the text network's pixels of a
    # search on every 3rd frame). A tighter bound drops the merged crop of two nearby plates,
    # which costs recall and saves little CPU (docs/decisions).
    max_share: float = 0.4
    edge: float = 2.0  # px: a box this close to a crop's inner edge is dropped

    def __post_init__(self) -> None:
        if not 0 <= self.every <= 60:
            raise ConfigError(f"every must lie in [0, 60] frames, got {self.every}")
        for name in ("context_x", "context_y"):
            if not 0.0 <= getattr(self, name) <= 10.0:
                raise ConfigError(f"{name} must lie in [0, 10], got {getattr(self, name)}")
        if self.min_crop < 32 or self.max_looks < 1 or self.edge < 0:
            raise ConfigError("min_crop must be >= 32, max_looks >= 1 and edge >= 0")
        if not 0.0 < self.max_share <= 1.0:
            raise ConfigError(f"max_share must lie in (0, 1], got {self.max_share}")


def crops(expected: np.ndarray, width: int, height: int,
          options: SparseOptions) -> list[tuple[int, int, int, int]]:
    """Integer crops (x1, y1, x2, y2) inside the frame around the expected boxes.

    Crops that overlap are merged into one (a detector sees each plate once); the largest
    come first, up to `max_looks` crops and `max_share` of the frame's pixels (a crop that
    would pass the budget is left out, smaller ones after it may still fit).
    """
    o = options
    rects = []
    for x1, y1, x2, y2 in np.asarray(expected, np.float64).reshape(-1, 4):
        bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half_w = max(bw * (0.5 + o.context_x), o.min_crop / 2)
        half_h = max(bh * (0.5 + o.context_y), o.min_crop / 2)
        r = [max(0, int(cx - half_w)), max(0, int(cy - half_h)),
             min(width, int(np.ceil(cx + half_w))), min(height, int(np.ceil(cy + half_h)))]
        if r[2] > r[0] and r[3] > r[1]:
            rects.append(r)
    merged = True
    while merged:  # few boxes a frame: a plain fixed-point merge is enough
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    rects[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]),
                                max(a[3], b[3])]
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    rects.sort(key=lambda r: -(r[2] - r[0]) * (r[3] - r[1]))
    out: list[tuple[int, int, int, int]] = []
    budget = o.max_share * width * height
    for x1, y1, x2, y2 in rects:
        area = (x2 - x1) * (y2 - y1)
        if len(out) < o.max_looks and area <= budget:
            out.append((x1, y1, x2, y2))
            budget -= area
    return out


class _Detect(Protocol):
    """A detector's `detect` that takes the scales of its passes (ScaledDetector.detect)."""

    def __call__(self, image: np.ndarray, /, *, passes: Sequence[float]) -> Detections: ...


def closer_looks(detect: _Detect, image: np.ndarray, expected: np.ndarray, kind: Kind,
                 passes: Sequence[float], options: SparseOptions) -> Detections:
    """Run `detect(crop, passes=passes)` on a crop around each expected box; boxes in image px.

    `passes`: the scales of the detector's passes, as on the whole frame (its main pass):
    a crop must not be upscaled for being small.
    """
    h, w = image.shape[:2]
    boxes, scores = [], []
    for x1, y1, x2, y2 in crops(expected, w, h, options):
        found = detect(image[y1:y2, x1:x2], passes=passes)
        if not len(found):
            continue
        b = found.xyxy.astype(np.float64) + np.array([x1, y1, x1, y1], np.float64)
        e = options.edge
        inner = ((x1 > 0) & (b[:, 0] <= x1 + e)) | ((y1 > 0) & (b[:, 1] <= y1 + e)) \
            | ((x2 < w) & (b[:, 2] >= x2 - e)) | ((y2 < h) & (b[:, 3] >= y2 - e))
        boxes.append(b[~inner])
        scores.append(found.score[~inner])
    if not boxes or not sum(len(s) for s in scores):
        return Detections.empty(kind)
    xyxy, score = merge_union(np.concatenate(boxes), np.concatenate(scores), 0.3,
                               contain=NESTED)
    return Detections(xyxy, score, kind)
