"""Audio for VideoWriter: copy (or re-encode) the input's audio track beside the new video,
silencing or bleeping the time ranges a review marked."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import av.error
import numpy as np

from faceless.core.errors import MediaReadError
from faceless.media.video.codec import _MOV_LIKE
from faceless.media.video.read import _reason, open_input

# The package's one logger: its name is what the log shows and what users filter on.
log = logging.getLogger(__package__)

# FFmpeg answers "don't know" rather than "yes" for these, though the muxers take them.
_ALSO_COPYABLE = {"mpegts": frozenset({"aac", "mp3", "mp2", "ac3", "eac3", "opus"})}

BLEEP_HZ = 1000.0
BLEEP_LEVEL = 0.25  # of full scale: clearly a tone, not a shock in headphones


@dataclass(frozen=True)
class AudioCut:
    """Samples in [start, end) seconds of the media's clock (the frames' clock) replaced by
    silence, or by a 1 kHz tone when `bleep`."""

    start: float
    end: float
    bleep: bool = False


def apply_cuts(frame: av.AudioFrame, cuts: Sequence[AudioCut]) -> av.AudioFrame:
    """`frame` with the samples inside `cuts` silenced or bleeped (a new frame, or `frame`
    itself when no cut touches it). A sample's time is the frame's pts plus its position."""
    if not cuts or not frame.samples:
        return frame
    if frame.pts is None or frame.time_base is None:
        # Fail closed: without a time no sample can be placed, so none can be released.
        raise MediaReadError("an audio frame has no timestamp, so the ranges to mute cannot "
                             "be placed; drop the audio instead")
    rate = frame.sample_rate
    start = Fraction(frame.pts) * frame.time_base
    n = frame.samples
    hits = []
    for cut in cuts:
        # Sample i plays at start + i / rate and is cut when start <= its time < end, the
        # ends read as the decimals a plan writes (0.225 s, not the float just above it).
        lo = max(0, math.ceil((Fraction(str(cut.start)) - start) * rate))
        hi = min(n, math.ceil((Fraction(str(cut.end)) - start) * rate))
        if lo < hi:
            hits.append((lo, hi, cut.bleep))
    if not hits:
        return frame
    fmt = frame.format
    data = frame.to_ndarray()
    planar = fmt.is_planar
    channels = frame.layout.nb_channels
    # Packed audio is one row of interleaved samples; as (samples, channels) it is the same.
    view = data if planar else data.reshape(n, channels).T
    # Integer samples scale to their range; unsigned 8-bit audio is silent at 128, not 0.
    mid, peak = 0.0, 1.0
    if np.issubdtype(view.dtype, np.integer):
        info = np.iinfo(view.dtype.type)  # type: ignore[type-var]
        mid = 0.0 if info.min < 0 else float((info.max + 1) // 2)
        peak = float(info.max) - mid
    for lo, hi, bleep in hits:
        if not bleep:
            view[:, lo:hi] = mid
            continue
        t = float(start) + np.arange(lo, hi) / rate
        tone = mid + peak * BLEEP_LEVEL * np.sin(2 * np.pi * BLEEP_HZ * t)
        if np.issubdtype(view.dtype, np.integer):
            tone = np.round(tone)
        view[:, lo:hi] = tone.astype(view.dtype)[None, :]
    out = av.AudioFrame.from_ndarray(data, format=fmt.name, layout=frame.layout.name)
    out.sample_rate = rate
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out


class _AudioPump:
    """Copies (or re-encodes) audio from its own input, interleaved with the video frames."""

    def __init__(self, source: Path, out: av.container.OutputContainer, dest: Path,
                 cuts: Sequence[AudioCut] = ()) -> None:
        self._source = source
        self._out = out
        self._cuts = tuple(c for c in cuts if c.end > c.start)
        # Without edit lists a muxer shifts ALL streams to make a negative time (the priming
        # packet of AAC) non-negative, which would move the video; such packets are trimmed.
        self._trim_negative = dest.suffix.lower() not in _MOV_LIKE
        self._input = open_input(source)
        self._in_stream: av.AudioStream | None = None
        self._out_stream: av.AudioStream | None = None
        self._copy = False
        self._pending: tuple[av.Packet, int] | None = None
        self._done = False
        if not self._input.streams.audio:
            log.warning("%s has no audio track; writing %s without audio", source, dest)
            self._done = True
            return
        self._in_stream = self._input.streams.audio[0]
        in_codec = self._in_stream.codec_context.name
        copyable = (in_codec in out.supported_codecs
                    or in_codec in _ALSO_COPYABLE.get(out.format.name, ()))
        # A cut changes samples, so the track is decoded and encoded again.
        if copyable and not self._cuts:
            self._out_stream = out.add_stream_from_template(self._in_stream)
            self._copy = True
        else:
            target = self._transcode_codec(out)
            if self._cuts:
                log.info("re-encoding the audio of %s to %s to silence %d range(s)", dest,
                         target, len(self._cuts))
            else:
                log.info("%s cannot hold %s audio; re-encoding it to %s", dest, in_codec,
                         target)
            ctx = self._in_stream.codec_context
            # An audio codec name gives an audio stream; PyAV's types cannot tell from a str.
            stream = cast("av.AudioStream", out.add_stream(target, rate=ctx.sample_rate or 48000))
            stream.layout = ctx.layout.name if ctx.layout.nb_channels <= 2 else "stereo"
            ctx.thread_type = "AUTO"
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

    def _next(self) -> tuple[av.Packet, int] | None:
        """The next packet with data and a time, and that time (its pts, else its dts)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        try:
            for pkt in self._packets:
                when = pkt.pts if pkt.pts is not None else pkt.dts
                if pkt.size and when is not None:
                    return pkt, when
        except av.error.FFmpegError as exc:
            raise MediaReadError(
                f"Cannot read the audio of {self._source}: {_reason(exc)}."
            ) from exc
        return None

    def advance(self, until: float | None) -> None:
        """Mux audio up to `until` seconds (None: all of it)."""
        out, out_stream = self._out, self._out_stream
        while not self._done:
            assert out_stream is not None  # there is an audio track, so __init__ added its stream
            found = self._next()
            if found is None:
                self._done = True
                if not self._copy:
                    for frame in self._decode(None):
                        out.mux(out_stream.encode(frame))
                    out.mux(out_stream.encode(None))
                return
            pkt, when = found
            if until is not None and when * pkt.time_base > until:
                self._pending = found
                return
            if self._trim_negative and when < 0:
                end = when + (pkt.duration or 0)
                if end <= 0:
                    continue
                pkt.pts = 0 if pkt.pts is not None else None
                pkt.dts = 0 if pkt.dts is not None and pkt.dts < 0 else pkt.dts
            if self._copy:
                pkt.stream = out_stream
                out.mux(pkt)
            else:
                for frame in self._decode(pkt):
                    out.mux(out_stream.encode(frame))

    def _decode(self, pkt: av.Packet | None) -> list[av.AudioFrame]:
        """Decode one packet, or with None drain the decoder; cuts applied."""
        assert self._in_stream is not None
        try:
            frames = self._in_stream.codec_context.decode(pkt)
            return [apply_cuts(f, self._cuts) for f in frames] if self._cuts else frames
        except av.error.FFmpegError as exc:
            raise MediaReadError(
                f"Cannot decode the audio of {self._source}: {_reason(exc)}."
            ) from exc

    def close(self) -> None:
        self._input.close()

