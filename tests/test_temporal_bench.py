"""Smoke test of bench/temporal.py: its clips' ground truth is where the faces really are."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceless.core.geometry import scale_box
from faceless.core.types import Region
from faceless.detect.faces import CenterFaceDetector
from faceless.media.video import iter_frames
from faceless.samples import astronaut_path
from mediagen import FACE_512

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_temporal", ROOT / "bench" / "temporal.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def clip(bench, tmp_path_factory):
    """A 160x120 clip of 16 frames: the astronaut's face moving over a textured background."""
    # The face nearly touches the photo's top: pad it so that a crop of 2.4x the face fits.
    tmp = tmp_path_factory.mktemp("temporal")
    padded = np.pad(np.asarray(Image.open(astronaut_path()).convert("RGB")),
                    ((160, 0), (0, 0), (0, 0)), mode="edge")
    Image.fromarray(padded).save(tmp / "astronaut.png")
    x1, y1, x2, y2 = FACE_512
    src = bench.FaceSource(tmp / "astronaut.png", (x1, y1 + 160, x2, y2 + 160), (), "astronaut")
    sprite = bench.make_sprite(src)
    assert sprite is not None
    n, size = 16, (160, 120)
    rng = np.random.default_rng(1)
    (face,) = bench.plan_faces(rng, [sprite], n, size)
    face.side[:] = np.linspace(40, 56, n)
    face.centre[:] = np.stack([np.linspace(60, 100, n), np.full(n, 60.0)], axis=1)
    face.contrast[:] = face.brightness[:] = 1.0
    face.occlusions = [(6, 9, "bar")]
    y, x = np.mgrid[0:size[1], 0:size[0]]
    bg = np.stack([(x * 3) % 256, (y * 5) % 256, (x + y) % 256], axis=2).astype(np.uint8)
    frames, records = bench.render_clip("tiny", [bg] * n, [face], rng)
    path = tmp / "tiny.mp4"
    bench.write_video(path, frames)
    gt = {"clip": "tiny", "width": size[0], "height": size[1], "frames": n, "boxes": records}
    return bench, frames, records, gt, path, bg


def test_one_record_per_face_and_frame_and_occlusions_are_out_of_view(clip):
    _, frames, records, _, _, _ = clip
    assert len(frames) == len(records) == 16
    for r in records:
        assert r["visible"] == (not 6 <= r["frame"] < 9)
        if not r["visible"]:
            assert r["hidden"] == 1.0


def test_boxes_follow_the_path_and_the_size(clip):
    _, _, records, _, _, _ = clip
    cx = [(r["x1"] + r["x2"]) / 2 for r in records]
    assert cx == sorted(cx) and 58 < cx[0] < 62 and 98 < cx[-1] < 102
    assert 39 <= records[0]["size"] <= 41 and 55 <= records[-1]["size"] <= 57


def test_the_detector_finds_the_face_in_its_labelled_box(clip):
    bench, frames, records, _, _, _ = clip
    det = CenterFaceDetector()
    for t in (0, 5, 15):
        found = det.detect(frames[t])
        r = records[t]
        gt = np.array([[r["x1"], r["y1"], r["x2"], r["y2"]]])
        assert len(found) and bench.iou_matrix(gt, found.xyxy).max() > 0.4


def test_outside_the_sprite_the_background_is_untouched(clip):
    _, frames, records, _, _, bg = clip
    r = records[0]
    far = np.ones(bg.shape[:2], bool)
    w = (r["x2"] - r["x1"]) * 1.5
    far[:, int(r["x1"] - w):int(r["x2"] + w) + 1] = False
    assert np.array_equal(frames[0][far], bg[far])


def test_the_video_round_trips_every_frame(clip):
    _, frames, _, _, path, _ = clip
    decoded = [vf.image for vf in iter_frames(path)]
    assert len(decoded) == len(frames)
    assert np.abs(decoded[3].astype(int) - frames[3].astype(int)).mean() < 4


def test_scoring_counts_leaks_and_runs(clip):
    bench, _, records, gt, _, _ = clip
    cover = {r["frame"]: [Region(scale_box((r["x1"], r["y1"], r["x2"], r["y2"]), 1.45))]
             for r in records}
    s = bench.score_frames(gt, cover, None, "tiny", 1.45)
    assert (s.face_frames, s.leaked, s.longest) == (13, 0, 0)
    none = {t: [] for t in range(16)}
    s = bench.score_frames(gt, none, None, "tiny", 1.45)
    assert (s.leaked, s.longest, s.leaking_faces) == (13, 7, 1)  # the occlusion splits the run
    assert s.over_redaction == 0.0


def test_the_cache_returns_what_the_detector_returns(clip):
    bench, frames, _, _, _, _ = clip
    det = CenterFaceDetector()
    cached = bench.CachedDetector()
    for img in frames[:3]:
        a, b = det.detect_all(img)
        c, d = cached.detect_all(img)
        assert np.array_equal(a.xyxy, c.xyxy) and np.array_equal(b.xyxy, d.xyxy)
        assert np.array_equal(det.detect(img).xyxy, cached.detect(img).xyxy)
    assert cached.stats["calls"] == 3


def test_shared_backgrounds_and_faces_load(bench):
    if not bench.DATA.exists():
        pytest.skip("needs ../shared/data beside the repository")
    for name in ("pets", "shirt", "plaza", "pets-zoom"):
        frames = bench.background(name, 2, (640, 360))
        assert len(frames) == 2 and frames[0].shape == (360, 640, 3)
    sources = bench.face_sources()
    assert len(sources) > 50
    assert any(bench.make_sprite(s) is not None for s in sources[:20])
