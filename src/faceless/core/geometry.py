"""Box geometry: scaling, clipping to half-open pixel ranges, overlap, IoU and NMS."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from faceless.core.types import Box


def scale_box(box: Box, factor: float) -> Box:
    """Grow (or shrink) a box about its centre by `factor` in each dimension."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    hw, hh = (x2 - x1) * factor / 2, (y2 - y1) * factor / 2
    return (cx - hw, cy - hh, cx + hw, cy + hh)


def pixel_span(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer half-open span [x1, x2) x [y1, y2) of every pixel the box touches, clipped.

    Rounds outward (floor / ceil) so a region never leaves a touched pixel untouched, and keeps
    at least one pixel for a degenerate box that lies inside the frame. None when off-frame.
    """
    x1, y1, x2, y2 = box
    if x2 < x1:
        x1, x2 = x2, x1
    if y2 < y1:
        y1, y2 = y2, y1
    ix1, iy1 = math.floor(x1), math.floor(y1)
    ix2, iy2 = max(math.ceil(x2), ix1 + 1), max(math.ceil(y2), iy1 + 1)
    ix1, iy1 = max(ix1, 0), max(iy1, 0)
    ix2, iy2 = min(ix2, width), min(iy2, height)
    if ix2 <= ix1 or iy2 <= iy1:
        return None
    return ix1, iy1, ix2, iy2


def _areas(boxes: npt.NDArray[np.float64], pad: float = 0.0) -> npt.NDArray[np.float64]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    if pad:
        w, h = w + pad, h + pad
    area: npt.NDArray[np.float64] = w * h
    return area


def intersection_matrix(a: npt.ArrayLike, b: npt.ArrayLike, pad: float = 0.0
                        ) -> npt.NDArray[np.float64]:
    """Pairwise intersection areas of (N, 4) and (M, 4) xyxy arrays, (N, M) float64.

    `pad` is added to each side's extent: 1 gives the inclusive-pixel convention
    (x2 - x1 + 1) that the official WIDER FACE evaluation uses.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    return _intersections(a, b, pad)


def _intersections(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], pad: float
                   ) -> npt.NDArray[np.float64]:
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    if pad:
        iw, ih = iw + pad, ih + pad
    inter: npt.NDArray[np.float64] = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    return inter


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike, pad: float = 0.0) -> npt.NDArray[np.float64]:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy arrays (`pad`: see intersection_matrix)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = _intersections(a, b, pad)
    union = _areas(a, pad)[:, None] + _areas(b, pad)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def inside_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, M): the share of each box of `a`'s area that lies inside each box of `b`."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    share: npt.NDArray[np.float64] = (_intersections(a, b, 0.0)
                                      / np.maximum(_areas(a), 1e-9)[:, None])
    return share


def overlaps_any(box: Box, others: Sequence[Box]) -> bool:
    """Whether the box shares a positive area with any of the others."""
    x1, y1, x2, y2 = box
    return any(min(x2, a2) > max(x1, a1) and min(y2, b2) > max(y1, b1)
               for a1, b1, a2, b2 in others)


def nms(xyxy: npt.ArrayLike, scores: npt.ArrayLike, iou: float) -> npt.NDArray[np.int64]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    # Columns in score order, each kept box against the boxes still alive: the arithmetic of
    # iou_matrix (so the same IoU to the last bit) without its per-call set-up.
    x1, y1, x2, y2 = np.asarray(xyxy, np.float64).reshape(-1, 4)[order].T.copy()
    area = (x2 - x1) * (y2 - y1)
    keep: list[int] = []
    alive = np.arange(len(order))
    while alive.size:
        i, rest = alive[0], alive[1:]
        keep.append(int(order[i]))
        iw = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        ih = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
        union = area[i] + area[rest] - inter
        ious = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        alive = rest[ious < iou]
    return np.asarray(keep, dtype=np.int64)
