"""Tests for faceless.media.video: streaming decode, exact-timing encode, rotation, audio, tags."""

from __future__ import annotations

import inspect
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
import pytest

from faceless.core.errors import MediaReadError, MediaWriteError, UnsupportedFormatError
from faceless.core.types import FrameRef
from faceless.media import video as video_mod
from faceless.media.video import (
    OUTPUT_EXTENSIONS,
    VIDEO_EXTENSIONS,
    AudioMode,
    VideoOptions,
    VideoWriter,
    iter_frames,
    probe_video,
)
from videogen import frame_pattern, make_audio, make_video

VFR_PTS = [0, 1, 2, 5, 6, 10, 11, 12, 20, 21, 22, 30, 31, 40, 41, 42, 43, 50, 51, 60]


def transcode(src: Path, dst: Path, options: VideoOptions = VideoOptions(), **kw) -> Path:  # noqa: B008
    info = probe_video(src)
    with VideoWriter(dst, info, options, audio_source=kw.get("audio_source", src)) as writer:
        for frame in iter_frames(src):
            writer.write(frame.image, frame.ref)
    return dst


def stream_types(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [s.type for s in container.streams]


def container_tags(path: Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
        for stream in container.streams:
            tags.update({f"stream:{k.lower()}": v for k, v in stream.metadata.items()})
        return tags


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


# ---------------------------------------------------------------------------------- reading


def test_extension_sets() -> None:
    assert {".mp4", ".mov", ".mkv", ".avi", ".webm", ".mts", ".3gp"} <= VIDEO_EXTENSIONS
    assert all(e == e.lower() and e.startswith(".") for e in VIDEO_EXTENSIONS)
    assert len(VIDEO_EXTENSIONS) == 13
    assert OUTPUT_EXTENSIONS <= VIDEO_EXTENSIONS


def test_probe_describes_the_video(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 12, size=(64, 48))
    info = probe_video(src)
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.frame_count == 12
    assert info.codec == "h264"
    assert info.has_audio is False
    assert info.average_rate == 30
    assert info.duration == pytest.approx(12 / 30, abs=0.05)
    assert isinstance(info.time_base, Fraction) and info.path == src


def test_iter_frames_yields_rgb_in_presentation_order(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", 10, size=(64, 48))
    frames = list(iter_frames(src))
    assert [f.ref.index for f in frames] == list(range(10))
    seconds = [f.ref.seconds for f in frames]
    assert seconds == sorted(seconds) and seconds[1] == pytest.approx(1 / 30, abs=1e-3)
    for i, frame in enumerate(frames):
        assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
        assert frame.image.flags.c_contiguous
        # Blue channel encodes the frame index: checks frames are not reordered or repeated.
        assert abs(int(frame.image[24, 32, 2]) - (i * 37) % 256) <= 6


class _SpyContainer:
    """Wraps an input container to count demuxed packets and see whether it gets closed."""

    instances: list[_SpyContainer] = []  # noqa: RUF012 - per-test registry, reset by fixture

    def __init__(self, inner: av.container.InputContainer) -> None:
        self._inner = inner
        self.packets = 0
        self.closed = False
        _SpyContainer.instances.append(self)

    def demux(self, *args, **kwargs):
        for packet in self._inner.demux(*args, **kwargs):
            self.packets += 1
            yield packet

    def close(self) -> None:
        self.closed = True
        self._inner.close()

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


@pytest.fixture
def spy_open(monkeypatch: pytest.MonkeyPatch) -> list[_SpyContainer]:
    real_open = av.open
    _SpyContainer.instances = []

    def fake_open(file, mode="r", **kwargs):
        container = real_open(file, mode, **kwargs)
        return _SpyContainer(container) if mode == "r" else container

    monkeypatch.setattr(video_mod.av, "open", fake_open)
    return _SpyContainer.instances


def test_iter_frames_streams_and_closes_container(tmp_path: Path, spy_open) -> None:
    src = make_video(tmp_path / "in.mp4", 40, size=(64, 48))
    frames = iter_frames(src)
    assert inspect.isgenerator(frames)
    first = next(frames)
    assert first.ref.index == 0
    (spy,) = spy_open
    # Only the packets needed for the first picture (plus decoder delay) have been read.
    assert spy.packets < 20
    assert not spy.closed
    frames.close()
    assert spy.closed


def test_iter_frames_closes_container_when_exhausted(tmp_path: Path, spy_open) -> None:
    src = make_video(tmp_path / "in.mp4", 5)
    assert len(list(iter_frames(src))) == 5
    assert all(spy.closed for spy in spy_open)


# ---------------------------------------------------------------------------------- timing


@pytest.mark.parametrize("time_base", [Fraction(1, 30), Fraction(1, 1000)])
def test_round_trip_keeps_variable_frame_rate_timestamps(tmp_path: Path, time_base) -> None:
    pts = VFR_PTS if time_base == Fraction(1, 30) else [p * 37 for p in VFR_PTS]
    src = make_video(tmp_path / "in.mp4", len(pts), pts=pts, time_base=time_base)
    out = transcode(src, tmp_path / "out.mp4")
    want = [f.ref.seconds for f in iter_frames(src)]
    got = [f.ref.seconds for f in iter_frames(out)]
    assert want == pytest.approx([float(p * time_base) for p in pts], abs=1e-9)
    assert len(got) == len(want) == len(pts)
    assert got == pytest.approx(want, abs=1e-6)
    out_info = probe_video(out)
    assert (out_info.width, out_info.height) == (64, 48)
    assert out_info.frame_count == len(pts)


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".ts"])
def test_a_late_start_is_kept(tmp_path: Path, suffix: str) -> None:
    # Trimmed clips and MPEG-TS recordings start after 0 s, often on a 1/90000 s clock.
    pts = [6006 + 3003 * i for i in range(10)]
    src = make_video(tmp_path / "in.ts", 10, pts=pts, time_base=Fraction(1, 90000))
    out = transcode(src, tmp_path / f"out{suffix}")
    want = [p / 90000 for p in pts]
    assert [f.ref.seconds for f in iter_frames(src)] == pytest.approx(want, abs=1e-9)
    tolerance = 0.6e-3 if suffix == ".mkv" else 1e-9
    assert [f.ref.seconds for f in iter_frames(out)] == pytest.approx(want, abs=tolerance)


def test_mp4_output_is_fast_start(tmp_path: Path) -> None:
    data = transcode(make_video(tmp_path / "in.mp4", 5), tmp_path / "out.mp4").read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".webm", ".avi", ".ts", ".flv"])
def test_every_output_format_keeps_count_size_and_times(tmp_path: Path, suffix: str) -> None:
    src = make_video(tmp_path / "in.mp4", len(VFR_PTS), pts=VFR_PTS, size=(48, 32))
    out = transcode(src, tmp_path / f"out{suffix}")
    want = [f.ref.seconds for f in iter_frames(src)]
    got = list(iter_frames(out))
    assert len(got) == len(want)
    assert got[0].image.shape == (32, 48, 3)
    # Matroska, WebM and FLV count in milliseconds.
    assert [f.ref.seconds for f in got] == pytest.approx(want, abs=0.6e-3)
    assert stream_types(out) == ["video"]


def _x264_options(path: Path) -> str:
    """The settings x264 wrote into its stream (its SEI: 'x264 - core ... options: ...')."""
    data = path.read_bytes()
    start = data.index(b"x264 - core")
    return data[start:data.index(b"\x00", start)].decode("ascii", "replace")


def _frame_types(path: Path) -> set[str]:
    with av.open(str(path)) as container:
        return {av.video.frame.PictureType(int(f.pict_type)).name
                for f in container.decode(video=0)}


def test_no_b_frames_by_default_and_the_presets_own_when_asked(tmp_path: Path) -> None:
    """No B-frames by default: they cost x264 more CPU than their smaller files are worth
    (VideoOptions.bframes); None keeps the preset's."""
    src = make_video(tmp_path / "src.mp4", 24, size=(96, 64))
    plain = transcode(src, tmp_path / "plain.mp4")
    own = transcode(src, tmp_path / "own.mp4", VideoOptions(bframes=None))
    two = transcode(src, tmp_path / "two.mp4", VideoOptions(bframes=2))
    assert " bframes=0 " in _x264_options(plain)
    assert " bframes=3 " in _x264_options(own)  # veryfast's own
    assert " bframes=2 " in _x264_options(two)
    assert "B" not in _frame_types(plain)
    assert "B" in _frame_types(own)  # so the check above can tell
    # Every frame and time is kept whichever way it is coded.
    assert [f.ref.pts for f in iter_frames(plain)] == [f.ref.pts for f in iter_frames(src)]
    for bad in (17, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="bframes"):
            VideoOptions(bframes=bad)


@pytest.mark.parametrize("suffix", [".ts", ".flv"])
def test_b_frames_asked_for_are_not_written_where_the_container_cannot_reorder(
        tmp_path: Path, suffix: str) -> None:
    """MPEG-TS and FLV carry no reordering delay: B-frames there shift every timestamp."""
    src = make_video(tmp_path / "src.mp4", 24, size=(96, 64))
    out = transcode(src, tmp_path / f"out{suffix}", VideoOptions(bframes=2))
    assert "B" not in _frame_types(out)
    tolerance = 0.6e-3 if suffix == ".flv" else 1e-9
    assert [f.ref.seconds for f in iter_frames(out)] == pytest.approx(
        [f.ref.seconds for f in iter_frames(src)], abs=tolerance)


@pytest.mark.parametrize("preset", ["", "quick", "VeryFast"])
def test_an_unknown_preset_is_refused_not_read_as_a_number(preset: str) -> None:
    with pytest.raises(ValueError, match="preset"):
        VideoOptions(preset=preset)
    VideoOptions(codec="libvpx-vp9", preset=preset)  # presets are x264's and x265's


def test_webm_uses_vp9(tmp_path: Path) -> None:
    out = transcode(make_video(tmp_path / "in.mp4", 4), tmp_path / "out.webm")
    assert probe_video(out).codec == "vp9"


def test_writer_rescales_refs_from_another_time_base(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 6, time_base=Fraction(1, 30))
    info = probe_video(src)
    refs = [FrameRef(i, p, Fraction(1, 1000)) for i, p in enumerate([0, 100, 200, 500, 600, 900])]
    with VideoWriter(tmp_path / "out.mp4", info) as writer:
        for ref in refs:
            writer.write(frame_pattern(ref.index, (64, 48)), ref)
    got = [f.ref.seconds for f in iter_frames(tmp_path / "out.mp4")]
    assert got == pytest.approx([r.seconds for r in refs], abs=1e-3)


def test_odd_size_is_kept_exactly(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 6, size=(321, 241))
    info = probe_video(src)
    assert (info.width, info.height) == (321, 241)
    out = transcode(src, tmp_path / "out.mp4", VideoOptions(crf=10))
    frames = list(iter_frames(out))
    assert len(frames) == 6
    assert frames[0].image.shape == (241, 321, 3)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv444p"
    original = next(iter_frames(src)).image.astype(int)
    assert np.abs(frames[0].image.astype(int) - original).mean() < 3


def test_flat_colour_round_trips(tmp_path: Path) -> None:
    colour = np.array([200, 30, 90])
    image = np.broadcast_to(colour.astype(np.uint8), (48, 64, 3)).copy()
    src = make_video(tmp_path / "in.mp4", [image] * 5)
    out = transcode(src, tmp_path / "out.mp4", VideoOptions(crf=5))
    for frame in iter_frames(out):
        assert np.abs(frame.image.astype(int) - colour).max() <= 4


# ---------------------------------------------------------------------------------- rotation


def marked_landscape() -> np.ndarray:
    """A 64x32 picture, stored landscape, with a red 6x6 marker in its top-left corner."""
    image = np.full((32, 64, 3), 40, np.uint8)
    image[:6, :6] = (255, 0, 0)
    return image


def marker_corner(image: np.ndarray) -> str:
    h, w = image.shape[:2]
    corners = {
        "top-left": image[:4, :4],
        "top-right": image[:4, w - 4 :],
        "bottom-left": image[h - 4 :, :4],
        "bottom-right": image[h - 4 :, w - 4 :],
    }
    (corner,) = [n for n, px in corners.items() if px[..., 0].mean() > 180 > px[..., 1].mean()]
    return corner


def test_phone_rotation_matches_the_quicktime_matrix(tmp_path: Path) -> None:
    # An iPhone portrait clip carries the tkhd matrix (a, b, c, d) = (0, 1, -1, 0) and players
    # show it turned 90 degrees clockwise; make_video(rotation=90) must write exactly that.
    src = make_video(tmp_path / "in.mov", [marked_landscape()] * 3, rotation=90)
    with av.open(str(src)) as container:
        frame = next(container.decode(video=0))
        matrix = np.frombuffer(bytes(memoryview(frame.side_data["DISPLAYMATRIX"])), "<i4")
    assert list(matrix[[0, 1, 3, 4]]) == [0, 65536, -65536, 0]
    assert frame.rotation == -90  # FFmpeg's counter-clockwise angle


@pytest.mark.parametrize(
    ("rotation", "size", "corner"),
    [
        (0, (64, 32), "top-left"),
        (90, (32, 64), "top-right"),
        (180, (64, 32), "bottom-right"),
        (270, (32, 64), "bottom-left"),
    ],
)
def test_rotation_is_applied_before_frames_are_yielded(
    tmp_path: Path, rotation: int, size: tuple[int, int], corner: str
) -> None:
    src = make_video(tmp_path / "in.mp4", [marked_landscape()] * 4, rotation=rotation)
    info = probe_video(src)
    assert (info.width, info.height, info.rotation) == (*size, rotation)
    frames = list(iter_frames(src))
    assert frames[0].image.shape == (size[1], size[0], 3)
    assert marker_corner(frames[0].image) == corner

    out = transcode(src, tmp_path / "out.mp4", VideoOptions(crf=10))
    out_info = probe_video(out)
    assert (out_info.width, out_info.height, out_info.rotation) == (*size, 0)
    with av.open(str(out)) as container:
        assert next(container.decode(video=0)).rotation == 0
        assert "rotate" not in container.streams.video[0].metadata
    assert marker_corner(next(iter_frames(out)).image) == corner


def test_mirrored_display_matrix_is_applied(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(0, hflip=True)
        for _ in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(marked_landscape())))
        container.mux(stream.encode(None))
    assert marker_corner(next(iter_frames(src)).image) == "top-right"


# ---------------------------------------------------------------------------------- audio


def test_audio_is_dropped_by_default(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 10, audio=True)
    assert probe_video(src).has_audio
    out = transcode(src, tmp_path / "out.mp4")
    assert stream_types(out) == ["video"]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_audio_keep_copies_packets_without_reencoding(tmp_path: Path, suffix: str) -> None:
    src = make_video(tmp_path / "in.mp4", 30, audio=True)
    out = transcode(src, tmp_path / f"out{suffix}", VideoOptions(audio=AudioMode.KEEP))
    assert stream_types(out) == ["video", "audio"]
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    copied, original = audio_packets(out), audio_packets(src)
    # Identical bytes: copied, not re-encoded (Matroska drops the pre-roll packet before 0 s).
    assert copied == original[-len(copied) :] and len(copied) >= len(original) - 1
    # Keeping audio must not move the video.
    want = [f.ref.seconds for f in iter_frames(src)]
    assert [f.ref.seconds for f in iter_frames(out)] == pytest.approx(want, abs=0.6e-3)


def test_audio_keep_reencodes_when_the_container_cannot_hold_it(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mov", 30, audio="pcm_mulaw")
    with av.open(str(src)) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_mulaw"
    out = transcode(src, tmp_path / "out.mp4", VideoOptions(audio=AudioMode.KEEP))
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        samples = sum(f.samples for f in container.decode(audio))
    assert samples == pytest.approx(48000, rel=0.1)  # one second of sound survives


def test_audio_is_interleaved_with_video(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", 30, audio=True)
    out = transcode(src, tmp_path / "out.mkv", VideoOptions(audio=AudioMode.KEEP))
    with av.open(str(out)) as container:
        order = [p.stream.type for p in container.demux() if p.size]
    first_video = order.index("video")
    last_video = len(order) - 1 - order[::-1].index("video")
    # Audio packets sit between video packets, not all at the end.
    assert "audio" in order[first_video:last_video]


def test_audio_keep_from_a_silent_source_writes_video_only(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 5)
    out = transcode(src, tmp_path / "out.mp4", VideoOptions(audio=AudioMode.KEEP))
    assert stream_types(out) == ["video"]


# ---------------------------------------------------------------------------------- metadata

PRIVATE_TAGS = {
    "title": "Birthday at home",
    "comment": "private comment",
    "creation_time": "2021-06-01T12:00:00Z",
    "location": "+48.8577+002.2950/",
}


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_tags_are_stripped_by_default(tmp_path: Path, suffix: str) -> None:
    src = make_video(tmp_path / f"in{suffix}", 5, metadata=PRIVATE_TAGS)
    before = container_tags(src)
    assert {"title", "comment", "creation_time", "location"} <= before.keys()
    after = container_tags(transcode(src, tmp_path / f"out{suffix}"))
    leaked = {
        k
        for k in after
        if any(word in k for word in ("title", "comment", "creation", "location", "date"))
    }
    assert not leaked, after
    assert "Birthday" not in str(after) and "48.85" not in str(after)


def test_keep_metadata_keeps_tags_but_never_location_or_device(tmp_path: Path) -> None:
    tags = {
        **PRIVATE_TAGS,
        "make": "Apple",
        "model": "iPhone 15",
        "com.apple.quicktime.location.ISO6709": "+48.8577+002.2950/",
        "com.apple.quicktime.make": "Apple",
        "serial_number": "F2LX1234",
    }
    src = make_video(tmp_path / "in.mkv", 5, metadata=tags)
    assert {"make", "model", "serial_number"} <= container_tags(src).keys()
    out = transcode(src, tmp_path / "out.mkv", VideoOptions(keep_metadata=True))
    after = container_tags(out)
    assert after["title"] == "Birthday at home" and after["comment"] == "private comment"
    assert "creation_time" in after
    for word in ("location", "make", "model", "serial", "iso6709"):
        assert not any(word in k for k in after), after
    assert "48.85" not in str(after) and "iPhone" not in str(after)


def test_only_one_video_stream_is_written(tmp_path: Path) -> None:
    src = tmp_path / "in.mkv"
    make_video(src, 5, audio=True)
    # An input with a second audio track and a JPEG attachment, which FFmpeg reads back as a
    # cover-art picture: a second "video" stream that must be neither decoded nor copied.
    extra = tmp_path / "extra.mkv"
    with av.open(str(src)) as inp, av.open(str(extra), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        out.add_stream_from_template(inp.streams.audio[0])
        out.add_attachment("cover.jpg", "image/jpeg", b"\xff\xd8\xff\xd9")
        for packet in inp.demux():
            if packet.size:
                packet.stream = streams[packet.stream_index]
                out.mux(packet)
    with av.open(str(extra)) as container:
        cover = container.streams.video[-1]
        assert len(container.streams.video) == 2
        assert cover.disposition & av.stream.Disposition.attached_pic
    assert probe_video(extra).codec == "h264"
    assert stream_types(transcode(extra, tmp_path / "out.mkv")) == ["video"]
    kept = transcode(extra, tmp_path / "kept.mkv", VideoOptions(audio=AudioMode.KEEP))
    assert stream_types(kept) == ["video", "audio"]


# ---------------------------------------------------------------------------------- errors


def one_line_naming(exc: BaseException, path: Path) -> str:
    message = str(exc)
    assert path.name in message and "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    for call in (probe_video, lambda p: list(iter_frames(p))):
        with pytest.raises(MediaReadError) as info:
            call(missing)
        assert "Check the path" in one_line_naming(info.value, missing)


@pytest.mark.parametrize("kind", ["empty", "text", "truncated"])
def test_unreadable_files(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "text":
        bad.write_text("this is not a video\n" * 20)
    else:
        data = make_video(tmp_path / "good.mp4", 20).read_bytes()
        bad.write_bytes(data[: int(len(data) * 0.4)])
    for call in (probe_video, lambda p: list(iter_frames(p))):
        with pytest.raises(MediaReadError) as info:
            call(bad)
        one_line_naming(info.value, bad)
    if kind == "empty":
        assert "empty" in str(info.value)


def test_audio_only_file_is_unsupported(tmp_path: Path) -> None:
    audio = make_audio(tmp_path / "sound.m4a", seconds=0.5)
    with pytest.raises(UnsupportedFormatError) as info:
        probe_video(audio)
    assert "no video stream" in one_line_naming(info.value, audio)


def test_truncated_stream_ends_early_without_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noisy = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(20)]
    data = make_video(tmp_path / "good.mkv", noisy).read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    assert probe_video(cut).frame_count in (None, 20)
    frames = list(iter_frames(cut))
    assert 0 < len(frames) < 20


def test_decode_error_mid_stream_is_wrapped(tmp_path: Path, monkeypatch) -> None:
    src = make_video(tmp_path / "in.mp4", 20)
    real_open = av.open

    class Failing(_SpyContainer):
        def demux(self, *args, **kwargs):
            for n, packet in enumerate(self._inner.demux(*args, **kwargs)):
                if n == 8:
                    raise av.error.InvalidDataError(1094995529, "Invalid data found")
                yield packet

    monkeypatch.setattr(video_mod.av, "open", lambda f, mode="r", **kw: Failing(real_open(f)))
    frames = iter_frames(src)
    next(frames)
    with pytest.raises(MediaReadError) as info:
        list(frames)
    assert isinstance(info.value.__cause__, av.error.FFmpegError)
    one_line_naming(info.value, src)


def test_writer_errors(tmp_path: Path, monkeypatch) -> None:
    info = probe_video(make_video(tmp_path / "in.mp4", 3))
    with pytest.raises(MediaWriteError, match="folder"):
        VideoWriter(tmp_path / "no" / "such" / "dir" / "out.mp4", info)
    with pytest.raises(MediaWriteError):
        VideoWriter(tmp_path / "out.mp4", info, VideoOptions(codec="no-such-codec"))
    with pytest.raises(MediaWriteError, match="not a supported output format"):
        VideoWriter(tmp_path / "out.mpg", info)
    monkeypatch.setattr(video_mod.av, "codecs_available", {"libx264", "aac"})
    with pytest.raises(MediaWriteError, match="libvpx-vp9"):
        VideoWriter(tmp_path / "out.webm", info)


def test_writer_rejects_a_frame_of_the_wrong_size(tmp_path: Path) -> None:
    info = probe_video(make_video(tmp_path / "in.mp4", 3))
    writer = VideoWriter(tmp_path / "out.mp4", info)
    with pytest.raises(ValueError, match="expected"):
        writer.write(np.zeros((10, 10, 3), np.uint8), FrameRef(0))
    writer.abort()


def test_exception_inside_with_aborts_and_propagates(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 5)
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(out, probe_video(src)) as writer:
        for frame in iter_frames(src):
            writer.write(frame.image, frame.ref)
            raise RuntimeError("boom")
    out.unlink(missing_ok=True)  # the caller deletes the abandoned file; nothing holds it


def test_closing_without_frames_is_an_error(tmp_path: Path) -> None:
    info = probe_video(make_video(tmp_path / "in.mp4", 3))
    writer = VideoWriter(tmp_path / "out.mp4", info)
    with pytest.raises(MediaWriteError, match="no frames"):
        writer.close()


def test_full_range_input_decodes_to_the_right_colours(tmp_path: Path) -> None:
    # Phones often record full-range ("pc", 0-255) YUV; reading it as limited range would
    # stretch the contrast.
    colour = np.array([230, 20, 120])
    image = np.broadcast_to(colour.astype(np.uint8), (32, 48, 3)).copy()
    src = tmp_path / "in.mp4"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"crf": "5"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.codec_context.color_range = 2  # JPEG / full
        for i in range(3):
            rgb = av.VideoFrame.from_ndarray(image)
            frame = rgb.reformat(format="yuv420p", dst_color_range=2)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    for frame in iter_frames(src):
        assert np.abs(frame.image.astype(int) - colour).max() <= 4
