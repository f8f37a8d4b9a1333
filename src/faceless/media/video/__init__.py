"""Streaming video reading and writing with PyAV: exact timestamps, upright frames, no leaks.

read: probing and decoding; write: VideoWriter and VideoOptions; codec: what each container
and codec gets; colour: RGB to Y'CbCr; audio: the audio track copied beside the video.
"""

# `av` is re-exported because tests patch PyAV through this module (video.av.open).
import av as av

# The `x as x` names are not in __all__ but stay importable from here, as before the split:
# tests and bench scripts use them.
from faceless.media.video.codec import OUTPUT_EXTENSIONS, VIDEO_EXTENSIONS
from faceless.media.video.codec import X264_PRESETS as X264_PRESETS
from faceless.media.video.codec import (
    _x264_cpu_without_avx512 as _x264_cpu_without_avx512,
)
from faceless.media.video.codec import encoder_options as encoder_options
from faceless.media.video.codec import x264_same_bytes as x264_same_bytes
from faceless.media.video.colour import Span as Span
from faceless.media.video.colour import _Coding as _Coding
from faceless.media.video.colour import _rgb_to_yuv420 as _rgb_to_yuv420
from faceless.media.video.colour import _split as _split
from faceless.media.video.colour import _ycbcr_matrix as _ycbcr_matrix
from faceless.media.video.read import (
    VideoFrame,
    VideoInfo,
    Yuv,
    iter_frames,
    open_input,
    probe_video,
    rgb_of,
)
from faceless.media.video.write import AudioMode, VideoOptions, VideoWriter

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
    "open_input",
    "probe_video",
    "rgb_of",
]
