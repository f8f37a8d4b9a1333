"""Box helpers the detectors share: tiling a large pass, and merging the boxes of passes.

For hiding, the boxes that suppression would throw away are evidence of where an object is,
so merges keep their extent (recall first).
"""

from __future__ import annotations

import numpy as np

from faceless.core.geometry import intersection_matrix, iou_matrix
from faceless.core.geometry import nms as geometry_nms

NESTED = 0.8
"""Text and plate merges: a box with this share of its area inside another is part of it."""


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the fewest windows of `tile` px that cover [0, length) while
    neighbours overlap by at least `overlap` px: the first starts at 0, the last ends at
    `length`, the rest are spread evenly between."""
    if length <= tile:
        return [0]
    n = -(-(length - overlap) // (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def overlap_links(boxes: np.ndarray, iou: float, contain: float = 1.0,
                  first_only: bool = False) -> np.ndarray:
    """(N, N) bool: pairs that are one object, IoU above `iou`, or (when `contain` < 1) with
    more than `contain` of the smaller box's area inside the other. `first_only`: only the
    first box against all, (1, N)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    a = boxes[:1] if first_only else boxes
    link: np.ndarray = iou_matrix(a, boxes) > iou
    if contain < 1.0:
        inter = intersection_matrix(a, boxes)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        area_a = area[:1] if first_only else area
        smaller = np.minimum(area_a[:, None], area[None, :])
        link |= inter > contain * np.maximum(smaller, 1e-12)
    return link


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float, contain: float = 1.0) -> np.ndarray:
    """Greedy NMS (best score first) that also suppresses boxes mostly inside a kept one when
    `contain` < 1 (see overlap_links); with contain 1.0 it is geometry.nms itself."""
    if contain >= 1.0:
        return geometry_nms(xyxy, scores, iou)
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        link = overlap_links(np.concatenate([boxes[i:i + 1], boxes[rest]]), iou, contain,
                             first_only=True)
        order = rest[~link[0, 1:]]
    return np.asarray(keep, dtype=np.int64)


def merge_union(xyxy: np.ndarray, score: np.ndarray, iou: float,
                contain: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Greedy NMS that replaces each kept box by the union of the boxes it suppresses.

    Groups are linked as in overlap_links (IoU above `iou`, or mostly inside another when
    `contain` < 1); each becomes the union of its boxes with its best score, float32.
    """
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    score = np.asarray(score, np.float32).reshape(-1)
    if not len(score):
        return xyxy.astype(np.float32), score
    order = np.argsort(-score, kind="stable")
    boxes, scores = xyxy[order], score[order]
    link = overlap_links(boxes, iou, contain)
    alive = np.ones(len(boxes), bool)
    out_b, out_s = [], []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        group = alive & link[i]
        group[i] = True
        alive &= ~group
        g = boxes[group]
        out_b.append([g[:, 0].min(), g[:, 1].min(), g[:, 2].max(), g[:, 3].max()])
        out_s.append(scores[i])
    return np.asarray(out_b, np.float32), np.asarray(out_s, np.float32)
