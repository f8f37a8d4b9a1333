"""Tracking only adds: gaps filled, ends extended, low scores continued, cuts respected."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from faceless.core.errors import ConfigError
from faceless.core.types import FrameRef, Kind, Origin, Region
from faceless.track.cuts import CutDetector
from faceless.track.tracker import Tracker, TrackOptions

TB = Fraction(1, 30)


def face(x: float, y: float = 50, s: float = 40, score: float = 0.9) -> Region:
    return Region((x, y, x + s, y + s), Kind.FACE, score)


def run(dets: dict[int, list[Region]], n: int, options: TrackOptions | None = None,
        cands: dict[int, list[Region]] | None = None, cuts: set[int] = frozenset()):
    tr = Tracker(options or TrackOptions())
    out = []
    for i in range(n):
        out += tr.push(FrameRef(i, i, TB), dets.get(i, []), (cands or {}).get(i, []),
                       cut=i in cuts, payload=i)
    out += tr.flush()
    return out, tr


def tracked(regions):
    return [r for r in regions if r.origin is Origin.TRACKED]


def test_every_frame_comes_out_once_in_order_with_its_payload():
    out, _ = run({i: [face(10 + i)] for i in range(50)}, 50)
    assert [ref.index for ref, _, _ in out] == list(range(50))
    assert [p for _, _, p in out] == list(range(50))


def test_raw_detections_are_never_removed_or_moved():
    dets = {i: [face(10 + 3 * i), face(300, score=0.3)] for i in range(20)}
    out, _ = run(dets, 20)
    for ref, regions, _ in out:
        raw = [r for r in regions if r.origin is Origin.DETECTED]
        assert sorted(r.box for r in raw) == sorted(r.box for r in dets[ref.index])


def test_a_gap_is_filled_by_interpolation():
    dets = {i: [face(10 + 4 * i)] for i in range(10) if i not in (4, 5, 6)}
    out, _ = run(dets, 10)
    ids = {r.track_id for _, regs, _ in out for r in regs}
    assert len(ids) == 1, "one face, one track"
    for ref, regs, _ in out:
        if ref.index in (4, 5, 6):
            (r,) = tracked(regs)
            assert r.reason.startswith("gap filled")
            x_mid = (r.box[0] + r.box[2]) / 2
            assert x_mid == pytest.approx(10 + 4 * ref.index + 20, abs=1.5)


def test_a_gap_longer_than_max_gap_is_not_bridged():
    opts = TrackOptions(max_gap=3, post_extend=1, pre_extend=0)
    dets = {i: [face(10)] for i in range(20) if not 5 <= i < 12}
    out, _ = run(dets, 20, opts)
    added = {ref.index for ref, regs, _ in out if tracked(regs) and not regs[0:0]}
    hidden_in_gap = {ref.index for ref, regs, _ in out if 5 <= ref.index < 12 and regs}
    assert hidden_in_gap == {5}, "only the one post-extension frame"
    assert added >= {5}


def test_track_ends_are_extended_both_ways():
    opts = TrackOptions(pre_extend=3, post_extend=2)
    dets = {i: [face(100)] for i in range(10, 20)}
    out, _ = run(dets, 30, opts)
    covered = {ref.index for ref, regs, _ in out if regs}
    assert covered == set(range(7, 22))
    for ref, regs, _ in out:
        if ref.index in (7, 8, 9, 20, 21):
            assert all(r.origin is Origin.TRACKED and r.track_id for r in regs)


def test_an_unconfirmed_single_detection_adds_nothing():
    out, _ = run({10: [face(100)]}, 20)
    assert {ref.index for ref, regs, _ in out if regs} == {10}


def test_a_low_score_candidate_continues_a_confirmed_track_only():
    dets = {i: [face(10 + 2 * i)] for i in range(5)}
    cands = {i: [face(10 + 2 * i, score=0.07)] for i in range(5, 9)}
    cands[6].append(face(400, score=0.07))  # no track there: never accepted
    out, _ = run(dets, 9, TrackOptions(post_extend=0), cands)
    for ref, regs, _ in out:
        if ref.index >= 5:
            (r,) = regs
            assert r.reason.startswith("low-score continuation") and r.origin is Origin.TRACKED
            assert r.box[0] == pytest.approx(10 + 2 * ref.index)


def test_a_scene_cut_ends_tracks():
    dets = {i: [face(100)] for i in range(10)}
    out, _ = run(dets, 15, TrackOptions(post_extend=5, pre_extend=3), cuts={10})
    assert {ref.index for ref, regs, _ in out if regs} == set(range(10))


def test_pre_extension_never_crosses_a_cut_backwards():
    dets = {i: [face(100)] for i in range(10, 15)}
    out, _ = run(dets, 15, TrackOptions(pre_extend=5), cuts={9})
    assert {ref.index for ref, regs, _ in out if regs} == set(range(9, 15))


def test_fast_motion_grows_the_added_boxes():
    def added_width(step):
        dets = {i: [face(10 + step * i)] for i in range(8) if i != 5}
        out, _ = run(dets, 8, TrackOptions(post_extend=0))
        (r,) = tracked(out[5][1])
        return r.box[2] - r.box[0]

    assert added_width(20) > added_width(1) + 20


def test_two_faces_get_two_tracks_and_summaries():
    dets = {i: [face(10 + i), face(300 - i)] for i in range(12) if i != 6}
    out, tr = run(dets, 12)
    assert sorted(s.detected for s in tr.summaries.values()) == [11, 11]
    assert all(s.added >= 1 for s in tr.summaries.values())
    six = out[6][1]
    assert len({r.track_id for r in six}) == 2


def test_memory_is_bounded_by_the_window():
    opts = TrackOptions()
    tr = Tracker(opts)
    emitted = 0
    for i in range(3000):
        emitted += len(tr.push(FrameRef(i, i, TB), [face(10 + i % 50)], payload=i))
        assert len(tr._frames) <= opts.window
    emitted += len(tr.flush())
    assert emitted == 3000


def test_variable_frame_rate_interpolates_in_time():
    tr = Tracker(TrackOptions(post_extend=0))
    pts = [0, 1, 2, 3, 10, 11]  # a long pause between 3 and 10
    out = []
    for i, p in enumerate(pts):
        det = [] if i == 3 else [face(10 + 10 * p)]
        out += tr.push(FrameRef(i, p, TB), det)
    out += tr.flush()
    (r,) = tracked(out[3][1])
    assert (r.box[0] + r.box[2]) / 2 == pytest.approx(10 + 10 * 3 + 20, abs=2)


def test_options_are_validated():
    with pytest.raises(ConfigError):
        TrackOptions(max_gap=-1)
    with pytest.raises(ConfigError):
        TrackOptions(min_iou=0)
    for bad in ({"hold": -1}, {"hold_min_match": 1.5}, {"hold_core": 0}, {"hold_reach": -1}):
        with pytest.raises(ConfigError):
            TrackOptions(**bad)


def test_cut_detector():
    import cv2

    rng = np.random.default_rng(1)

    def scene():  # large blobs, like real shots (pixel noise would average out)
        small = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
        return cv2.resize(small, (160, 90), interpolation=cv2.INTER_CUBIC)

    a, b = scene(), scene()
    cut = CutDetector()
    assert cut(a) is False
    assert cut(a) is False
    assert cut(np.clip(a.astype(int) + 40, 0, 255).astype(np.uint8)) is False  # lights on
    assert cut(b) is True


def test_stabilize_adds_a_steady_box_beside_each_detection():
    dets = {i: [face(10 + 3 * i)] for i in range(10)}
    plain, _ = run(dets, 10, TrackOptions(post_extend=0))
    steady, _ = run(dets, 10, TrackOptions(post_extend=0, stabilize=True))
    assert not any(tracked(regs) for _, regs, _ in plain)
    smoothed = [r for _, regs, _ in steady for r in tracked(regs)]
    assert len(smoothed) >= 8 and all(r.reason == "smoothed track box" for r in smoothed)


def test_a_sparsely_searched_plate_links_across_a_jump_and_fills_between():
    """Plates are searched every few frames: a plate that moved past overlap stays one track."""
    def plate(x):
        return Region((x, 200, x + 60, 220), Kind.PLATE, 0.9)

    out, tr = run({0: [plate(100)], 3: [plate(170)], 6: [plate(240)]}, 10)
    assert len(tr.summaries) == 1
    covered = {ref.index for ref, regs, _ in out if regs}
    assert {0, 1, 2, 3, 4, 5, 6} <= covered
    mid = next(r for ref, regs, _ in out if ref.index == 2 for r in regs)
    assert 140 < (mid.box[0] + mid.box[2]) / 2 - 30 < 170  # interpolated between the hits
    # Faces keep the overlap rule: the same jump starts a second track.
    faces = {0: [face(100, s=60)], 3: [face(170, s=60)]}
    assert len(run(faces, 5)[1].summaries) == 2
    off, _ = run({0: [plate(100)], 3: [plate(170)]}, 5, TrackOptions(sparse_link=0))
    assert not any(regs for ref, regs, _ in off if ref.index in (1, 2))


def test_a_fast_plate_searched_every_12th_frame_stays_one_track_and_is_filled():
    """A new plate track has no velocity: the link reach grows with the frames since it was found.

    15 px a frame is 180 px (3 plate widths) between searches: the reach of one search 3
    frames apart would not link it, and an unlinked plate never confirms, so nothing between
    the searches would be hidden.
    """
    def plate(x):
        return Region((x, 200, x + 60, 220), Kind.PLATE, 0.9)

    dets = {0: [plate(100)], 12: [plate(280)], 24: [plate(460)]}
    out, tr = run(dets, 30)
    assert len(tr.summaries) == 1
    covered = {ref.index for ref, regs, _ in out if regs}
    assert set(range(25)) <= covered
    mid = next(r for ref, regs, _ in out if ref.index == 6 for r in regs)
    assert abs((mid.box[0] + mid.box[2]) / 2 - (190 + 30)) < 15  # on the path, not at an end
    # A detection far beyond any plausible motion starts its own track instead.
    far, tr_far = run({0: [plate(100)], 3: [plate(400)]}, 6)
    assert len(tr_far.summaries) == 2
    assert not any(regs for ref, regs, _ in far if ref.index in (1, 2))


def test_back_hold_options_are_checked():
    for bad in ({"back_hold": -1}, {"back_hold": 301}, {"back_hold_min_match": 1.5},
                {"face_back_hold": -1}, {"hold_unconfirmed": 301}):
        with pytest.raises(ConfigError):
            TrackOptions(**bad)
