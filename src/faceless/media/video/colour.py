"""Colour maths: RGB to 8-bit 4:2:0 Y'CbCr with the source's matrix, and PyAV's packed planes."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

Span = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels, exclusive ends


@dataclass(frozen=True)
class _Coding:
    """How an output stream's colours are coded and tagged."""

    colorspace: int
    color_range: int
    color_primaries: int
    color_trc: int
    passthrough: bool  # source planes are encoded as they are, with changed spans patched

    @property
    def matrix(self) -> np.ndarray:
        return _ycbcr_matrix(self.colorspace, self.color_range)


# Frames converted from RGB: BT.709 matrix, limited (tv) range; primaries and transfer untagged.
_BT709 = _Coding(1, 1, 2, 2, passthrough=False)


# Luma weights (Kr, Kb) by FFmpeg's AVColorSpace, as swscale's decoder-side conversion uses
# them (sws_getCoefficients): BT.709, FCC, SMPTE 240M and BT.2020; all else is BT.601.
_KR_KB = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 7: (0.212, 0.087), 9: (0.2627, 0.0593),
          10: (0.2627, 0.0593)}


@functools.lru_cache(maxsize=16)
def _ycbcr_matrix(colorspace: int, color_range: int) -> np.ndarray:
    """The 3x4 RGB -> Y'CbCr matrix (with offsets) for an FFmpeg colorspace and range."""
    kr, kb = _KR_KB.get(colorspace, (0.299, 0.114))
    kg = 1.0 - kr - kb
    full = color_range == 2  # AVCOL_RANGE_JPEG; unspecified is limited, as in swscale
    ys, cs, yo = (1.0, 1.0, 0.0) if full else (219 / 255, 224 / 255, 16.0)
    return np.array([
        [kr * ys, kg * ys, kb * ys, yo],
        [-kr / (2 * (1 - kb)) * cs, -kg / (2 * (1 - kb)) * cs, 0.5 * cs, 128.0],
        [0.5 * cs, -kg / (2 * (1 - kr)) * cs, -kb / (2 * (1 - kr)) * cs, 128.0],
    ], np.float32)


def _rgb_to_yuv420(rgb: np.ndarray, matrix: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U and V planes of an even-sized RGB picture (chroma: the mean of each 2x2 block).

    OpenCV instead of swscale, whose RGB input path is plain C and slower
    (docs/decisions/0017); the matrix is the same one the decoder inverted.
    """
    ycc = cv2.transform(rgb, matrix)  # uint8, rounded and saturated
    h, w = rgb.shape[:2]
    c = cv2.resize(ycc, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return ycc[..., 0], c[..., 1], c[..., 2]


def _split(packed: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of PyAV's packed yuv420p array (H * 3/2 rows of W).

    The planes lie one after the other: Y's H*W values, then U's and V's H*W/4 each.
    """
    flat = packed.reshape(-1)  # a view: PyAV's array and ours are contiguous
    n, q = h * w, h * w // 4
    return (flat[:n].reshape(h, w), flat[n:n + q].reshape(h // 2, w // 2),
            flat[n + q:n + 2 * q].reshape(h // 2, w // 2))
