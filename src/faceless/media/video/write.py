"""Encoding: VideoWriter and its options, writing upright RGB frames at their exact times."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import cast

import av
import av.error
import numpy as np

from faceless.core.errors import ConfigError, MediaReadError, MediaWriteError
from faceless.core.types import FrameRef
from faceless.media.files import shown
from faceless.media.video.audio import AudioCut, _AudioPump
from faceless.media.video.codec import (
    _CRF_CODECS,
    _MOV_LIKE,
    _NO_REORDER,
    X264_PRESETS,
    _encoder_time_base,
    _pick_pix_fmt,
    _pick_video_codec,
    encoder_options,
)
from faceless.media.video.colour import _BT709, Span, _Coding, _rgb_to_yuv420, _split
from faceless.media.video.read import VideoInfo, Yuv, _reason, ffmpeg_url, open_input

# The package's one logger: its name is what the log shows and what users filter on.
log = logging.getLogger(__package__)


class AudioMode(StrEnum):
    """What happens to the input's audio track."""

    DROP = "drop"
    KEEP = "keep"


@dataclass(frozen=True)
class VideoOptions:
    """How the output video is encoded."""

    codec: str = "libx264"
    crf: int = 18  # quality: lower is better
    # veryfast: far less encoder CPU than medium for slightly larger files; the CRF sets the
    # quality, so the preset trades only size for speed (docs/decisions/0004).
    preset: str = "veryfast"
    # x264 B-frames; None keeps the preset's own (as an explicit --preset does). Zero saves
    # encoder CPU for slightly larger files at the same quality (docs/decisions/0004).
    bframes: int | None = 0
    audio: AudioMode = AudioMode.DROP
    keep_metadata: bool = False
    # Fail a video that decodes fewer frames than its container declares (damaged part-way)
    # instead of finishing a shorter release with a warning.
    strict: bool = False

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


# Container tags that can locate or identify a person or their device: never copied.
_PRIVATE_TAG_WORDS = (
    "location", "gps", "xyz", "iso6709", "latitude", "longitude", "geo",
    "make", "model", "serial", "manufacturer", "device", "software", "identifier", "uuid",
)  # fmt: skip


def _tag_is_private(key: str) -> bool:
    low = key.lower()
    return any(word in low for word in _PRIVATE_TAG_WORDS)


def _write_reason(exc: BaseException) -> str:
    """Why a write failed, with what to do where the disk or the folder is at fault."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (f"{_reason(exc)}: the disk is full (or the file would exceed the size this "
                "system allows); free some space and run again")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{_reason(exc)}: check that the output folder is writable and run again"
    return _reason(exc)


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
        audio_cuts: Sequence[AudioCut] = (),
    ) -> None:
        self.path = Path(path)
        self.shown = shown(self.path)  # the name messages use (never atomic_output's temporary)
        self.info = info
        self.options = options
        self._audio_source = Path(audio_source) if audio_source is not None else None
        self._audio_cuts = tuple(audio_cuts)  # ranges a review silenced (kept audio only)
        self._audio: _AudioPump | None = None
        self._frames = 0
        self._last_pts: int | None = None
        self._closed = False
        self._coding: _Coding | None = None  # chosen at the first frame
        codec = _pick_video_codec(self.shown, options.codec)
        self._pix_fmt = _pick_pix_fmt(codec, info.width, info.height)
        self._time_base = _encoder_time_base(codec, info)
        # FFmpeg opens the file only when the first frame is muxed; fail here, with a reason.
        folder = self.path.parent
        if not folder.is_dir():
            raise MediaWriteError(
                f"Cannot write {self.shown}: the folder {folder} does not exist. Create it first."
            )
        if not os.access(folder, os.W_OK):
            raise MediaWriteError(
                f"Cannot write {self.shown}: the folder {folder} is not writable. Check its "
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
            self._container = av.open(ffmpeg_url(self.path), mode="w", options=container_options)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MediaWriteError(
                f"Cannot write {self.shown}: {_reason(exc)}. Check that the folder exists and is "
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
                    f"Cannot write {self.shown} with codec {codec}: {_reason(exc)}."
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
        # A video codec name gives a video stream; PyAV's types cannot tell from a str.
        stream = cast("av.VideoStream", self._container.add_stream(
            codec,
            rate=rate,
            time_base=self._time_base,
            options=encoder_options(codec, options),
        ))
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
                log.warning("audio KEEP without an audio source; %s gets no audio", self.shown)
            else:
                self._audio = _AudioPump(self._audio_source, self._container, self.shown,
                                         self._audio_cuts)

    def _copy_tags(self) -> None:
        try:
            with open_input(self.info.path) as src:
                tags = dict(src.metadata)
        except (av.error.FFmpegError, OSError) as exc:  # MediaReadError is an OSError
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
            log.warning("%s: frame %d does not advance in time; shifted", self.shown,
                        ref.index)
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
            raise MediaWriteError(f"Cannot write {self.shown}: the writer is already closed.")
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
                f"Cannot write {self.shown} at frame {ref.index}: {_write_reason(exc)}."
            ) from exc

    def close(self) -> None:
        """Flush the encoder, mux the rest of the audio, and finish the file."""
        if self._closed:
            return
        try:
            if self._frames == 0:
                raise MediaWriteError(f"Cannot write {self.shown}: no frames were written.")
            declared = self.info.frame_count
            if self.options.strict and declared and self._frames < declared:
                raise MediaReadError(
                    f"{self.info.path}: decoded {self._frames} of the {declared} frames the "
                    "container declares: the file is damaged or cut off part-way, and strict "
                    "mode fails such items. Re-copy the file, or run without --strict to "
                    "release the frames that decode.")
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.advance(None)
            self._container.close()
        except av.error.FFmpegError as exc:
            self.abort()
            raise MediaWriteError(f"Cannot finish {self.shown}: {_write_reason(exc)}.") from exc
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
                log.debug("ignoring error while aborting %s: %s", self.shown, exc)

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
