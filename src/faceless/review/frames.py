"""Frames of the case's media by index, decoded by PyAV on the server, with a small LRU cache."""

from __future__ import annotations

import contextlib
import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from faceless.core.errors import MediaReadError
from faceless.media.image import read_image
from faceless.media.video import VideoFrame, iter_frames


class FrameSource:
    """Upright RGB frames by index, frame-accurate for any codec PyAV decodes.

    Decoding is sequential through `iter_frames` (the same frames, timestamps and rotation
    that detect and render see), resumed forward from the last frame decoded; a step back
    past the cache starts again from the first frame. Simple and exact rather than fast on
    long backward jumps.
    """

    def __init__(self, path: Path, media: str, cache_size: int = 24) -> None:
        self.path = Path(path)
        self.media = media
        self.cache_size = cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._frames: Iterator[VideoFrame] | None = None
        self._next = 0  # index the open decoder yields next

    def _remember(self, index: int, image: np.ndarray) -> None:
        self._cache[index] = image
        self._cache.move_to_end(index)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _restart(self) -> None:
        self.close()
        self._frames = iter_frames(self.path)
        self._next = 0

    def frame(self, index: int) -> np.ndarray:
        """The upright RGB picture of frame `index` (do not modify it: it is cached)."""
        with self._lock:
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index]
            if self.media == "image":
                if index != 0:
                    raise MediaReadError(f"{self.path}: an image has only frame 0")
                image = read_image(self.path).pixels
                self._remember(0, image)
                return image
            if self._frames is None or index < self._next:
                self._restart()
            assert self._frames is not None
            for vf in self._frames:
                self._next = vf.ref.index + 1
                if vf.ref.index >= index - self.cache_size:
                    self._remember(vf.ref.index, vf.image)
                if vf.ref.index == index:
                    return vf.image
            self._frames = None
            raise MediaReadError(f"{self.path}: it has no frame {index}")

    def close(self) -> None:
        if self._frames is not None:
            with contextlib.suppress(Exception):
                self._frames.close()  # type: ignore[attr-defined]
            self._frames = None


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """`image` (H, W, 3) uint8 RGB as JPEG bytes."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class JpegCache:
    """The last few encoded frames, so stepping back and forth costs no decode or encode."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple[object, ...], data: bytes) -> None:
        with self._lock:
            self._items[key] = data
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
