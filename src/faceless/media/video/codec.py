"""Output container and codec rules: codec, pixel format, clock and encoder options per suffix."""

from __future__ import annotations

import ctypes
import functools
import logging
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from faceless.core.errors import MediaWriteError

if TYPE_CHECKING:
    from faceless.media.video.read import VideoInfo
    from faceless.media.video.write import VideoOptions

# The package's one logger: its name is what the log shows and what users filter on.
log = logging.getLogger(__package__)

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

_MOV_LIKE = frozenset({".mp4", ".mov", ".m4v", ".3gp"})
# Containers that store decode time only (AVI, ASF): FFmpeg then guesses H.264 presentation times
# one frame late, so these get MPEG-4 Part 2, whose frames are never reordered.
_DTS_ONLY = frozenset({".avi", ".wmv"})
# Containers that shift every timestamp when B-frame reordering makes the first decode time
# negative (they have no edit lists and cannot store negative times).
_NO_REORDER = frozenset({".ts", ".mts", ".flv"}) | _DTS_ONLY
_WEBM_CODECS = frozenset({"libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1", "librav1e"})
_CRF_CODECS = frozenset({"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"})

# x264's (and x265's) speed presets, fastest first.
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")


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
    where nothing is needed): see _x264_cpu_without_avx512 and docs/decisions/0018. VideoWriter
    always uses them."""
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
