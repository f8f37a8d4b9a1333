"""Decoding: probe a video and stream its frames upright, as RGB, with exact timestamps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

import av
import av.error
import numpy as np

from faceless.core.errors import MediaReadError, UnsupportedFormatError
from faceless.core.types import FrameRef
from faceless.media.files import not_regular
from faceless.media.video.colour import _split

if TYPE_CHECKING:
    from av.sidedata.sidedata import SideData

# The package's one logger: its name is what the log shows and what users filter on.
log = logging.getLogger(__package__)


@dataclass(frozen=True)
class VideoInfo:
    """What probe_video learned about an input video; enough to set up a VideoWriter."""

    path: Path
    width: int  # display-oriented (after rotation is applied)
    height: int
    rotation: int  # clockwise degrees (0/90/180/270) iter_frames turns pictures to be upright
    time_base: Fraction  # of the video stream
    average_rate: Fraction | None
    frame_count: int | None  # as declared by the container (None if unknown)
    duration: float | None  # seconds
    codec: str
    has_audio: bool


@dataclass(frozen=True)
class Yuv:
    """A decoded 8-bit 4:2:0 picture as the decoder gave it (upright), and its colour coding.

    The writer can encode these planes as they are and convert only the parts that were
    hidden: the pixels left alone are the source's own, and a whole-frame RGB to YUV
    conversion is saved (`python bench/hotspots.py colour`).
    """

    y: np.ndarray  # (H, W) uint8
    u: np.ndarray  # (H/2, W/2) uint8
    v: np.ndarray  # (H/2, W/2) uint8
    colorspace: int  # FFmpeg's AVColorSpace, AVColorRange, ... of the source frames
    color_range: int
    color_primaries: int
    color_trc: int


@dataclass(frozen=True)
class VideoFrame:
    """One decoded, upright RGB picture and where it sits in time."""

    image: np.ndarray  # (H, W, 3) uint8 RGB, C-contiguous, display-oriented
    ref: FrameRef  # index in presentation order, pts, time_base of the input video stream
    # The decoder's own planes, when asked for and the source is 8-bit 4:2:0 (else None).
    yuv: Yuv | None = None


@dataclass(frozen=True)
class _Orientation:
    """How to turn a decoded picture upright, from the stream's display matrix."""

    swap: bool = False  # transpose rows and columns first
    flip_rows: bool = False
    flip_cols: bool = False
    rotation: int = 0  # clockwise degrees, for VideoInfo

    def apply(self, image: np.ndarray) -> np.ndarray:
        """`image` (rows, columns, ...) turned upright; a view, not a copy."""
        if self.swap:
            image = image.swapaxes(0, 1)
        if self.flip_rows:
            image = image[::-1]
        if self.flip_cols:
            image = image[:, ::-1]
        return image


_UPRIGHT = _Orientation()


def _orientation(frame: av.VideoFrame) -> _Orientation:
    """Read the display matrix (phone video is stored sideways and tagged with one)."""
    # PyAV's stubs type side_data as a TypedDict of motion vectors; it is a SideDataContainer.
    side = cast("SideData | None", frame.side_data.get("DISPLAYMATRIX"))
    if side is None:
        return _UPRIGHT
    m = np.frombuffer(bytes(memoryview(side)), dtype="<i4", count=9).astype(np.float64)
    # Display matrix (FFmpeg/QuickTime): a displayed point is (x', y') = (a p + c q, b p + d q)
    # for a stored pixel at column p, row q, in 16.16 fixed point, y pointing down.
    a, b, c, d = (round(v / 65536.0) for v in (m[0], m[1], m[3], m[4]))
    if a == 0 and d == 0 and abs(b) == 1 and abs(c) == 1:
        orient = _Orientation(swap=True, flip_rows=b < 0, flip_cols=c < 0)
    elif b == 0 and c == 0 and abs(a) == 1 and abs(d) == 1:
        orient = _Orientation(flip_rows=d < 0, flip_cols=a < 0)
    else:
        log.warning("ignoring a display matrix that is not a multiple of 90 degrees: %s",
                    [int(v) for v in m])  # one line, whatever numpy's print width
        return _UPRIGHT
    # frame.rotation is FFmpeg's counter-clockwise angle; players turn the picture clockwise by
    # its negation (ffmpeg's autorotate does the same).
    rotation = round(-frame.rotation / 90.0) * 90 % 360
    mirrored = (a * d - b * c) < 0
    if mirrored:
        log.info("display matrix mirrors the picture; applying the mirror too")
    return _Orientation(orient.swap, orient.flip_rows, orient.flip_cols, rotation)


def _reason(exc: BaseException) -> str:
    """A short reason from an FFmpeg error, without its errno and repeated file name."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).rstrip(".")


# The demuxers faceless reads: media containers and raw video streams, each a file of its own.
# Any other (concat lists, HLS/DASH playlists, image sequences, SDP and other network
# descriptions, devices) can make FFmpeg read another file or a stream in its place, so the
# "release" would hold someone else's video. FFmpeg refuses them right after probing, before
# it reads anything the file points to (`format_whitelist`); names match by whole
# comma-separated token, so "mov" admits "mov,mp4,m4a,3gp,3g2,mj2".
_DEMUXERS = frozenset({"mov", "matroska", "webm", "avi", "mpegts", "mpeg", "mpegvideo", "flv",
                       "asf", "h264", "hevc"})
_READ_OPTIONS = {"format_whitelist": ",".join(sorted(_DEMUXERS)), "protocol_whitelist": "file"}
_READABLE = ("MP4/MOV, Matroska/WebM, AVI, MPEG-TS, MPEG program streams, FLV, ASF/WMV "
             "and raw H.264/HEVC")

# What a refused file most likely is, from its first bytes (for the message only).
_KNOWN_TEXT = (
    (b"ffconcat", "an FFmpeg concat list"),
    (b"#EXTM3U", "an HLS/M3U playlist"),
    (b"<?xml", "an XML document (such as a DASH playlist)"),
    (b"<MPD", "a DASH playlist"),
    (b"v=0", "an SDP description of network streams"),
    (b";FFMETADATA", "an FFmpeg metadata file"),
    (b"[playlist]", "a playlist"),
)


def ffmpeg_url(path: Path) -> str:
    """`path` as FFmpeg must be given it to open exactly that local file.

    A bare name is read as a URL where it starts with a protocol ("concat:a|b", "pipe:0",
    "http://..."); "file:" makes FFmpeg take the rest as a file name, whatever it holds.
    """
    return "file:" + str(path)


def _sniff(path: Path) -> str | None:
    """What a file that is not a media container is, where its first bytes tell."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    for magic, what in _KNOWN_TEXT:
        if text.startswith(magic):
            return what
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "a text file"
    return None


def _not_a_video(path: Path, what: str | None) -> UnsupportedFormatError:
    if what is not None:
        return UnsupportedFormatError(
            f"Cannot read {path}: it is {what}, not a video. faceless reads only the file it "
            "is given, never other files or streams a list points to; give it the video itself."
        )
    return UnsupportedFormatError(
        f"Cannot read {path}: it is not a video container faceless reads ({_READABLE})."
    )


def open_input(path: Path) -> av.container.InputContainer:
    """Open a local media file for reading; refuse anything that is not a media container."""
    path = Path(path)
    special = not_regular(path)  # a FIFO would block FFmpeg, a device never end
    if special is not None:
        raise special
    if not path.exists():
        raise MediaReadError(
            f"Cannot read {path}: no such file. Check the path (and that the drive is mounted)."
        )
    if path.is_dir():
        raise MediaReadError(f"Cannot read {path}: it is a folder, not a video file.")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaReadError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if size == 0:
        raise MediaReadError(
            f"Cannot read {path}: the file is empty (0 bytes). Copy or export it again."
        )
    what = _sniff(path)
    if what is not None and what != "a text file":
        raise _not_a_video(path, what)
    try:
        container = av.open(ffmpeg_url(path), mode="r", container_options=_READ_OPTIONS)
    except PermissionError as exc:
        raise MediaReadError(
            f"Cannot read {path}: permission denied. Check the file's permissions."
        ) from exc
    except av.error.ArgumentError as exc:  # FFmpeg: the probed format is not on the list
        raise _not_a_video(path, what) from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        if what is not None:
            raise _not_a_video(path, what) from exc
        raise MediaReadError(
            f"Cannot read {path}: not a readable video, or the file is damaged or incomplete "
            f"({_reason(exc)}). Check that the copy or download finished."
        ) from exc
    if not set(container.format.name.split(",")) & _DEMUXERS:  # FFmpeg should have refused
        container.close()
        raise _not_a_video(path, what)
    return container


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    # Cover art in audio files shows up as a one-picture "video" stream; it is not a video.
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    kinds = sorted({s.type for s in container.streams})
    if not kinds:
        raise MediaReadError(
            f"Cannot read {path}: no audio or video streams found; the file is damaged or "
            "incomplete. Check that the copy or download finished."
        )
    raise UnsupportedFormatError(
        f"Cannot read {path}: it has no video stream (found: {', '.join(kinds)}). "
        "Only files with a video track can be processed as videos."
    )


def _decoded(
    container: av.container.InputContainer, stream: av.VideoStream, path: Path
) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order; FFmpeg failures become MediaReadError."""
    count = 0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                count += 1
                yield frame
    except av.error.FFmpegError as exc:
        raise MediaReadError(
            f"Cannot decode {path} after {count} frames: {_reason(exc)}. "
            "The file is damaged; try re-exporting it."
        ) from exc


def probe_video(path: Path) -> VideoInfo:
    """Open a video, decode its first frame, and describe it; raises MediaReadError if unusable."""
    path = Path(path)
    container = open_input(path)
    try:
        stream = _video_stream(container, path)
        first = next(_decoded(container, stream, path), None)
        if first is None:
            raise MediaReadError(
                f"Cannot read {path}: its video track has no decodable frames "
                "(the file may be truncated or damaged)."
            )
        orient = _orientation(first)
        width, height = first.width, first.height
        if orient.swap:
            width, height = height, width
        time_base = stream.time_base or Fraction(1, 90000)
        duration: float | None = None
        if stream.duration:
            duration = float(stream.duration * time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            rotation=orient.rotation,
            time_base=Fraction(time_base),
            average_rate=stream.average_rate or stream.guessed_rate or None,
            frame_count=stream.frames or None,
            duration=duration,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )
    finally:
        container.close()


# 8-bit 4:2:0; yuvj420p is FFmpeg's older name for its full-range form (H.264 decoders still
# give it), told apart by the frame's colour range.
_YUV420 = frozenset({"yuv420p", "yuvj420p"})


def _planes(frame: av.VideoFrame, orient: _Orientation) -> Yuv:
    """The planes of an 8-bit 4:2:0 frame, upright (views of one copy of the picture)."""
    y, u, v = _split(frame.to_ndarray(), frame.height, frame.width)
    return Yuv(orient.apply(y), orient.apply(u), orient.apply(v), int(frame.colorspace),
               int(frame.color_range), int(frame.color_primaries), int(frame.color_trc))


def rgb_of(planes: Yuv) -> np.ndarray:
    """The RGB picture of decoded planes: the very bytes iter_frames gave with them (the same
    conversion, from the same planes and colour coding), so a frame may be kept as its planes
    alone (a third of the memory) and turned back when it is needed."""
    h, w = planes.y.shape
    packed = np.empty((h * 3 // 2, w), np.uint8)
    y, u, v = _split(packed, h, w)
    y[:], u[:], v[:] = planes.y, planes.u, planes.v
    frame = av.VideoFrame.from_ndarray(packed, format="yuv420p")
    frame.colorspace = planes.colorspace
    frame.color_range = planes.color_range
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24",
                                                 src_color_range=frame.color_range))


def iter_frames(path: Path, yuv: bool = False) -> Iterator[VideoFrame]:
    """Yield every frame of a video, upright, as RGB, with its exact presentation time.

    Streams one frame at a time. Presentation timestamps are strictly increasing: a missing one
    is filled in from the frame rate and a repeated one is nudged one tick later (logged).
    `yuv`: also keep the decoder's own planes (`VideoFrame.yuv`) where the video is 8-bit
    4:2:0 with even sides, for VideoWriter to pass through.
    """
    path = Path(path)
    container = open_input(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base or Fraction(1, 90000))
        rate = stream.average_rate or stream.guessed_rate
        step = max(1, round(1 / (rate * time_base))) if rate else 1
        orient: _Orientation | None = None
        size = (0, 0)  # set with `orient`, at the first frame
        last_pts: int | None = None
        index = 0
        planes: Yuv | None = None
        for frame in _decoded(container, stream, path):
            if orient is None:
                orient = _orientation(frame)
                size = (frame.width, frame.height)
                if orient.rotation:
                    log.debug("%s: turning frames %d° clockwise", path, orient.rotation)
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                pts = 0 if last_pts is None else last_pts + step
            elif last_pts is not None and pts <= last_pts:
                log.warning("%s: frame %d repeats timestamp %d; shifted", path, index, pts)
                pts = last_pts + 1
            last_pts = pts
            try:
                resized = (frame.width, frame.height) != size
                if resized:
                    # Keep one size for the whole video so every consumer (and the encoder)
                    # sees a stable shape; mid-stream resolution changes are rare.
                    frame = frame.reformat(width=size[0], height=size[1])
                # Pass the range explicitly: PyAV before 17 assumed limited range and
                # washed out full-range (phone) video.
                rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range)
                if (yuv and not resized and frame.format.name in _YUV420
                        and frame.width % 2 == 0 and frame.height % 2 == 0):
                    planes = _planes(frame, orient)
                else:
                    planes = None
            except av.error.FFmpegError as exc:
                raise MediaReadError(
                    f"Cannot decode {path} at frame {index}: {_reason(exc)}."
                ) from exc
            image = np.ascontiguousarray(orient.apply(rgb))
            yield VideoFrame(image=image, ref=FrameRef(index=index, pts=pts, time_base=time_base),
                             yuv=planes)
            index += 1
        if index == 0:
            raise MediaReadError(
                f"Cannot read {path}: its video track has no decodable frames "
                "(the file may be truncated or damaged)."
            )
    finally:
        container.close()

