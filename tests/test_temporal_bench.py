"""Smoke test of bench/temporal.py: its clips' ground truth is where the faces really are."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmod import load_bench
from faceless.core.geometry import scale_box
from faceless.core.types import Region
from faceless.detect.faces import CenterFaceDetector
from faceless.media.video import iter_frames
from faceless.samples import astronaut_path
from mediagen import FACE_512


@pytest.fixture(scope="module")
def bench():
    return load_bench("temporal")


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


def test_the_cache_serves_detect_at_per_image_scale_and_threshold(clip):
    bench, frames, records, _, _, _ = clip
    det = CenterFaceDetector()
    cached = bench.CachedDetector()
    r = records[0]
    crop = frames[0][int(r["y1"]) - 8:int(r["y2"]) + 8, int(r["x1"]) - 8:int(r["x2"]) + 8]
    for img, scale, thr in ((frames[0], 1.0, 0.3), (frames[0], 2.0, 0.3), (crop, 2.0, 0.1),
                            (frames[1], 1.0, 0.3)):
        a, b = det.detect_at(img, scale, thr)
        c, d = cached.detect_at(img, scale, thr)
        assert c.dtype == d.dtype == np.float32
        assert np.array_equal(a, c) and np.array_equal(b, d)
    assert cached.stats["calls"] == 4
    assert len(cached.detect_at(crop, 2.0, 0.1)[0])  # the face, found in its crop
    c, d = cached.detect_at(frames[0], 1.0, 0.3)
    c[:] = -1  # callers get copies: editing them leaves the cache alone
    assert np.array_equal(cached.detect_at(frames[0], 1.0, 0.3)[0], det.detect_at(frames[0],
                                                                                  1.0, 0.3)[0])
    cached.detect_at(np.ascontiguousarray(crop), 2.0, 0.1)  # same pixels: a hit
    assert cached.stats["calls"] == 4
    cached.detect_at(frames[0], 1.0, 0.2)  # another threshold: computed
    assert cached.stats["calls"] == 5
    view = cached.view(0.05)
    assert view.detect_at(frames[0], 1.0, 0.2)[1].shape == (len(det.detect_at(frames[0], 1.0,
                                                                               0.2)[1]),)
    assert cached.stats["calls"] == 5 and view.options.candidate_threshold == 0.05


def test_pixel_scoring_of_an_untouched_and_a_filled_output(clip, tmp_path):
    bench, _, records, gt, path, _ = clip
    decoded = [vf.image for vf in iter_frames(path)]
    same = tmp_path / "same.mp4"  # an unredacted transcode: nothing counts as covered
    bench.write_video(same, decoded, crf=28)
    s = bench.score_pixels(gt, path, same, "tiny")
    assert (s.face_frames, s.leaked, s.longest) == (13, 13, 7)
    # (the test background's sawtooth edges ring at crf 28: a pixel in a hundred moves > 24)
    assert max(f for _, f in s.covered.values()) < 0.1 and s.over_redaction < 0.02
    filled = []
    for t, img in enumerate(decoded):  # every visible face box filled with black
        img = img.copy()
        for r in records:
            if r["frame"] == t and r["visible"]:
                x1, y1, x2, y2 = bench.span((r["x1"], r["y1"], r["x2"], r["y2"]), 160, 120)
                img[y1:y2, x1:x2] = 0
        filled.append(img)
    out = tmp_path / "filled.mp4"
    bench.write_video(out, filled)
    s = bench.score_pixels(gt, path, out, "tiny")
    assert (s.face_frames, s.leaked, s.longest, s.leaking_faces) == (13, 0, 0, 0)
    assert s.over_redaction < 0.02  # only the encoder's ringing just outside the boxes
    short = tmp_path / "short.mp4"
    bench.write_video(short, decoded[:10])
    with pytest.raises(RuntimeError, match="ends at frame 10"):
        bench.score_pixels(gt, path, short, "tiny")


def test_a_resized_output_is_compared_at_the_input_size(clip, tmp_path):
    bench, _, _, _, path, _ = clip
    decoded = [vf.image for vf in iter_frames(path)]
    big = tmp_path / "big.mp4"  # what deface's writer does to 360 lines (368)
    bench.write_video(big, [cv2.resize(f, (160, 128), interpolation=cv2.INTER_CUBIC)
                            for f in decoded])
    masks = list(bench.changed_masks(path, big))
    assert len(masks) == 16 and masks[0].shape == (120, 160)
    assert float(np.mean(masks)) < 0.05


def test_tool_commands_and_a_command_run_on_a_clip(clip, tmp_path):
    bench, _, _, gt, path, _ = clip
    t = bench.parse_tool("faceless --threshold 0.3")
    cmd = t.command(Path("in.mp4"), Path("out.mp4"))
    assert cmd[1:] == ["run", "in.mp4", "-o", "out.mp4", "-q", "--overwrite", "--hide", "face",
                       "--threshold", "0.3"] and t.name == "faceless --threshold 0.3"
    t = bench.parse_tool("deface --scale 640x360")
    assert t.command(Path("a.mp4"), Path("b.mp4"))[1:] == ["a.mp4", "-o", "b.mp4", "--scale",
                                                            "640x360"]
    cmd = bench.parse_tool("deface --replacewith img --replaceimg {magenta}").command(
        tmp_path / "a.mp4", tmp_path / "b.mp4")
    assert cmd[-1] == str(tmp_path / "magenta.png")
    assert Image.open(cmd[-1]).getpixel((3, 3)) == (255, 0, 255)
    with pytest.raises(SystemExit):
        bench.parse_tool("someothertool")
    copy = bench.parse_tool(f"{sys.executable} -c 'import shutil,sys; "
                            "shutil.copy(sys.argv[1], sys.argv[2])' {in} {out}")
    dst = tmp_path / "copy.mp4"
    assert bench.run_tool(copy, path, dst) > 0
    s = bench.score_pixels(gt, path, dst, "tiny")
    assert (s.leaked, s.over_redaction) == (13, 0.0)
    fail = bench.parse_tool(f"{sys.executable} -c 'raise SystemExit(3)' {{in}} {{out}}")
    with pytest.raises(RuntimeError, match="exit 3"):
        bench.run_tool(fail, path, tmp_path / "x.mp4")


def test_clip_sets(bench):
    assert bench.select_clips("default") == list(bench.CLIPS)
    assert bench.select_clips("hd") == list(bench.HD_CLIPS)
    assert [c.name for c in bench.select_clips("pets,square-1080,pets")] == ["pets",
                                                                             "square-1080"]
    assert {c.size for c in bench.HD_CLIPS} == {(1280, 720), (1920, 1080)}
    with pytest.raises(SystemExit):
        bench.select_clips("nope")
    rng = np.random.default_rng(0)
    sizes = np.concatenate([bench._sizes(rng, 50, bench.HD_SIZES) for _ in range(40)])
    assert sizes.min() >= 18 and sizes.max() <= 200 and sizes.max() > 150


def test_pixel_tables(clip):
    bench, _, records, gt, _, _ = clip
    cover = {r["frame"]: [Region(scale_box((r["x1"], r["y1"], r["x2"], r["y2"]), 1.45))]
             for r in records}
    full = bench.score_frames(gt, cover, None, "tiny", 1.45)
    none = bench.score_frames(gt, {t: [] for t in range(16)}, None, "tiny", 1.45)
    gt = {**gt, "width": 160, "height": 120}
    scores = {"tracking": full, "tracking, output pixels": full, "faceless": none}
    tools = [bench.parse_tool("faceless")]
    text = bench.agreement([("tiny", gt, scores)], "tracking", tools)
    assert "| tiny | `faceless` | 13 | 13 | 13 | 0.00% |" in text
    assert "| all | `faceless` | 13 | 13 | 13 | 0.00% |" in text
    sizes = bench.size_table(scores, list(scores))
    assert "| faceless | 0 (0.0%) | 13 (100.0%) |" in sizes
    assert "13 face-frames" in sizes
    assert "| `faceless` | 2.0 s (8.0 fps) | 2 s (8.0 fps) |" in bench.time_table(
        {"faceless": {"tiny": 2.0}}, [("tiny", gt, scores)])
    assert "| tiny | 160x120 | faceless | 13 / 13 | 7 | 1 / 1 | 0.00% |" in \
        bench.all_clip_table([("tiny", gt, scores)], list(scores))


def test_crowds_diagnoses_each_leak_after_a_face_was_found():
    crowds = load_bench("crowds")
    box = {"x1": 100.0, "y1": 100.0, "x2": 120.0, "y2": 120.0, "size": 20.0, "blur": 3.0,
           "contrast": 1.0, "hidden": 0.0, "visible": True}
    gt = {"faces": [{"id": 0, "source": "dlib:x.jpg#0"}],
          "boxes": [{"face": 0, "frame": t, **box} for t in range(8)]}
    # Hidden in frames 0-2 by track 5, which ends there; leaks in 3-5, hidden again in 6-7.
    hidden = {0: [(t, t < 3 or t > 5) for t in range(8)]}
    region = {"kind": "face", "box": [100, 100, 120, 120], "origin": "detected", "track": 5}
    plan = {"settings": {"mask_scale": 1.0},
            "frames": [{"index": t, "regions": [region] if t < 3 else []} for t in range(8)]}
    (run,) = crowds.diagnose(gt, hidden, plan)
    assert (run["start"], run["frames"], run["track"]) == (3, 3, 5)
    assert run["verdict"] == "its track ended 0 frame(s) before"
    assert run["region_cover"] == 0.0
    # A face never hidden has no run after found; one leaking before it was found neither.
    assert crowds.diagnose(gt, {0: [(t, False) for t in range(8)]}, plan) == []
    assert crowds.diagnose(gt, {0: [(t, t >= 4) for t in range(8)]}, plan) == []


def test_crowds_runs_another_revision_beside_this_one(tmp_path):
    crowds = load_bench("crowds")
    before = crowds.with_baseline(["faceless --hide face", "deface"], tmp_path)
    (cmd,) = before.values()
    assert list(before) == ["faceless --hide face (before)"]
    assert cmd[:5] == ["env", f"PYTHONPATH={tmp_path.resolve()}", sys.executable, "-m",
                       "faceless"]
    assert cmd[5:] == crowds.TOOLS["faceless --hide face"][1:]
