"""Streaming video reading and writing with PyAV: exact timestamps, upright frames, no leaks."""

from __future__ import annotations

import ctypes
import functools
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import cv2
import numpy as np

from faceless.core.errors import (
    ConfigError,
    MediaReadError,
    MediaWriteError,
    UnsupportedFormatError,
)
from faceless.core.types import FrameRef

log = logging.getLogger(__name__)

__all__ = [
    "OUTPUT_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "AudioMode",
    "VideoFrame",
    "VideoInfo",
    "VideoOptions",
    "VideoWriter",
    "Yuv",
    "iter_frames",
    "probe_video",
]

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg",
        ".ts", ".mts", ".wmv", ".flv", ".3gp",
    }
)  # fmt: skip

# What VideoWriter can write with exact timestamps. MPEG program streams (.mpg, .mpeg) are left
# out: FFmpeg stores H.264 in them without per-frame timestamps and adds a muxing delay.
OUTPUT_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".ts", ".mts", ".flv", ".3gp", ".wmv"}
)


class AudioMode(StrEnum):
    """What happens to the input's audio track."""

    DROP = "drop"
    KEEP = "keep"


# x264's (and x265's) speed presets, fastest first.
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")


@dataclass(frozen=True)
class VideoOptions:
    """How the output video is encoded."""

    codec: str = "libx264"
    crf: int = 18  # quality: lower is better
    # veryfast: at 1080p CRF 18, 56 ms CPU a frame vs 136 for medium, file 3.6% bigger
    # (bench/encode.py; the quality target is the CRF, the preset trades only size for speed).
    preset: str = "veryfast"
    # x264 B-frames (None: the preset's own, 3 from superfast to medium). With none, x264
    # spends 10-27% less CPU a frame (720p synthetic clip 31.0 -> 22.6 ms, MOT17-04 48.6 ->
    # 39.1, EgoBlur 2560x1920 147 -> 108); at the same luma PSNR files are 0-12% larger
    # (one clip ~1% smaller). On two cores the encoder is a fifth to a quarter of the CPU
    # (docs/benchmarks.md, session 10). An explicit --preset on the command line keeps the
    # preset's own.
    bframes: int | None = 0
    audio: AudioMode = AudioMode.DROP
    keep_metadata: bool = False

    def __post_init__(self) -> None:
        # type(...) is int: a bool or a float would reach x264 as some other number.
        if self.bframes is not None and (type(self.bframes) is not int
                                         or not 0 <= self.bframes <= 16):
            raise ConfigError(f"bframes must be a whole number in [0, 16] or None, "
                              f"got {self.bframes!r}")
        # Refused here, as a usage error: x264 takes an empty name as ultrafast without a
        # word, and an unknown one fails every video at the encoder instead.
        if self.codec in ("libx264", "libx265") and self.preset not in X264_PRESETS:
            raise ConfigError(f"unknown {self.codec} preset {self.preset!r}; use one of "
                              f"{', '.join(X264_PRESETS)}")


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


# --------------------------------------------------------------------------- reading


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
    side = frame.side_data.get("DISPLAYMATRIX")
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
        log.warning("ignoring a display matrix that is not a multiple of 90 degrees: %s", m)
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


def _open_input(path: Path) -> av.container.InputContainer:
    path = Path(path)
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
    try:
        return av.open(str(path), mode="r")
    except PermissionError as exc:
        raise MediaReadError(
            f"Cannot read {path}: permission denied. Check the file's permissions."
        ) from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaReadError(
            f"Cannot read {path}: not a readable video, or the file is damaged or incomplete "
            f"({_reason(exc)}). Check that the copy or download finished."
        ) from exc


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
    container = _open_input(path)
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


def iter_frames(path: Path, yuv: bool = False) -> Iterator[VideoFrame]:
    """Yield every frame of a video, upright, as RGB, with its exact presentation time.

    Streams one frame at a time. Presentation timestamps are strictly increasing: a missing one
    is filled in from the frame rate and a repeated one is nudged one tick later (logged).
    `yuv`: also keep the decoder's own planes (`VideoFrame.yuv`) where the video is 8-bit
    4:2:0 with even sides, for VideoWriter to pass through.
    """
    path = Path(path)
    container = _open_input(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base or Fraction(1, 90000))
        rate = stream.average_rate or stream.guessed_rate
        step = max(1, round(1 / (rate * time_base))) if rate else 1
        orient: _Orientation | None = None
        size: tuple[int, int] | None = None
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


# --------------------------------------------------------------------------- writing

_MOV_LIKE = frozenset({".mp4", ".mov", ".m4v", ".3gp"})
# Containers that store decode time only (AVI, ASF): FFmpeg then guesses H.264 presentation times
# one frame late, so these get MPEG-4 Part 2, whose frames are never reordered.
_DTS_ONLY = frozenset({".avi", ".wmv"})
# Containers that shift every timestamp when B-frame reordering makes the first decode time
# negative (they have no edit lists and cannot store negative times).
_NO_REORDER = frozenset({".ts", ".mts", ".flv"}) | _DTS_ONLY
_WEBM_CODECS = frozenset({"libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1", "librav1e"})
_CRF_CODECS = frozenset({"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"})

# Container tags that can locate or identify a person or their device: never copied.
_PRIVATE_TAG_WORDS = (
    "location", "gps", "xyz", "iso6709", "latitude", "longitude", "geo",
    "make", "model", "serial", "manufacturer", "device", "software", "identifier", "uuid",
)  # fmt: skip


def _tag_is_private(key: str) -> bool:
    low = key.lower()
    return any(word in low for word in _PRIVATE_TAG_WORDS)


def _pick_video_codec(path: Path, requested: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_EXTENSIONS:
        raise MediaWriteError(
            f"Cannot write {path}: {suffix or 'no suffix'} is not a supported output format. "
            f"Use one of {', '.join(sorted(OUTPUT_EXTENSIONS))}."
        )
    if suffix in _DTS_ONLY and requested == "libx264":
        log.info("%s: using MPEG-4 Part 2, which keeps exact frame times in %s", path, suffix)
        return "mpeg4"
    if suffix == ".webm" and requested not in _WEBM_CODECS:
        if "libvpx-vp9" not in av.codecs_available:
            raise MediaWriteError(
                f"Cannot write {path}: WebM output needs the VP9 encoder (libvpx-vp9), which this "
                "PyAV/FFmpeg build lacks. Write .mp4 or .mkv instead."
            )
        return "libvpx-vp9"
    return requested


def _pick_pix_fmt(codec: str, width: int, height: int) -> str:
    try:
        formats = [f.name for f in (av.Codec(codec, "w").video_formats or [])]
    except Exception:  # unknown codec: let add_stream report it
        formats = []
    # 4:2:0 halves chroma resolution, so it needs even sizes; 4:4:4 keeps any size exactly.
    even = width % 2 == 0 and height % 2 == 0
    preferred = ["yuv420p", "yuv444p"] if even else ["yuv444p", "yuv420p"]
    if not even and (not formats or "yuv444p" in formats):
        log.info(
            "odd size %dx%d: encoding 4:4:4 to keep it exact (some players, browsers among "
            "them, cannot play 4:4:4 H.264)",
            width,
            height,
        )
    for name in preferred:
        if not formats or name in formats:
            return name
    return formats[0]


def _encoder_time_base(codec: str, info: VideoInfo) -> Fraction:
    time_base = Fraction(info.time_base)
    # MPEG-4 Part 2 cannot signal a clock finer than 1/65535 s (MPEG-TS inputs use 1/90000).
    if codec == "mpeg4" and time_base.denominator > 65535:
        rate = info.average_rate
        if rate and rate.numerator <= 65535:
            return 1 / Fraction(rate)
        return Fraction(1, 1000)
    return time_base


# x264.h's X264_CPU_AVX512 (AVX-512 F, CD, BW, DQ and VL); no other architecture uses the bit.
_X264_CPU_AVX512 = 1 << 16


def _loaded_libx264() -> str | None:
    """The libx264 file this process has loaded for PyAV's FFmpeg, where it can be found."""
    try:  # Linux: every file mapped into the process
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            fields = [line.split(None, 5) for line in maps if "libx264" in line]
        found = {f[5].strip() for f in fields if len(f) == 6}
    except OSError:
        found = set()
    if not found:  # the copies bundled in PyAV's wheels (Linux/Windows, macOS)
        site = Path(av.__file__).resolve().parent.parent
        found = {str(p) for pattern in ("av.libs/*x264*", "av/.dylibs/*x264*")
                 for p in site.glob(pattern)}
    return found.pop() if len(found) == 1 else None


@functools.lru_cache(maxsize=1)
def _x264_cpu_without_avx512() -> int | None:
    """The CPU features x264 detects here less AVX-512, as its `asm` option takes them; None
    where x264 would not use AVX-512 anyway (or cannot be asked).

    x264's AVX-512 MB-tree code (core 165, as PyAV ships it) takes macroblocks 8 at a time and
    counts the lanes past the end of a row whose width is not a multiple of 8 macroblocks
    (128 px): its output then differs from x264's C and AVX2 code, and, through memory x264
    never wrote, from one run to the next (the same frames gave different files). Its other
    routines match the C code bit for bit, so without AVX-512 the bytes depend only on the
    frames, the options and x264's thread count (which follows the number of cores).
    """
    path = _loaded_libx264()
    if path is None:
        return None
    try:
        detect = ctypes.CDLL(path).x264_cpu_detect
    except (OSError, AttributeError):
        return None
    detect.restype, detect.argtypes = ctypes.c_uint32, []
    cpu = int(detect())
    return cpu & ~_X264_CPU_AVX512 if cpu & _X264_CPU_AVX512 else None


def x264_same_bytes() -> dict[str, str]:
    """libx264 options that make its output the same in every process on this machine (empty
    where nothing is needed): see _x264_cpu_without_avx512. VideoWriter always uses them."""
    cpu = _x264_cpu_without_avx512()
    return {} if cpu is None else {"x264-params": f"asm={cpu}"}


def encoder_options(codec: str, options: VideoOptions) -> dict[str, str]:
    """The options VideoWriter gives `codec` for `options` (bench/encode.py times them)."""
    if codec not in _CRF_CODECS:
        return {}
    opts = {"crf": str(options.crf)}
    if codec in ("libx264", "libx265"):
        opts["preset"] = options.preset
        if codec == "libx264":
            params = [x264_same_bytes().get("x264-params", "")]
            if options.bframes is not None:
                params.append(f"bframes={options.bframes}")
            if any(params):
                opts["x264-params"] = ":".join(filter(None, params))
    elif codec in ("libvpx-vp9", "libvpx"):
        # b:v 0 makes crf a pure quality target instead of a cap on a default bitrate.
        opts.update({"b:v": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"})
    return opts


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

    OpenCV instead of swscale: swscale's RGB input path is plain C (`python bench/hotspots.py
    colour`: 3.2-3.5 ms of CPU a 720p frame against 1.2-1.9 here), and the matrix is the same
    one the decoder inverted.
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


# FFmpeg answers "don't know" rather than "yes" for these, though the muxers take them.
_ALSO_COPYABLE = {"mpegts": frozenset({"aac", "mp3", "mp2", "ac3", "eac3", "opus"})}


class _AudioPump:
    """Copies (or re-encodes) audio from its own input, interleaved with the video frames."""

    def __init__(self, source: Path, out: av.container.OutputContainer, dest: Path) -> None:
        self._source = source
        self._out = out
        # Without edit lists a muxer shifts ALL streams to make a negative time (the priming
        # packet of AAC) non-negative, which would move the video; such packets are trimmed.
        self._trim_negative = dest.suffix.lower() not in _MOV_LIKE
        self._input = _open_input(source)
        self._in_stream: av.AudioStream | None = None
        self._out_stream: Any = None
        self._copy = False
        self._pending: av.Packet | None = None
        self._done = False
        if not self._input.streams.audio:
            log.warning("%s has no audio track; writing %s without audio", source, dest)
            self._done = True
            return
        self._in_stream = self._input.streams.audio[0]
        in_codec = self._in_stream.codec_context.name
        if in_codec in out.supported_codecs or in_codec in _ALSO_COPYABLE.get(out.format.name, ()):
            self._out_stream = out.add_stream_from_template(self._in_stream)
            self._copy = True
        else:
            target = self._transcode_codec(out)
            log.info("%s cannot hold %s audio; re-encoding it to %s", dest, in_codec, target)
            ctx = self._in_stream.codec_context
            stream = out.add_stream(target, rate=ctx.sample_rate or 48000)
            stream.layout = ctx.layout.name if ctx.layout.nb_channels <= 2 else "stereo"
            self._in_stream.thread_type = "AUTO"
            self._out_stream = stream
        self._packets = self._input.demux(self._in_stream)

    @staticmethod
    def _transcode_codec(out: av.container.OutputContainer) -> str:
        supported = out.supported_codecs
        if "aac" in supported or not supported:
            return "aac"
        for name in ("libopus", "mp2", "libmp3lame"):
            if name in supported and name in av.codecs_available:
                return name
        return out.default_audio_codec

    def _next(self) -> av.Packet | None:
        if self._pending is not None:
            pkt, self._pending = self._pending, None
            return pkt
        try:
            for pkt in self._packets:
                if pkt.size and (pkt.pts is not None or pkt.dts is not None):
                    return pkt
        except av.error.FFmpegError as exc:
            raise MediaReadError(
                f"Cannot read the audio of {self._source}: {_reason(exc)}."
            ) from exc
        return None

    def advance(self, until: float | None) -> None:
        """Mux audio up to `until` seconds (None: all of it)."""
        out = self._out
        while not self._done:
            pkt = self._next()
            if pkt is None:
                self._done = True
                if not self._copy:
                    for frame in self._decode(None):
                        out.mux(self._out_stream.encode(frame))
                    out.mux(self._out_stream.encode(None))
                return
            when = pkt.pts if pkt.pts is not None else pkt.dts
            if until is not None and when * pkt.time_base > until:
                self._pending = pkt
                return
            if self._trim_negative and when < 0:
                end = when + (pkt.duration or 0)
                if end <= 0:
                    continue
                pkt.pts = 0 if pkt.pts is not None else None
                pkt.dts = 0 if pkt.dts is not None and pkt.dts < 0 else pkt.dts
            if self._copy:
                pkt.stream = self._out_stream
                out.mux(pkt)
            else:
                for frame in self._decode(pkt):
                    out.mux(self._out_stream.encode(frame))

    def _decode(self, pkt: av.Packet | None) -> list[av.AudioFrame]:
        """Decode one packet, or with None drain the decoder."""
        assert self._in_stream is not None
        try:
            return self._in_stream.codec_context.decode(pkt)
        except av.error.FFmpegError as exc:
            raise MediaReadError(
                f"Cannot decode the audio of {self._source}: {_reason(exc)}."
            ) from exc

    def close(self) -> None:
        self._input.close()


class VideoWriter:
    """Encodes upright RGB frames to a video file, keeping each frame's exact timestamp.

    The output format follows the suffix of `path`. Only one video stream (and, with
    AudioMode.KEEP, one audio stream from `audio_source`) is written: no subtitles, data streams,
    cover art or rotation metadata; container tags only with keep_metadata, and never location or
    device tags. Use as a context manager: the file is finalized on success and abandoned (for the
    caller to delete) when an exception propagates.
    """

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        options: VideoOptions = VideoOptions(),
        audio_source: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.info = info
        self.options = options
        self._audio_source = Path(audio_source) if audio_source is not None else None
        self._audio: _AudioPump | None = None
        self._frames = 0
        self._last_pts: int | None = None
        self._closed = False
        self._coding: _Coding | None = None  # chosen at the first frame
        codec = _pick_video_codec(self.path, options.codec)
        self._pix_fmt = _pick_pix_fmt(codec, info.width, info.height)
        self._time_base = _encoder_time_base(codec, info)
        # FFmpeg opens the file only when the first frame is muxed; fail here, with a reason.
        folder = self.path.parent
        if not folder.is_dir():
            raise MediaWriteError(
                f"Cannot write {self.path}: the folder {folder} does not exist. Create it first."
            )
        if not os.access(folder, os.W_OK):
            raise MediaWriteError(
                f"Cannot write {self.path}: the folder {folder} is not writable. Check its "
                "permissions or choose another output folder."
            )
        container_options: dict[str, str] = {}
        if self.path.suffix.lower() in _MOV_LIKE:
            # Index at the front, so players and browsers can start before the download ends.
            container_options["movflags"] = "+faststart"
            # A video that starts after 0 s gets an empty edit measured in the movie timescale
            # (1/1000 s by default); the input's own clock makes that start time exact.
            container_options["movie_timescale"] = str(self._time_base.denominator)
        try:
            self._container = av.open(str(self.path), mode="w", options=container_options)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MediaWriteError(
                f"Cannot write {self.path}: {_reason(exc)}. Check that the folder exists and is "
                "writable and that the suffix is a video format (.mp4, .mkv, .mov, ...)."
            ) from exc
        try:
            self._setup(codec)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, MediaReadError | MediaWriteError):
                raise
            if isinstance(exc, av.error.FFmpegError | ValueError | OSError):
                raise MediaWriteError(
                    f"Cannot write {self.path} with codec {codec}: {_reason(exc)}."
                ) from exc
            raise

    def _setup(self, codec: str) -> None:
        info, options = self.info, self.options
        if options.keep_metadata:
            self._copy_tags()
        rate = info.average_rate or Fraction(30)
        suffix = self.path.suffix.lower()
        if suffix in _NO_REORDER:
            # B-frames there would shift every timestamp. x264 applies its x264-params after
            # max_b_frames (set below for the other codecs), so they must say none too.
            options = replace(options, bframes=0)
        stream = self._container.add_stream(
            codec,
            rate=rate,
            time_base=self._time_base,
            options=encoder_options(codec, options),
        )
        stream.width = info.width
        stream.height = info.height
        stream.pix_fmt = self._pix_fmt
        # The encoder's clock is the input's, so every pts passes through unchanged.
        stream.codec_context.time_base = self._time_base
        stream.time_base = self._time_base
        if suffix in _NO_REORDER:
            stream.codec_context.max_b_frames = 0
        if codec not in _CRF_CODECS:
            # Codecs without crf: a fixed quantizer, roughly as fine as the crf asked for.
            stream.codec_context.qscale = True
            stream.codec_context.global_quality = max(1, min(31, round(options.crf / 6))) * 118
        self._stream = stream
        if options.audio == AudioMode.KEEP:
            if self._audio_source is None:
                log.warning("audio KEEP without an audio source; %s gets no audio", self.path)
            else:
                self._audio = _AudioPump(self._audio_source, self._container, self.path)

    def _copy_tags(self) -> None:
        try:
            with av.open(str(self.info.path)) as src:
                tags = dict(src.metadata)
        except (av.error.FFmpegError, OSError) as exc:
            log.warning("could not read tags from %s: %s", self.info.path, _reason(exc))
            return
        for key, value in tags.items():
            # The muxer writes its own brand and encoder tags.
            if key in ("major_brand", "minor_version", "compatible_brands", "encoder"):
                continue
            if _tag_is_private(key):
                log.debug("not copying private tag %r", key)
                continue
            self._container.metadata[key] = value

    def _choose_coding(self, source: Yuv | None) -> _Coding:
        """Fix the stream's colour coding at its first frame (the encoder opens then)."""
        h, w = self.info.height, self.info.width
        if source is not None and self._pix_fmt == "yuv420p" and source.y.shape == (h, w):
            # The source's planes pass through, so the output is tagged as the source was:
            # it then looks the same in every player (an untagged source stays untagged).
            coding = _Coding(source.colorspace, source.color_range, source.color_primaries,
                             source.color_trc, passthrough=True)
        else:
            coding = _BT709
        cc = self._stream.codec_context
        cc.colorspace, cc.color_range = coding.colorspace, coding.color_range
        cc.color_primaries, cc.color_trc = coding.color_primaries, coding.color_trc
        self._coding = coding
        return coding

    def _to_yuv(self, image: np.ndarray, coding: _Coding) -> av.VideoFrame:
        h, w = image.shape[:2]
        if self._pix_fmt != "yuv420p" or h % 2 or w % 2:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            return frame.reformat(format=self._pix_fmt, dst_colorspace=coding.colorspace,
                                  dst_color_range=coding.color_range)
        packed = np.empty((h * 3 // 2, w), np.uint8)
        for plane, values in zip(_split(packed, h, w), _rgb_to_yuv420(image, coding.matrix),
                                 strict=True):
            plane[:] = values
        return av.VideoFrame.from_ndarray(packed, format="yuv420p")

    def _patched(self, image: np.ndarray, source: Yuv, changed: Iterable[Span],
                 coding: _Coding) -> av.VideoFrame:
        """The source's planes with every changed span converted from `image`."""
        h, w = self.info.height, self.info.width
        packed = np.empty((h * 3 // 2, w), np.uint8)
        y, u, v = _split(packed, h, w)
        y[:], u[:], v[:] = source.y, source.u, source.v
        for x1, y1, x2, y2 in changed:
            # Whole 2x2 blocks: a chroma sample covers four pixels.
            x1, y1 = max(0, int(x1) // 2 * 2), max(0, int(y1) // 2 * 2)
            x2, y2 = min(w, -(-int(x2) // 2) * 2), min(h, -(-int(y2) // 2) * 2)
            if x2 <= x1 or y2 <= y1:
                continue
            py, pu, pv = _rgb_to_yuv420(image[y1:y2, x1:x2], coding.matrix)
            y[y1:y2, x1:x2] = py
            u[y1 // 2:y2 // 2, x1 // 2:x2 // 2] = pu
            v[y1 // 2:y2 // 2, x1 // 2:x2 // 2] = pv
        return av.VideoFrame.from_ndarray(packed, format="yuv420p")

    def _pts(self, ref: FrameRef) -> int:
        tb = Fraction(ref.time_base)
        pts = ref.pts if tb == self._time_base else round(ref.pts * tb / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            # Encoders and muxers reject non-increasing timestamps; one tick keeps every frame.
            log.warning("%s: frame %d does not advance in time; shifted", self.path, ref.index)
            pts = self._last_pts + 1
        return pts

    def write(self, image: np.ndarray, ref: FrameRef, *, source: Yuv | None = None,
              changed: Iterable[Span] | None = None) -> None:
        """Encode one upright (H, W, 3) uint8 RGB frame at the time given by `ref`.

        Given `source`, the decoder's planes of this very frame (`VideoFrame.yuv`), and
        `changed`, every pixel span (x1, y1, x2, y2) in which `image` differs from the
        decoded picture, the source's planes are encoded with only those spans converted from
        `image`. Outside `changed` the source shows, so it must list every span written to
        (`anonymize.operators.redact` returns them). Without both, all of `image` is used.
        """
        if self._closed:
            raise MediaWriteError(f"Cannot write {self.path}: the writer is already closed.")
        expected = (self.info.height, self.info.width, 3)
        if image.shape != expected or image.dtype != np.uint8:
            raise ValueError(
                f"frame {ref.index} is {image.dtype}{image.shape}, expected uint8{expected}"
            )
        pts = self._pts(ref)
        try:
            coding = self._coding or self._choose_coding(source)
            if (coding.passthrough and source is not None and changed is not None
                    and source.y.shape == image.shape[:2]):
                frame = self._patched(image, source, changed, coding)
            else:
                frame = self._to_yuv(image, coding)
            frame.pts = pts
            frame.time_base = self._time_base
            self._container.mux(self._stream.encode(frame))
            self._last_pts = pts
            self._frames += 1
            if self._audio is not None:
                self._audio.advance(float(pts * self._time_base))
        except av.error.FFmpegError as exc:
            raise MediaWriteError(
                f"Cannot write {self.path} at frame {ref.index}: {_reason(exc)}."
            ) from exc

    def close(self) -> None:
        """Flush the encoder, mux the rest of the audio, and finish the file."""
        if self._closed:
            return
        try:
            if self._frames == 0:
                raise MediaWriteError(f"Cannot write {self.path}: no frames were written.")
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.advance(None)
            self._container.close()
        except av.error.FFmpegError as exc:
            self.abort()
            raise MediaWriteError(f"Cannot finish {self.path}: {_reason(exc)}.") from exc
        except BaseException:
            self.abort()
            raise
        self._closed = True
        if self._audio is not None:
            self._audio.close()

    def abort(self) -> None:
        """Close everything without caring about errors; the caller deletes the file."""
        self._closed = True
        for closer in (
            getattr(self, "_container", None),
            self._audio,
        ):
            if closer is None:
                continue
            try:
                closer.close()
            except Exception as exc:  # an aborted file is garbage anyway
                log.debug("ignoring error while aborting %s: %s", self.path, exc)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
