"""Closer face looks at the heads of people found: small faces in video ride on people.

Between a video's full-resolution face looks, a face too small for the low-resolution pass
is found only where tracking already expects it. A person is found at sizes where their face
is not, so where the person detector runs, the head region of each person found gets a
closer look of its own: the face detector on a crop around the head, at a scale that makes
a head-sized face about `closer_face` px. What it finds joins the frame's face search as any
other pass does (confident faces and candidates), and tracking carries it on from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from faceless.core.errors import ConfigError
from faceless.core.geometry import inside_matrix
from faceless.detect.persons import PersonDetector


class ScalePass(Protocol):
    """A face detector that runs one pass at a given scale (CenterFaceDetector.detect_at)."""

    def detect_at(self, image: np.ndarray, scale: float,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]: ...


class GuidePersons(PersonDetector):
    """A person search whose people are never hidden: they only guide the face looks at
    their heads (`PersonOptions.guide`)."""

    guide_only = True


@dataclass(frozen=True)
class HeadLookOptions:
    """Where and how closely a person's head is searched for a face."""

    max_looks: int = 16  # looks per frame at most, the people with the smallest heads first
    face: float = 0.4  # a face is about this share of its person box's width
    closer_face: float = 64.0  # the crop is scaled so that such a face is about this big
    max_scale: float = 4.0
    # Only where the look sees the face at least this many times larger than a frame's own
    # full-resolution pass: a larger face is found by the face search itself.
    min_gain: float = 1.5
    context: float = 0.25  # the crop reaches this share of the box's width beyond the head
    min_crop: int = 96  # px of the crop's side at the detector's input, at least
    found_inside: float = 0.5  # a head holding this share of a confident face needs no look
    edge: float = 2.0  # px: a face this close to a crop's inner edge is cut by it: dropped

    def __post_init__(self) -> None:
        if self.max_looks < 0:
            raise ConfigError(f"max_looks must be >= 0, got {self.max_looks}")
        if not 0.05 <= self.face <= 1.0:
            raise ConfigError(f"face must lie in [0.05, 1] box widths, got {self.face}")
        if not 1.0 <= self.max_scale <= 8.0:
            raise ConfigError(f"max_scale must lie in [1, 8], got {self.max_scale}")


def head_crops(heads: np.ndarray, width: int, height: int,
               options: HeadLookOptions | None = None,
               found: np.ndarray | None = None) -> list[tuple[tuple[int, int, int, int], float]]:
    """(crop x1, y1, x2, y2; scale) of each head region (heads_from_persons) worth a closer
    face look.

    `found`: confident face boxes the frame's own search already has; a head that holds one
    is left out.
    """
    o = options or HeadLookOptions()
    head = np.asarray(heads, np.float64).reshape(-1, 4)
    if not len(head) or not o.max_looks:
        return []
    box_w = head[:, 2] - head[:, 0]  # a head region spans its person box's width
    face = np.maximum(o.face * box_w, 4.0)
    scale = np.clip(o.closer_face / face, 1.0, o.max_scale)
    keep = scale >= o.min_gain
    if found is not None and len(found):
        keep &= inside_matrix(np.asarray(found, np.float64).reshape(-1, 4),
                              head).max(axis=0) < o.found_inside
    out = []
    for i in np.argsort(face, kind="stable"):
        if not keep[i]:
            continue
        pad = o.context * box_w[i]
        x1, y1, x2, y2 = head[i, 0] - pad, head[i, 1] - pad, head[i, 2] + pad, head[i, 3] + pad
        grow = max(0.0, o.min_crop / scale[i] - min(x2 - x1, y2 - y1)) / 2
        cx1, cy1 = int(max(0, np.floor(x1 - grow))), int(max(0, np.floor(y1 - grow)))
        cx2, cy2 = int(min(width, np.ceil(x2 + grow))), int(min(height, np.ceil(y2 + grow)))
        if cx2 - cx1 < 8 or cy2 - cy1 < 8:
            continue
        out.append(((cx1, cy1, cx2, cy2), float(scale[i])))
        if len(out) >= o.max_looks:
            break
    return out


def faces_on_heads(detector: ScalePass, image: np.ndarray, heads: np.ndarray,
                   threshold: float, options: HeadLookOptions | None = None,
                   found: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Face boxes (image pixels) and scores from closer looks at the head regions `heads`
    (detect.heads), down to `threshold`, and the number of looks run."""
    o = options or HeadLookOptions()
    h, w = image.shape[:2]
    boxes, scores = [np.zeros((0, 4), np.float32)], [np.zeros((0,), np.float32)]
    looks = head_crops(heads, w, h, o, found)
    for (x1, y1, x2, y2), scale in looks:
        b, s = detector.detect_at(image[y1:y2, x1:x2], scale, threshold)
        b = np.asarray(b, np.float32).reshape(-1, 4)
        # A face cut by the crop's inner edge would be taken for the whole face.
        cut = (((b[:, 0] <= o.edge) & (x1 > 0)) | ((b[:, 1] <= o.edge) & (y1 > 0))
               | ((b[:, 2] >= x2 - x1 - o.edge) & (x2 < w))
               | ((b[:, 3] >= y2 - y1 - o.edge) & (y2 < h)))
        b, s = b[~cut], np.asarray(s, np.float32)[~cut]
        boxes.append(b + np.array([x1, y1, x1, y1], np.float32))
        scores.append(s)
    return np.concatenate(boxes), np.concatenate(scores), len(looks)
