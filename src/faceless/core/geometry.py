"""Box geometry: scaling, clipping to half-open pixel ranges, IoU and merging."""

from __future__ import annotations

import math

import numpy as np

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


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def intersection_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas of (N, 4) and (M, 4) xyxy arrays, (N, M) float64."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy arrays."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = intersection_matrix(a, b)
    union = _areas(a)[:, None] + _areas(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def inside_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M): the share of each box of `a`'s area that lies inside each box of `b`."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    return intersection_matrix(a, b) / np.maximum(_areas(a), 1e-9)[:, None]


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        ious = iou_matrix(boxes[i : i + 1], boxes[order[1:]])[0]
        order = order[1:][ious < iou]
    return np.asarray(keep, dtype=np.int64)
