"""Pure metrics: box coverage by a redaction mask, over-redaction, leaks, WIDER FACE AP.

The pixel rules follow ../shared/tools/redaction_eval.py so that figures compare: a box's
pixels are [floor(x1), ceil(x2)) x [floor(y1), ceil(y2)) clipped to the frame; over-redaction
is the share of hidden pixels among those outside every labelled box grown by 20% per side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from faceless.core.geometry import iou_matrix, overlaps_any
from faceless.core.types import Box

SIZE_BUCKETS: tuple[tuple[float, float], ...] = ((0, 10), (10, 20), (20, 40), (40, 80),
                                                 (80, math.inf))
# How much each labelled box grows (per side, as a share of its size) before the pixels around
# it stop counting as "outside": a generous mask is not over-redaction.
GROW = 0.2
CHANGE_TOLERANCE = 2  # redaction_eval: a pixel changed when some channel moved by more than 2


def bucket_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}" if math.isfinite(hi) else f"{lo:g}+"


def size_bucket(short_side: float) -> str:
    """Label of the size bucket (short side of the box, in pixels) a box falls in."""
    for lo, hi in SIZE_BUCKETS:
        if lo <= short_side < hi:
            return bucket_label(lo, hi)
    return bucket_label(*SIZE_BUCKETS[0])  # negative sizes: degenerate boxes


def box_span(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Half-open integer pixel span of a labelled box, clipped; None when empty."""
    x1, y1, x2, y2 = box
    ix1, iy1 = max(0, math.floor(x1)), max(0, math.floor(y1))
    ix2, iy2 = min(width, math.ceil(x2)), min(height, math.ceil(y2))
    if ix2 <= ix1 or iy2 <= iy1:
        return None
    return ix1, iy1, ix2, iy2


def coverage(hidden: npt.NDArray[np.bool_], box: Box) -> float | None:
    """Share of the box's pixels that are hidden; None when the box has no pixels."""
    h, w = hidden.shape[:2]
    span = box_span(box, w, h)
    if span is None:
        return None
    x1, y1, x2, y2 = span
    return float(hidden[y1:y2, x1:x2].mean())


def outside_mask(height: int, width: int, boxes: Iterable[Box], grow: float = GROW
                 ) -> npt.NDArray[np.bool_]:
    """True where a pixel lies away from every labelled box grown by `grow` per side."""
    out = np.ones((height, width), bool)
    for x1, y1, x2, y2 in boxes:
        bw, bh = x2 - x1, y2 - y1
        gx1, gy1 = int(max(0, x1 - grow * bw)), int(max(0, y1 - grow * bh))
        gx2, gy2 = int(min(width, x2 + grow * bw + 1)), int(min(height, y2 + grow * bh + 1))
        if gx2 > gx1 and gy2 > gy1:
            out[gy1:gy2, gx1:gx2] = False
    return out


def over_redaction(hidden: npt.NDArray[np.bool_], outside: npt.NDArray[np.bool_]) -> float:
    """Share of the pixels outside every labelled object that are hidden."""
    return float(hidden[outside].mean()) if outside.any() else 0.0


def changed_pixels(before: npt.NDArray[np.uint8], after: npt.NDArray[np.uint8],
                   tolerance: int = CHANGE_TOLERANCE) -> npt.NDArray[np.bool_]:
    """(H, W) bool: pixels where some channel changed by more than `tolerance` levels."""
    d = np.abs(before.astype(np.int16) - after.astype(np.int16))
    return d.max(axis=2) > tolerance if d.ndim == 3 else d > tolerance


def false_regions(regions: Iterable[Box], labelled: Sequence[Box]) -> int:
    """How many regions overlap no labelled object at all."""
    return sum(1 for r in regions if not overlaps_any(r, labelled))


def recall(flags: Iterable[bool]) -> float | None:
    """Share of True; None for no objects."""
    f = list(flags)
    return sum(f) / len(f) if f else None


def recall_by_size(objects: Iterable[tuple[float, bool]]
                   ) -> dict[str, dict[str, float | None]]:
    """{bucket: {"n": count, "recall": share hidden}} from (short side, hidden) pairs."""
    per: dict[str, list[bool]] = {bucket_label(lo, hi): [] for lo, hi in SIZE_BUCKETS}
    for side, ok in objects:
        per[size_bucket(side)].append(ok)
    return {k: {"n": len(v), "recall": (sum(v) / len(v)) if v else None}
            for k, v in per.items()}


def longest_run(frames: Sequence[int], leaked: Sequence[bool]) -> tuple[int, int | None]:
    """Longest run of consecutive frame indices that all leaked: (length, first frame).

    A gap in the frame indices (the object was not labelled there) ends a run.
    """
    best, best_start, cur, start, prev = 0, None, 0, None, None
    for f, bad in sorted(zip(frames, leaked, strict=True)):
        if bad and cur and prev is not None and f == prev + 1:
            cur += 1
        elif bad:
            cur, start = 1, f
        else:
            cur = 0
        if cur > best:
            best, best_start = cur, start
        prev = f
    return best, best_start


# --------------------------------------------------------------------------- WIDER FACE AP


def _voc_ap(rec: npt.NDArray[np.float64], prec: npt.NDArray[np.float64]) -> float:
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def wider_ap(preds: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]],
             gts: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]], iou: float = 0.5,
             thresh_num: int = 1000) -> tuple[float, npt.NDArray[np.float64]]:
    """Average precision under the official WIDER FACE protocol.

    preds: per image (xyxy (N, 4), score (N,)); gts: per image (xyxy (M, 4), counted (M,)
    bool: in the subset). As in the official code: scores are normalised to [0, 1] over the
    whole set; each prediction is matched to its best-overlapping face (IoU >= `iou`); a match
    to a face outside the subset is neither a hit nor a proposal; precision is taken at 1000
    score thresholds. Returns (AP, curve of (precision, recall) per threshold).
    """
    scores = [np.asarray(s, np.float64).reshape(-1) for _, s in preds]
    allsc = np.concatenate(scores) if scores else np.zeros(0)
    lo, hi = (float(allsc.min()), float(allsc.max())) if allsc.size else (0.0, 1.0)
    pr = np.zeros((thresh_num, 2))
    thresholds = 1.0 - (np.arange(thresh_num) + 1) / thresh_num
    count = 0
    for (boxes, _), sc, (gbox, counted) in zip(preds, scores, gts, strict=True):
        counted = np.asarray(counted, bool).reshape(-1)
        count += int(counted.sum())
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        gbox = np.asarray(gbox, np.float64).reshape(-1, 4)
        if len(gbox) == 0 or len(boxes) == 0:
            continue
        norm = (sc - lo) / (hi - lo) if hi > lo else np.ones_like(sc)
        order = np.argsort(-norm, kind="stable")
        boxes, norm = boxes[order], norm[order]
        ov = iou_matrix(boxes, gbox, pad=1.0)  # the official +1 pixel box_overlaps
        recalled = np.zeros(len(gbox))
        proposal = np.ones(len(boxes))
        pred_recall = np.zeros(len(boxes))
        for h in range(len(boxes)):
            j = int(ov[h].argmax())
            if ov[h, j] >= iou:
                if not counted[j]:
                    recalled[j] = -1
                    proposal[h] = -1
                elif recalled[j] == 0:
                    recalled[j] = 1
            pred_recall[h] = np.count_nonzero(recalled == 1)
        # Scores are sorted high to low: the predictions at or above a threshold are a prefix.
        n_above = np.searchsorted(-norm, -thresholds, side="right")
        good = np.cumsum(proposal == 1)
        have = n_above > 0
        pr[have, 0] += good[n_above[have] - 1]
        pr[have, 1] += pred_recall[n_above[have] - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(pr[:, 0] > 0, pr[:, 1] / np.maximum(pr[:, 0], 1), 0.0)
    rec = pr[:, 1] / count if count else np.zeros(thresh_num)
    return _voc_ap(rec, prec), np.stack([prec, rec], axis=1)


__all__ = [
    "SIZE_BUCKETS",
    "box_span",
    "bucket_label",
    "changed_pixels",
    "coverage",
    "false_regions",
    "longest_run",
    "outside_mask",
    "over_redaction",
    "overlaps_any",
    "recall",
    "recall_by_size",
    "size_bucket",
    "wider_ap",
]
