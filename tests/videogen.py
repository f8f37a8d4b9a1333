"""Test helper: writes small synthetic video (and audio) clips with PyAV. Not a test module.

Other test modules import `make_video` and `make_audio`; keep their signatures stable.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from faceless.media.video import x264_same_bytes

__all__ = ["frame_pattern", "make_audio", "make_video"]

AUDIO_RATE = 48000


def frame_pattern(index: int, size: tuple[int, int]) -> np.ndarray:
    """A deterministic (H, W, 3) uint8 RGB test picture that differs from frame to frame."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x * 255 // max(1, width - 1)).astype(np.uint8)
    image[..., 1] = (y * 255 // max(1, height - 1)).astype(np.uint8)
    image[..., 2] = (index * 37) % 256
    return image


def _pix_fmt(codec: str, width: int, height: int) -> str:
    formats = [f.name for f in (av.Codec(codec, "w").video_formats or [])]
    wanted = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    return wanted if not formats or wanted in formats else formats[0]


def _codec_options(codec: str) -> dict[str, str]:
    """x264 as VideoWriter runs it, so a clip has the same bytes in every process."""
    return x264_same_bytes() if codec == "libx264" else {}


def _write_audio(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    total = round(seconds * AUDIO_RATE)
    channels = stream.layout.nb_channels
    done = 0
    while done < total:
        n = min(1024, total - done)
        t = np.arange(done, done + n) / AUDIO_RATE
        tone = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(tone[None], channels, axis=0), format="fltp", layout=stream.layout.name
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = done
        frame.time_base = Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(frame))
        done += n
    container.mux(stream.encode(None))


def make_video(
    path: Path,
    frames: list[np.ndarray] | int,
    *,
    size: tuple[int, int] = (64, 48),
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 30),
    rate: int = 30,
    audio: bool | str = False,
    rotation: int = 0,
    metadata: dict[str, str] | None = None,
    codec: str = "libx264",
) -> Path:
    """Write a test clip and return its path; the container follows the suffix of `path`.

    frames:    a list of (H, W, 3) uint8 RGB pictures (as stored, before any rotation), or a
               count of `frame_pattern` pictures of `size` (W, H). A list sets the size itself.
    pts:       presentation timestamps in `time_base` units (default 0, 1, 2, ...); irregular
               values make a variable-frame-rate clip.
    rate:      nominal frame rate given to the encoder and container.
    audio:     False, True (AAC mono 440 Hz tone as long as the video), or an encoder name such
               as "pcm_mulaw" or "libopus".
    rotation:  clockwise degrees a player turns the stored pictures to show them upright (what a
               phone writes for portrait video: 90); stored as a display matrix.
    metadata:  container tags, e.g. {"title": ..., "location": "+48.8577+002.2950/"}.
    codec:     video encoder name.
    """
    path = Path(path)
    if isinstance(frames, int):
        images = [frame_pattern(i, size) for i in range(frames)]
    else:
        images = [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]
    if not images:
        raise ValueError("make_video needs at least one frame")
    height, width = images[0].shape[:2]
    stamps = list(range(len(images))) if pts is None else list(pts)
    if len(stamps) != len(images):
        raise ValueError(f"{len(images)} frames but {len(stamps)} timestamps")

    with av.open(str(path), mode="w") as container:
        if metadata:
            container.metadata.update(metadata)
        stream = container.add_stream(codec, rate=rate, time_base=time_base,
                                      options=_codec_options(codec))
        stream.width, stream.height = width, height
        stream.pix_fmt = _pix_fmt(codec, width, height)
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        if path.suffix.lower() in (".ts", ".mts", ".flv", ".avi", ".wmv"):
            # Without B-frames these containers keep the given timestamps instead of shifting.
            stream.codec_context.max_b_frames = 0
        if rotation % 360:
            # PyAV takes FFmpeg's counter-clockwise angle; players rotate clockwise by -angle.
            stream.set_display_rotation(-(rotation % 360))
        audio_stream = None
        if audio:
            audio_stream = container.add_stream(
                "aac" if audio is True else str(audio), rate=AUDIO_RATE
            )
            audio_stream.layout = "mono"
        for image, stamp in zip(images, stamps, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = stamp
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            last = stamps[-1] + max(1, round(1 / (rate * time_base)))
            _write_audio(container, audio_stream, float(last * time_base))
    return path


def make_audio(path: Path, seconds: float = 1.0, codec: str = "aac") -> Path:
    """Write an audio-only file (a 440 Hz tone) and return its path."""
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=AUDIO_RATE)
        stream.layout = "mono"
        _write_audio(container, stream, seconds)
    return path


def decode_all(path: Path) -> list[tuple[float, np.ndarray]]:
    """(seconds, RGB pixels) of every frame of a video, in order."""
    with av.open(str(path)) as c:
        return [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24"))
                for f in c.decode(video=0)]
