"""Frames of the case's media by index, decoded by PyAV on the server, with a small LRU cache;
a far jump seeks to the keyframe before the frame instead of decoding the video in order."""

from __future__ import annotations

import contextlib
import io
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image

from faceless.core.errors import MediaReadError
from faceless.media.image import read_image
from faceless.media.video import iter_frames
from faceless.media.video.read import (
    _decoded,
    _Orientation,
    _orientation,
    _video_stream,
    open_input,
)

# A jump forward of more than this many frames seeks instead of decoding on: a keyframe is
# usually this close or closer, and decoding up to it costs about as much as a seek's start.
SEEK_AFTER = 48


class _Lost(Exception):
    """A seek landed where the plan's timestamps cannot place the frames (a file whose
    timestamps iter_frames had to repair): decode in order instead."""


class FrameSource:
    """Upright RGB frames by index, frame-accurate for any codec PyAV decodes.

    Frames are the ones `iter_frames` gives (the same timestamps and rotation that detect
    and render see). Stepping decodes on from the last frame; a far jump, or any step back
    past the cache, seeks to the keyframe at or before the frame and decodes forward to the
    frame whose timestamp is the plan's for that index. `pts` are the plan's timestamps by
    index; without them (or where a seek cannot place a frame) decoding starts again from
    the first frame, which is exact but slow.
    """

    def __init__(self, path: Path, media: str, cache_size: int = 24,
                 pts: Sequence[int] | None = None) -> None:
        self.path = Path(path)
        self.media = media
        self.cache_size = cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._frames: Iterator[tuple[int, np.ndarray]] | None = None
        self._next = 0  # index the open decoder yields next
        self._pts = list(pts) if pts else []
        self._index = {p: i for i, p in enumerate(self._pts)}
        self._geometry: tuple[_Orientation, tuple[int, int]] | None = None
        self.decoded = 0  # frames decoded so far (a far jump should add few)
        self.seeks = 0

    def _remember(self, index: int, image: np.ndarray) -> None:
        self._cache[index] = image
        self._cache.move_to_end(index)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _in_order(self) -> Iterator[tuple[int, np.ndarray]]:
        for vf in iter_frames(self.path):
            self.decoded += 1
            yield vf.ref.index, vf.image

    def _upright(self) -> tuple[_Orientation, tuple[int, int]]:
        """The first frame's orientation and stored size, which iter_frames keeps for all."""
        if self._geometry is None:
            with contextlib.closing(open_input(self.path)) as container:
                stream = _video_stream(container, self.path)
                first = next(iter(_decoded(container, stream, self.path)), None)
                if first is None:
                    raise MediaReadError(f"{self.path}: its video track has no frames")
                self._geometry = _orientation(first), (first.width, first.height)
        return self._geometry

    def _sought(self, index: int) -> Iterator[tuple[int, np.ndarray]]:
        """Frames from the keyframe at or before `index` on, placed by their timestamps."""
        orient, size = self._upright()
        target = self._pts[index]
        container = open_input(self.path)
        try:
            stream = _video_stream(container, self.path)
            stream.thread_type = "AUTO"
            try:
                container.seek(target, stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError as err:
                raise _Lost from err
            self.seeks += 1
            first = True
            for frame in _decoded(container, stream, self.path):
                self.decoded += 1
                at = None if frame.pts is None else self._index.get(frame.pts)
                if at is None or (first and at > index):
                    raise _Lost  # not a timestamp of the plan, or landed past the frame
                first = False
                if (frame.width, frame.height) != size:
                    frame = frame.reformat(width=size[0], height=size[1])
                rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range)
                yield at, np.ascontiguousarray(orient.apply(rgb))
        finally:
            container.close()

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
            try:
                return self._decode(index)
            except _Lost:
                self._index.clear()  # this file's timestamps need decoding in order
                self.close()
                return self._decode(index)

    def _decode(self, index: int) -> np.ndarray:
        far = index < self._next or index - self._next > SEEK_AFTER
        if self._frames is None or far:
            self.close()
            seek = 0 < index < len(self._pts) and bool(self._index)
            self._frames = self._sought(index) if seek else self._in_order()
            self._next = 0
        for at, image in self._frames:
            self._next = at + 1
            if at >= index - self.cache_size:
                self._remember(at, image)
            if at == index:
                return image
            if at > index:
                break
        self.close()
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
