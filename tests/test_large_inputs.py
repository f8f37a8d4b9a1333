"""Large inputs (48 MP phone photos, 8K video frames): processed in bounded memory, every
planted face hidden, and frames up to the large-frame threshold unchanged."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

import faceless.analyze.video as analyze_video
from faceless.api import anonymize_file, anonymize_image
from faceless.core.types import Kind
from faceless.detect.faces import FaceOptions
from faceless.media.video import iter_frames, rgb_of
from faceless.options import Options
from mediagen import FACE_512, astronaut, changed_fraction, portrait_scene
from videogen import make_video

# The astronaut's face with some head around it: (x1, y1, x2, y2) in the 512-px photo.
HEAD_512 = (131, 0, 321, 240)


def plant(frame: np.ndarray, face_height: int, x: int, y: int) -> tuple[float, ...]:
    """Paste the astronaut's head so that its face is `face_height` px tall, with its top-left
    corner at (x, y); returns the face's box in the frame."""
    hx1, hy1, hx2, hy2 = HEAD_512
    k = face_height / (FACE_512[3] - FACE_512[1])
    head = astronaut()[hy1:hy2, hx1:hx2]
    w, h = round((hx2 - hx1) * k), round((hy2 - hy1) * k)
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    frame[y:y + h, x:x + w] = cv2.resize(head, (w, h), interpolation=interp)
    fx1, fy1, fx2, fy2 = FACE_512
    return (x + (fx1 - hx1) * k, y + (fy1 - hy1) * k, x + (fx2 - hx1) * k, y + (fy2 - hy1) * k)


def large_photo() -> tuple[np.ndarray, list[tuple[float, ...]]]:
    """A 48 MP (8000x6000) photo, a grey noisy background with faces from 60 px to one
    taller (2300 px) than a tile of the full-resolution pass (2048 px), one of them across
    the edge of two tiles."""
    rng = np.random.default_rng(0)
    frame = rng.integers(60, 140, (6000, 8000, 3), np.uint8)
    opts = FaceOptions()
    assert opts.large_pixels < 8000 * 6000 and opts.large_tile < 2300
    faces = [plant(frame, 60, 300, 300), plant(frame, 250, 1000, 2500),
             plant(frame, 700, 1650, 400),  # across the first tiles' shared edge
             plant(frame, 2300, 4300, 1500)]
    return frame, faces


@pytest.fixture(scope="module")
def photo():
    return large_photo()


def test_a_48_megapixel_photo_is_processed_with_every_face_hidden(photo):
    frame, faces = photo
    out = anonymize_image(frame, Options(hide=frozenset({Kind.FACE})))
    assert out.shape == frame.shape
    for face in faces:
        assert changed_fraction(frame, out, face) > 0.8, face  # as test_cli


def test_large_frames_run_on_tiles_and_a_pyramid():
    opts = FaceOptions()
    small = opts.passes(3840, 2160)
    assert [p[0] for p in small] == [1.0, 640 / 3840]  # 4K: the passes of before
    assert not opts.large(4000, 4000) and opts.large(8000, 6000)
    scales = [p[0] for p in opts.passes(8000, 6000)]
    assert scales == [1.0, 0.5, 0.25, 640 / 8000]
    # every pyramid level keeps the faces the level above may cut at a tile edge
    levels = opts.passes(8000, 6000)[:3]
    for (above, *_), (_, _, lo, _) in itertools.pairwise(levels):
        assert lo * above <= opts.large_overlap
    assert FaceOptions(large_pixels=0).passes(8000, 6000) == [
        p for p in opts.passes(8000, 6000) if p[0] not in (0.5, 0.25)]


def test_large_frame_options_are_checked():
    from faceless.core.errors import ConfigError

    with pytest.raises(ConfigError):
        FaceOptions(large_pixels=-1)
    with pytest.raises(ConfigError):
        FaceOptions(large_tile=1000, large_overlap=512)


@pytest.mark.parametrize("rotation", [0, 90])
def test_large_frames_wait_as_planes_and_give_the_same_output(tmp_path, monkeypatch, rotation):
    """Frames in the tracker's window kept as their planes alone (1080p and up) come back as the
    same RGB: the output is byte for byte the one made from whole frames."""
    frames = []
    for i in range(8):
        frame, _ = portrait_scene(side=96, size=(192, 144), x=20 + 4 * i)
        frames.append(frame)
    src = make_video(tmp_path / "clip.mp4", frames, rotation=rotation)
    outs = []
    for pixels in (10**12, 1):  # never compacted, always compacted
        monkeypatch.setattr(analyze_video, "COMPACT_PIXELS", pixels)
        dst = tmp_path / f"out-{pixels}.mp4"
        r = anonymize_file(src, dst, Options())
        assert r.frames == 8 and r.regions.get("face", 0) >= 8
        outs.append(dst.read_bytes())
    assert outs[0] == outs[1]


def test_planes_turn_back_into_the_decoders_rgb(tmp_path):
    src = make_video(tmp_path / "c.webm", 5, size=(96, 64), codec="libvpx-vp9")
    for vf in iter_frames(src, yuv=True):
        assert vf.yuv is not None and np.array_equal(rgb_of(vf.yuv), vf.image)
