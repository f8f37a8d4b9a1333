"""Smoke test of bench/plates_temporal.py: its clips' ground truth is where the plates really are.

Runs without ../shared: the plate photo and the background are made here.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmod import load_bench
from faceless.core.types import Detections, Kind, Region
from faceless.media.video import iter_frames

BODY = (40, 60, 160)  # the car around the plate
PLATE = (90, 90, 150, 110)  # the plate in the photo: x1, y1, x2, y2


@pytest.fixture(scope="module")
def bench():
    return load_bench("plates_temporal")


def photo() -> np.ndarray:
    """A 'car' photo: a blue body with a white plate (black characters inside its border)."""
    img = np.zeros((200, 240, 3), np.uint8)
    img[:] = BODY
    x1, y1, x2, y2 = PLATE
    img[y1:y2, x1:x2] = 240
    for i in range(5):  # characters, away from the plate's edges
        img[y1 + 4:y2 - 4, x1 + 6 + 10 * i:x1 + 12 + 10 * i] = 10
    return img


@pytest.fixture(scope="module")
def clip(bench):
    src = bench.PlateSource(photo(), tuple(float(v) for v in PLATE), "synthetic")
    sprite = bench.make_sprite(src)
    assert sprite is not None
    n, size = 12, (200, 120)
    centre = np.stack([np.linspace(-2, 150, n), np.linspace(50, 70, n)], axis=1)
    height = np.linspace(12, 24, n)
    present = np.ones(n, bool)
    present[-1] = False  # gone in the last frame
    track = bench.PlateTrack(sprite, "cross", centre, height, present, shutter=0.0)
    y, x = np.mgrid[0:size[1], 0:size[0]]
    bg = np.stack([(x * 3) % 150, (y * 5) % 150, (x + y) % 150], axis=2).astype(np.uint8)
    frames, records = bench.render_clip([bg] * n, [track])
    return bench, sprite, track, frames, records, size


def test_sprite_keeps_the_plate_and_its_surroundings(clip):
    _bench, sprite, *_ = clip
    x1, y1, x2, y2 = sprite.box
    assert (x2 - x1, y2 - y1) == (60, 20)
    # 1.5 plate widths left and right, 2 heights above and below (the photo allows it)
    assert sprite.rgb.shape[:2] == (20 * 5, 60 * 4)
    inside = sprite.rgb[int(y1):int(y2), int(x1):int(x2)]
    assert inside.max(axis=2).max() == 240 and np.all(sprite.alpha[int(y1):int(y2),
                                                                   int(x1):int(x2)] == 1)
    assert sprite.alpha[0].max() < 0.05 and sprite.alpha[:, 0].max() < 0.05


def test_ground_truth_box_is_where_the_plate_pixels_are(clip):
    bench, _sprite, track, frames, records, (w, h) = clip
    assert [r["frame"] for r in records] == list(range(len(frames) - 1))
    for r in records:
        img = frames[r["frame"]].astype(int)
        white = img.min(axis=2) > 200  # plate pixels (background and body stay below)
        ys, xs = np.nonzero(white)
        assert len(xs), r
        gx1, gy1 = max(0.0, r["x1"]), max(0.0, r["y1"])
        gx2, gy2 = min(float(w), r["x2"]), min(float(h), r["y2"])
        assert abs(xs.min() - gx1) <= 1 and abs(xs.max() + 1 - gx2) <= 1, r
        assert abs(ys.min() - gy1) <= 1 and abs(ys.max() + 1 - gy2) <= 1, r
        assert abs(r["height"] - track.height[r["frame"]]) < 0.6
        # the share inside the frame, and whether that makes it "in view"
        share = (gx2 - gx1) * (gy2 - gy1) / ((r["x2"] - r["x1"]) * (r["y2"] - r["y1"]))
        assert r["inside"] == pytest.approx(share, abs=1e-3)
        assert r["visible"] == (share >= bench.IN_VIEW)
    assert records[0]["x1"] < 0 and 0 < records[0]["inside"] < 1  # entering at the left
    assert not frames[-1].astype(int).min(axis=2).max() > 200  # not drawn in the last frame


def test_scoring_counts_leaks_and_over_redaction(clip, bench):
    _, _, _, frames, records, (w, h) = clip
    gt = {"clip": "tiny", "width": w, "height": h, "frames": len(frames), "boxes": records,
          "plates": [{"id": 0, "path": "cross"}]}
    specs = bench.BASE.specs()
    exact = {t: [Region((r["x1"], r["y1"], r["x2"], r["y2"]), Kind.PLATE)
                 for r in records if r["frame"] == t] for t in range(len(frames))}
    s = bench.score_frames(gt, exact, specs)
    n = sum(r["visible"] for r in records)
    assert s.plate_frames == n > 0 and s.leaked == 0 and s.over_redaction == 0
    none = {t: [] for t in range(len(frames))}
    s = bench.score_frames(gt, none, specs)
    assert s.leaked == n and s.longest == n and s.leaking_plates == 1
    # a region far from the plate is over-redaction, and leaves the plate leaked
    far = {t: [Region((0, h - 10, 10, h), Kind.PLATE)] for t in range(len(frames))}
    s = bench.score_frames(gt, far, specs)
    assert s.leaked == n and s.over_redaction > 0


def test_video_round_trip(clip, tmp_path):
    bench, _, _, frames, records, _ = clip
    path = tmp_path / "tiny.mp4"
    bench.write_video(path, frames, fps=bench.FPS)
    got = list(iter_frames(path))
    assert len(got) == len(frames)
    assert float(got[1].ref.seconds - got[0].ref.seconds) == pytest.approx(1 / bench.FPS)
    r = next(r for r in records if r["visible"] and r["x1"] > 2)
    x1, y1, x2, y2 = (round(r[k]) for k in ("x1", "y1", "x2", "y2"))
    plate = got[r["frame"]].image[y1 + 1:y2 - 1, x1 + 1:x2 - 1].astype(int)
    assert plate.max() > 200  # still there after H.264


def test_paths_stay_in_range(bench, clip):
    sprite = clip[1]
    rng = np.random.default_rng(3)
    for kind in bench.KINDS:
        for _ in range(5):
            tr = bench.plan_track(rng, sprite, kind, 150, (1280, 720))
            on = tr.present
            assert on.any() and tr.height[on].min() >= 10.9 and tr.height[on].max() <= 40.1
            if kind == "approach":  # leaves the vanishing point growing, out at a side
                last = np.flatnonzero(on)[-1]
                assert tr.height[last] > 30 and not 0 < tr.centre[last, 0] < 1280 * 0.99
            if kind == "overtake":
                first = np.flatnonzero(on)[0]
                assert tr.height[first] > 30 and not 0 < tr.centre[first, 0] < 1280 * 0.99


def test_cache_and_variants(bench):
    class Fake:
        kind = Kind.PLATE
        calls = 0

        def detect(self, image):
            Fake.calls += 1
            return Detections(np.array([[1, 2, 3, 4]], np.float32), np.array([0.9], np.float32),
                              Kind.PLATE)

    det = bench.CachedPlates(store={}, inner=Fake())
    img = np.zeros((8, 8, 3), np.uint8)
    a, b = det.detect(img), det.detect(img)
    assert Fake.calls == 1 and det.calls == 2 and det.computed == 1
    assert np.array_equal(a.xyxy, b.xyxy) and a.kind is Kind.PLATE
    m = bench.parse_variant("te6:text_every=6,back_hold=0,max_gap=20")
    assert m.name == "te6" and m.options.text_every == 6
    assert m.options.track.back_hold == 0 and m.options.track.max_gap == 20
    assert m.options.hide == frozenset({Kind.PLATE})
    assert bench.parse_variant("fbf:track=none").options.track is None
    with pytest.raises(SystemExit):
        bench.parse_variant("x:nonsense=1")
