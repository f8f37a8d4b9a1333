"""Visual hold: follow one track's own look from frame to frame while its detector is silent.

When a confirmed face track loses its detections (the person turns away, a hand covers the
face, blur or a small size defeats the detector), the head is usually still there and still
looks like it did a frame ago. The hold cuts a small grey patch at the track's box in one
frame and finds the most similar place near the motion-predicted box in the next frame
(normalised cross-correlation, `cv2.matchTemplate`). While that match stays strong the track
adds a region there; it stops after a bounded number of frames or at the first weak match.

This is tracking of one object over a few seconds, never identification: the only thing kept
is the latest patch of each live track (replaced every frame, dropped with the track), there
are no face descriptors, and nothing is compared across tracks, people, videos or runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from faceless.core.geometry import scale_box
from faceless.core.types import Box

MIN_SIDE = 6  # px: a patch smaller than this matches noise as well as the object
MIN_STD = 4.0  # grey levels: a flat patch (a wall, the sky) matches anywhere
# Larger patches are matched scaled down to this side: the cost of a match grows with the
# patch times the window, so a large face would otherwise cost far more than a small one.
MAX_SIDE = 64


@dataclass
class Patch:
    """A track's look in one frame: the grey pixels inside its box (clipped to the frame)."""

    pixels: npt.NDArray[np.float32]  # grey, scaled by `scale`
    box: Box  # the track's full box in that frame (may reach outside the frame)
    x: int  # top-left corner of the patch in the frame
    y: int
    scale: float = 1.0  # of `pixels` relative to the frame (<= 1)


def _grey(image: npt.NDArray[np.uint8], size: tuple[int, int] | None = None
          ) -> npt.NDArray[np.float32]:
    """Float grey pixels, resized to `size` (w, h) first when given (cheaper on uint8)."""
    src: cv2.typing.MatLike = image
    if size is not None and size != (image.shape[1], image.shape[0]):
        src = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY) if src.ndim == 3 else src
    return grey.astype(np.float32)


def _flat(grey: npt.NDArray[np.float32]) -> bool:
    """Whether the pixels' standard deviation (numpy's, in float32) is below MIN_STD."""
    # OpenCV's is far cheaper and differs from numpy's only in the last digits: numpy's
    # decides only where the two could fall on different sides of the threshold.
    std = float(cv2.meanStdDev(grey)[1][0, 0])
    if abs(std - MIN_STD) > 1e-3:
        return std < MIN_STD
    return float(grey.std()) < MIN_STD


def _clip(box: Box, w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return (int(max(0, round(x1))), int(max(0, round(y1))),
            int(min(w, round(x2))), int(min(h, round(y2))))


def cut(image: npt.NDArray[np.uint8], box: Box, core: float = 1.0) -> Patch | None:
    """The patch inside the central `core` share of `box` (each side) of an RGB (or grey)
    frame; None when too small or too flat.

    A head-sized box holds background at its corners; a static background there would keep
    matching where the head was after the head has moved on, so the core is what is matched.
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = _clip(scale_box(box, core), w, h)
    if x2 - x1 < MIN_SIDE or y2 - y1 < MIN_SIDE:
        return None
    scale = min(1.0, MAX_SIDE / max(x2 - x1, y2 - y1))
    pixels = _grey(image[y1:y2, x1:x2], (max(MIN_SIDE, round((x2 - x1) * scale)),
                                          max(MIN_SIDE, round((y2 - y1) * scale))))
    if _flat(pixels):
        return None
    return Patch(pixels, box, x1, y1, scale)


def follow(image: npt.NDArray[np.uint8], patch: Patch, predicted: Box, reach: float
           ) -> tuple[Box, float] | None:
    """Where `patch` is in `image` near `predicted`, and how well it matches there.

    The patch is searched within `reach` px of where it would lie if it moved with the
    predicted box. Returns the track's full box moved by the match's displacement and the
    normalised cross-correlation (-1..1), or None when the window leaves the frame.
    """
    h, w = image.shape[:2]
    s = patch.scale
    ph, pw = (round(v / s) for v in patch.pixels.shape)  # the patch's size in the frame
    # Where the patch would be if it moved exactly as predicted.
    dx = (predicted[0] + predicted[2] - patch.box[0] - patch.box[2]) / 2
    dy = (predicted[1] + predicted[3] - patch.box[1] - patch.box[3]) / 2
    ex, ey = patch.x + dx, patch.y + dy
    r = int(np.ceil(max(reach, 2.0)))
    x1, y1 = int(max(0, np.floor(ex) - r)), int(max(0, np.floor(ey) - r))
    x2, y2 = int(min(w, np.ceil(ex) + pw + r)), int(min(h, np.ceil(ey) + ph + r))
    if x2 - x1 < pw or y2 - y1 < ph:
        return None
    window = _grey(image[y1:y2, x1:x2], (max(patch.pixels.shape[1], round((x2 - x1) * s)),
                                         max(patch.pixels.shape[0], round((y2 - y1) * s))))
    if _flat(window):
        return None
    res = cv2.matchTemplate(window, patch.pixels, cv2.TM_CCOEFF_NORMED)
    res[~np.isfinite(res)] = -1.0
    _, best, _, (mx, my) = cv2.minMaxLoc(res)
    ox, oy = mx / s + x1 - patch.x, my / s + y1 - patch.y  # displacement of the patch
    b = patch.box
    return (b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy), float(best)
