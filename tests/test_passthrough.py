"""The writer encodes the decoder's own planes and converts only what was hidden."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from faceless.anonymize import Redactor
from faceless.anonymize.operators import Operator, OperatorSpec, Shape, redaction_mask
from faceless.api import write_frame
from faceless.core.geometry import pixel_span
from faceless.core.types import Decision, Kind, Origin, Region
from faceless.media.video import (
    VideoOptions,
    VideoWriter,
    _rgb_to_yuv420,
    _split,
    _ycbcr_matrix,
    iter_frames,
    probe_video,
)
from faceless.options import Options
from videogen import make_video

LOSSLESS = VideoOptions(crf=0)  # x264 at CRF 0 is lossless for 8-bit 4:2:0
MAGENTA = (255, 0, 255)


def textured(n: int, w: int = 96, h: int = 64, seed: int = 0) -> list[np.ndarray]:
    """Frames with detail everywhere (noise over a gradient), so a wrong pixel shows."""
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 200, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    return [np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
            for _ in range(n)]


def tagged_clip(path: Path, frames: list[np.ndarray], colorspace: int, color_range: int,
                primaries: int, trc: int) -> Path:
    """A clip whose stream carries the given colour tags (FFmpeg's enum values)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        cc = s.codec_context
        cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc = (
            colorspace, color_range, primaries, trc)
        for f in frames:
            frame = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=colorspace, dst_color_range=color_range)
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    return path


def stream_tags(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as c:
        f = next(c.decode(video=0))
        return (int(f.colorspace), int(f.color_range), int(f.color_primaries),
                int(f.color_trc))


def region(x1: float, y1: float, x2: float, y2: float) -> Region:
    return Region((x1, y1, x2, y2), Kind.FACE, 0.9, Origin.DETECTED, Decision.REDACT)


def test_pixels_outside_the_hidden_regions_are_the_sources_own(tmp_path):
    src = make_video(tmp_path / "in.mp4", textured(4))
    regions = [region(21.3, 11.7, 45.2, 30.1), region(60, 40, 95.5, 63.9), region(0, 0, 7, 9)]
    spec = OperatorSpec(Operator.FILL, Shape.ELLIPSE, color=MAGENTA)
    red = Redactor(Options(operator=spec).specs())
    dst = tmp_path / "out.mp4"
    sources = list(iter_frames(src, yuv=True))
    assert all(vf.yuv is not None for vf in sources)
    with VideoWriter(dst, probe_video(src), LOSSLESS) as w:
        for vf in sources:
            write_frame(w, vf, red, regions)
    outs = list(iter_frames(dst, yuv=True))
    assert len(outs) == len(sources)
    hidden = redaction_mask(64, 96, regions, spec)
    # Each region's box (its pixel span), widened to whole 2x2 blocks as chroma is shared:
    # converted back from RGB. Everything else must be the decoder's planes, bit for bit.
    spans = np.zeros((64, 96), bool)
    for r in regions:
        x1, y1, x2, y2 = pixel_span(r.box, 96, 64)
        spans[y1 // 2 * 2:-(-y2 // 2) * 2, x1 // 2 * 2:-(-x2 // 2) * 2] = True
    for vf, out in zip(sources, outs, strict=True):
        assert np.array_equal(out.yuv.y[~spans], vf.yuv.y[~spans])
        assert np.array_equal(out.yuv.u[~spans[::2, ::2]], vf.yuv.u[~spans[::2, ::2]])
        assert np.array_equal(out.yuv.v[~spans[::2, ::2]], vf.yuv.v[~spans[::2, ::2]])
        # In a span but outside its ellipse: the picture, through one RGB round trip.
        kept = spans & ~hidden
        assert np.abs(out.yuv.y[kept].astype(int) - vf.yuv.y[kept]).mean() < 2
        # Every hidden pixel is hidden in the file: its luma is magenta's (chroma is shared
        # with the neighbours in its 2x2 block, so the edge of an ellipse mixes colours).
        magenta_y = _ycbcr_matrix(2, 0)[0] @ np.array([*MAGENTA, 1.0])  # untagged: BT.601
        assert np.abs(out.yuv.y[hidden].astype(float) - magenta_y).max() <= 1.5


@pytest.mark.parametrize("op", list(Operator))
def test_every_operator_reaches_the_file(tmp_path, op):
    """Hiding through the passthrough path gives what the whole-frame conversion gives."""
    src = make_video(tmp_path / "in.mp4", textured(2, seed=3))
    regions = [region(10.5, 5, 50, 44.4), region(40, 30, 90, 62)]  # overlapping
    spec = OperatorSpec(op, Shape.ELLIPSE, color=MAGENTA)
    red = Redactor(Options(operator=spec).specs())
    info = probe_video(src)
    with (VideoWriter(tmp_path / "pass.mp4", info, LOSSLESS) as a,
          VideoWriter(tmp_path / "whole.mp4", info, LOSSLESS) as b):
        for vf in iter_frames(src, yuv=True):
            write_frame(a, vf, red, regions)
            b.write(red.hide(vf.image, regions), vf.ref)
    hidden = redaction_mask(64, 96, regions, spec)
    for p, q in zip(iter_frames(tmp_path / "pass.mp4"), iter_frames(tmp_path / "whole.mp4"),
                    strict=True):
        diff = np.abs(p.image.astype(int) - q.image.astype(int))
        # The two differ only by the colour round trip (and the matrix the whole-frame path
        # tags, BT.709), never by a region left visible.
        assert diff[hidden].mean() < 6


def test_the_output_is_tagged_as_the_source_was(tmp_path):
    frames = textured(3)
    bt709 = tagged_clip(tmp_path / "709.mp4", frames, 1, 1, 1, 1)
    full601 = tagged_clip(tmp_path / "601f.mp4", frames, 6, 2, 6, 6)
    untagged = make_video(tmp_path / "plain.mp4", frames)
    for src in (bt709, full601, untagged):
        dst = tmp_path / f"{src.stem}.out.mp4"
        with VideoWriter(dst, probe_video(src)) as w:
            for vf in iter_frames(src, yuv=True):
                w.write(vf.image, vf.ref, source=vf.yuv, changed=[])
        assert stream_tags(dst) == stream_tags(src)
        # And it shows the same picture (x264 at CRF 18: close, not exact).
        for a, b in zip(iter_frames(src), iter_frames(dst), strict=True):
            assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 4


def test_without_the_source_planes_frames_are_converted_to_tagged_bt709(tmp_path):
    src = make_video(tmp_path / "in.mp4", textured(2))
    dst = tmp_path / "out.mp4"
    with VideoWriter(dst, probe_video(src)) as w:
        for vf in iter_frames(src):  # no planes kept
            assert vf.yuv is None
            w.write(vf.image, vf.ref)
    assert stream_tags(dst)[:2] == (1, 1)  # BT.709, limited range
    for a, b in zip(iter_frames(src), iter_frames(dst), strict=True):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 4


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_sources_pass_through_upright(tmp_path, rotation):
    frames = textured(2, w=96, h=64)
    src = make_video(tmp_path / "in.mov", frames, rotation=rotation)
    dst = tmp_path / "out.mp4"
    spec = OperatorSpec(Operator.FILL, Shape.BOX, color=MAGENTA)
    red = Redactor(Options(operator=spec).specs())
    box = region(4, 6, 30, 40)
    with VideoWriter(dst, probe_video(src), LOSSLESS) as w:
        for vf in iter_frames(src, yuv=True):
            assert vf.yuv is not None and vf.yuv.y.shape == vf.image.shape[:2]
            write_frame(w, vf, red, [box])
    for a, b in zip(iter_frames(src), iter_frames(dst), strict=True):
        assert b.image.shape == a.image.shape
        assert np.abs(b.image[6:40, 4:30].astype(int) - MAGENTA).max() <= 12
        rest = np.ones(a.image.shape[:2], bool)
        rest[6:40, 4:30] = False
        assert np.abs(a.image[rest].astype(int) - b.image[rest].astype(int)).max() <= 1


def test_odd_or_other_formats_keep_the_whole_frame_path(tmp_path):
    src = make_video(tmp_path / "odd.mp4", textured(2, w=95, h=63))
    assert all(vf.yuv is None for vf in iter_frames(src, yuv=True))


@pytest.mark.parametrize(("colorspace", "color_range"), [(1, 1), (6, 2), (2, 0), (9, 1)])
def test_opencv_conversion_matches_swscale(colorspace, color_range):
    rng = np.random.default_rng(1)
    # Colours well inside the gamut, where neither conversion clips.
    rgb = rng.integers(30, 226, (32, 48, 3), dtype=np.uint8)
    y, u, v = _rgb_to_yuv420(rgb, _ycbcr_matrix(colorspace, color_range))
    ref = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace=colorspace, dst_color_range=color_range,
        interpolation="AREA").to_ndarray()
    ry, ru, rv = _split(ref, 32, 48)
    assert np.abs(y.astype(int) - ry).max() <= 1
    assert np.abs(u.astype(int) - ru).max() <= 2
    assert np.abs(v.astype(int) - rv).max() <= 2


def test_odd_sizes_in_a_4_2_0_only_codec_still_encode(tmp_path):
    """MPEG-4 Part 2 (.avi) has only 4:2:0; an odd-sized frame takes swscale's path."""
    frames = textured(2, w=65, h=47)
    src = make_video(tmp_path / "odd.mp4", frames)
    dst = tmp_path / "out.avi"
    with VideoWriter(dst, probe_video(src)) as w:
        for vf in iter_frames(src, yuv=True):
            w.write(vf.image, vf.ref, source=vf.yuv, changed=[])
    outs, ins = list(iter_frames(dst)), list(iter_frames(src))
    assert len(outs) == 2 and outs[0].image.shape == (47, 65, 3)
    # MPEG-4 at its fixed quantiser on noise: close, not exact.
    assert np.abs(outs[0].image.astype(int) - ins[0].image).mean() < 12
