"""Scene-cut detection from tiny grey thumbnails: a cut must end every track."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt


class CutDetector:
    """Flags a frame whose thumbnail differs from the previous one like a new shot does.

    Uses the mean absolute difference of 32x32 grey thumbnails, after removing the global
    brightness change (a light switched on is not a cut), on a 0..255 scale.

    The thumbnail averages every `step`-th pixel of every `step`-th row (about 128 rows are
    kept): each of its cells still averages dozens of samples, at a fraction of the cost of
    area-resizing the whole frame.
    """

    def __init__(self, threshold: float = 35.0) -> None:
        self.threshold = threshold
        self._prev: npt.NDArray[np.float32] | None = None

    @staticmethod
    def thumbnail(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The 32x32 float grey thumbnail frames are compared by."""
        step = max(1, min(image.shape[:2]) // 128)
        sample = np.ascontiguousarray(image[::step, ::step])
        grey = cv2.cvtColor(sample, cv2.COLOR_RGB2GRAY) if sample.ndim == 3 else sample
        return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)

    def __call__(self, image: npt.NDArray[np.uint8]) -> bool:
        thumb = self.thumbnail(image)
        prev, self._prev = self._prev, thumb
        if prev is None:
            return False
        diff = (thumb - thumb.mean()) - (prev - prev.mean())
        return float(np.abs(diff).mean()) > self.threshold
