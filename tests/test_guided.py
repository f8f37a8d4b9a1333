"""Scheduled video search: full looks on time, low passes between, closer looks where needed."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest

from faceless.analyze import Analyzer
from faceless.analyze.video import VideoAnalysis, tracker_for
from faceless.anonymize.operators import redaction_mask
from faceless.api import anonymize_file, detect_file, render_plan
from faceless.core.errors import ConfigError
from faceless.core.types import Detections, Kind, Origin
from faceless.detect.base import ModelCard, ScaledDetector
from faceless.detect.faces import CenterFaceDetector, FaceOptions
from faceless.detect.guided import GuidedFaces, ScheduleOptions
from faceless.media.video import iter_frames
from faceless.options import Options
from mediagen import FACE_512, astronaut
from videogen import make_video


class Recorder:
    """A face detector that finds what it is told to and records every pass it is asked for."""

    kind = Kind.FACE

    def __init__(self, faces=(), score: float = 0.9) -> None:
        self.options = FaceOptions()
        self.faces = np.array(faces, np.float32).reshape(-1, 4)
        self.score = score
        self.calls: list[tuple] = []

    def detect_all(self, image, candidates=True, video=False):
        self.calls.append(("full", image.shape[:2]))
        return (Detections(self.faces, np.full(len(self.faces), self.score)),
                Detections.empty())

    def detect_at(self, image, scale, threshold):
        self.calls.append(("pass", image.shape[:2], scale))
        if scale < 1:  # the whole frame's low pass finds the same faces
            return self.faces.copy(), np.full(len(self.faces), self.score, np.float32)
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)


def decode_all(path):
    return [vf.image for vf in iter_frames(path)]


HD = np.zeros((720, 1280, 3), np.uint8)


def kinds(calls):
    return [c[0] for c in calls]


def test_full_looks_come_on_schedule_and_after_cuts():
    det = Recorder()
    g = GuidedFaces(det, ScheduleOptions(full_every=4))
    looks = [g.detect_all(HD, None, cut=i == 6)[2] for i in range(12)]
    assert [lk.full for lk in looks] == [True, False, False, False, True, False, True,
                                         False, False, False, True, False]
    # A full look says how many frames went without one before it; a cut starts afresh.
    assert [lk.blind for lk in looks if lk.full] == [0, 3, 0, 3]
    assert kinds(det.calls).count("full") == 4
    low = [c for c in det.calls if c[0] == "pass"]
    assert all(c[1] == (720, 1280) and c[2] == pytest.approx(0.5) for c in low)


def test_the_low_pass_runs_on_every_nth_frame_and_closer_looks_on_every_frame():
    det = Recorder()
    g = GuidedFaces(det, ScheduleOptions(full_every=8, low_every=2))
    small_face = np.array([[600, 300, 616, 316]], np.float64)
    for _ in range(5):
        g.detect_all(HD, small_face)
    low = [c for c in det.calls if c[0] == "pass" and c[2] < 1]
    closer = [c for c in det.calls if c[0] == "pass" and c[2] > 1]
    assert kinds(det.calls).count("full") == 1 and len(low) == 2  # frames 2 and 4
    assert len(closer) == 5  # the unfound small face gets one on every frame


def test_small_frames_get_the_full_look_every_frame():
    det = Recorder()
    g = GuidedFaces(det, ScheduleOptions(full_every=8))
    small = np.zeros((360, 640, 3), np.uint8)
    assert all(g.detect_all(small)[2].full for _ in range(5))
    assert kinds(det.calls) == ["full"] * 5


def test_closer_looks_only_where_a_small_expected_face_was_not_found():
    found = (100, 100, 120, 120)
    det = Recorder(faces=[found])
    g = GuidedFaces(det, ScheduleOptions(full_every=8, low_every=1))
    g.detect_all(HD)  # the first frame is a full look
    det.calls.clear()
    missing = (600, 300, 616, 316)  # 16 px: 8 px in the low pass
    big = (900, 200, 1100, 400)  # 200 px: 100 px in the low pass, no closer look needed
    g.detect_all(HD, np.array([found, missing, big], np.float64))
    closer = [c for c in det.calls if c[0] == "pass" and c[2] > 1]
    assert len(closer) == 1
    (h, w), scale = closer[0][1], closer[0][2]
    assert scale == pytest.approx(3.0)  # the 16 px face scaled to the 48 px wanted (at most 4x)
    assert w * scale >= 96 and h * scale >= 96 and w < 200  # a crop, not the frame


def test_no_closer_look_at_a_small_track_inside_a_found_face():
    """A small track inside a face found this frame (an eye, the hair line) is part of it: a
    closer look there would cut the real face at the crop's edge, and that partial box could
    win the merge and leave the mouth uncovered."""
    face = (100, 100, 140, 150)  # found by the low pass
    det = Recorder(faces=[face])
    g = GuidedFaces(det, ScheduleOptions(full_every=8))
    g.detect_all(HD)  # the first frame is a full look
    det.calls.clear()
    eye = (108, 110, 120, 122)  # 12 px, wholly inside the face: IoU with it only 0.07
    apart = (600, 300, 612, 312)  # 12 px on its own
    g.detect_all(HD, np.array([eye, apart], np.float64))
    closer = [c for c in det.calls if c[0] == "pass" and c[2] > 1]
    assert len(closer) == 1  # the small face on its own still gets its look
    det.calls.clear()
    g = GuidedFaces(det, ScheduleOptions(full_every=8, found_inside=0))  # switched off
    g.detect_all(HD)
    det.calls.clear()
    g.detect_all(HD, np.array([eye, apart], np.float64))
    assert len([c for c in det.calls if c[0] == "pass" and c[2] > 1]) == 2


def test_options_are_validated():
    for bad in ({"full_every": 0}, {"low_side": 100}, {"closer_max_scale": 9}, {"low_every": 0},
                {"max_closer": -1}, {"found_inside": 1.5}):
        with pytest.raises(ConfigError):
            ScheduleOptions(**bad)


def small_face_frame(size=(1280, 720), side=80, x=600, y=300):
    """A frame with the portrait scaled so its face is about side * 0.21 px."""
    w, h = size
    rng = np.random.default_rng(0)
    frame = rng.integers(60, 120, (h, w, 3), dtype=np.uint8)
    frame[y:y + side, x:x + side] = cv2.resize(astronaut(), (side, side),
                                               interpolation=cv2.INTER_AREA)
    k = side / 512
    fx1, fy1, fx2, fy2 = FACE_512
    return frame, (x + fx1 * k, y + fy1 * k, x + fx2 * k, y + fy2 * k)


def test_a_closer_look_finds_the_small_face_the_low_pass_misses():
    frame, face = small_face_frame()
    fx, fy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2

    def on_face(boxes: np.ndarray) -> bool:
        """Whether a box is centred on the face (within 6 px)."""
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        return bool(((abs(cx - fx) < 6) & (abs(cy - fy) < 6)).any())

    det = CenterFaceDetector()
    low, _ = det.detect_at(frame, 0.5, det.options.threshold)
    assert not on_face(low), "precondition: at half resolution the 17 px face is lost"
    g = GuidedFaces(det, ScheduleOptions(full_every=8, low_every=1))
    first, _, look = g.detect_all(frame)
    assert look.full and on_face(first.xyxy)
    sure, _, look = g.detect_all(frame, first.xyxy)
    assert not look.full and look.passes >= 2  # the low pass and a closer look
    assert on_face(sure.xyxy)


def moving_face_clip(tmp_path, n=24, appear=3):
    frames, faces = [], []
    for i in range(n):
        if i < appear:
            frame, _ = small_face_frame()
            frame[:] = frame[0, 0]
            frames.append(frame)
            faces.append(None)
            continue
        frame, face = small_face_frame(x=500 + 4 * i)
        frames.append(frame)
        faces.append(face)
    return make_video(tmp_path / "walk.mp4", frames), frames, faces


def test_scheduled_video_hides_a_small_face_in_every_frame_it_is_in(tmp_path):
    clip, _, faces = moving_face_clip(tmp_path)
    opts = Options(hide=frozenset({Kind.FACE}), schedule=ScheduleOptions(full_every=8))
    plan = detect_file(clip, opts)
    assert plan.settings["schedule"]["full_every"] == 8
    for fp, face in zip(plan.frames, faces, strict=True):
        if face is None:
            continue
        mask = redaction_mask(720, 1280, fp.regions, Options().specs())
        x1, y1, x2, y2 = (round(v) for v in face)
        assert mask[y1:y2, x1:x2].mean() >= 0.7, f"face leaks in frame {fp.index}"
    # The face appeared between full looks: the frames before it was found are tracked.
    tracked = {fp.index for fp in plan.frames
               if any(r.origin is Origin.TRACKED for r in fp.regions)}
    assert {3, 4, 5, 6, 7} <= tracked


def test_schedule_off_runs_every_pass_on_every_frame(tmp_path):
    clip, _, _ = moving_face_clip(tmp_path, n=6, appear=0)
    calls = []

    class Counting(CenterFaceDetector):
        def detect_all(self, image, candidates=True, video=False):
            calls.append("full")
            return super().detect_all(image, candidates, video)

    opts = Options(hide=frozenset({Kind.FACE}), schedule=None)
    eng = Analyzer(opts, detectors=[Counting(opts.face)])
    plan = detect_file(clip, analyzer=eng)
    assert calls == ["full"] * 6
    assert plan.settings["schedule"] is None


def test_run_output_is_the_same_as_detect_then_render(tmp_path):
    clip, _, _ = moving_face_clip(tmp_path, n=12)
    opts = replace(Options(hide=frozenset({Kind.FACE})), schedule=ScheduleOptions(full_every=4))
    ran = decode_all(anonymize_file(clip, tmp_path / "a.mp4", opts).dst)
    plan = detect_file(clip, opts)
    rendered = decode_all(render_plan(plan, tmp_path / "r.mp4", options=opts).dst)
    assert len(ran) == len(rendered) == 12
    assert all(np.array_equal(a, b) for a, b in zip(ran, rendered, strict=True))


def test_frames_the_low_pass_skips_can_be_left_wholly_to_tracking():
    det = Recorder()
    g = GuidedFaces(det, ScheduleOptions(full_every=8, low_every=2, closer_when_skipped=False))
    small_face = np.array([[600, 300, 616, 316]], np.float64)
    looks = [g.detect_all(HD, small_face)[2] for _ in range(5)]
    assert [lk.passes for lk in looks[1:]] == [0, 2, 0, 2]  # skipped, low + closer, ...


def test_a_look_ahead_runs_one_full_look_at_a_time_on_1080p_frames():
    """Full looks on 1080p frames hold a full-resolution pass's buffers: the workers of a
    look-ahead that reach two full-look frames at once take turns (peak memory); on 720p
    frames the buffers are small and they do not wait."""
    running, most = [0], [0]
    guard = threading.Lock()

    class Slow(Recorder):
        def detect_all(self, image, candidates=True, video=False):
            with guard:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.2)
            with guard:
                running[0] -= 1
            return super().detect_all(image, candidates, video)

    for image, turns in ((np.zeros((1080, 1920, 3), np.uint8), True), (HD, False)):
        running[0] = most[0] = 0
        g = GuidedFaces(Slow(), ScheduleOptions(full_every=8))
        full = g.step(image.shape[1], image.shape[0])
        assert full.full
        threads = [threading.Thread(target=g.own_pass, args=(image, full)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert (most[0] == 1) is turns


def test_a_look_ahead_never_runs_a_full_look_beside_a_plate_search(tmp_path):
    """On 1080p frames the full face look and the whole-frame plate search each hold a
    full-resolution network's buffers: run side by side, their peaks would add up."""

    running, most = [0], [0]
    guard = threading.Lock()

    def whole_frame_pass() -> None:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with guard:
            running[0] -= 1

    class SlowFaces(CenterFaceDetector):
        def detect_all(self, image, candidates=True, video=False):
            whole_frame_pass()
            return Detections.empty(), Detections.empty()

        def detect_at(self, image, scale, threshold):
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)

    class SlowPlates(ScaledDetector):
        kind = Kind.PLATE
        card = ModelCard("slow", "0" * 64, "test", "test")

        def main_pass(self, width, height):
            return 1.0

        def detect(self, image, passes=None):
            if image.shape[:2] == (1080, 1920):
                whole_frame_pass()
            return Detections.empty(Kind.PLATE)

    clip = make_video(tmp_path / "fhd.mp4", 13, size=(1920, 1080))
    opts = replace(Options(), text_every=4, schedule=ScheduleOptions(full_every=4))
    analyzer = Analyzer(opts, [SlowFaces(opts.face), SlowPlates()])
    analysis = VideoAnalysis(analyzer, tracker_for(opts), False, workers=3, depth=6)
    assert len(list(analysis.run(iter_frames(clip)))) == 13
    assert most[0] == 1  # frames 0, 4, 8 and 12 each get both, one after the other
