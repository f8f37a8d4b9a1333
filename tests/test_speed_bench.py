"""Smoke test of bench/speed.py's judged clips: the labels are on the faces, the judge counts."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from benchmod import load_bench
from faceless.detect.faces import CenterFaceDetector


@pytest.fixture(scope="module")
def speed():
    return load_bench("speed")


@pytest.fixture(scope="module")
def clip(speed, tmp_path_factory):
    """A 640x360 clip of 6 frames holding only the faces of 20 px and more, with its labels."""
    tmp = tmp_path_factory.mktemp("speed")
    speed.CLIPS["test-360p-20px"] = "640x360/20"
    src = speed.make_clip("test-360p-20px", speed.CLIPS["test-360p-20px"], 6, tmp)
    frames, boxes = speed.synthetic_clip(640, 360, 6, min_face=20)
    return src, src.with_suffix(".faces.json"), frames, boxes


def test_only_faces_from_the_minimum_size_are_labelled_and_each_label_is_on_a_face(clip):
    _, faces, frames, boxes = clip
    assert json.loads(faces.read_text()) == boxes
    sides = [min(x2 - x1, y2 - y1) for x1, y1, x2, y2 in boxes[0]]
    assert len(sides) >= 4 and min(sides) >= 19  # the face box's short side, rounded tiles
    found, _ = CenterFaceDetector().detect_at(frames[0], 2.0, 0.3)
    centres = (found[:, :2] + found[:, 2:]) / 2
    for x1, y1, x2, y2 in boxes[0]:
        inside = ((centres[:, 0] > x1) & (centres[:, 0] < x2) & (centres[:, 1] > y1)
                  & (centres[:, 1] < y2))
        assert inside.any(), f"no face found in the label {x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}"


def test_the_judge_counts_visible_faces_and_not_filled_ones(speed, clip, tmp_path):
    src, faces, frames, boxes = clip
    n_faces = sum(len(b) for b in boxes)
    assert speed.judge(src, src, faces) == (n_faces, n_faces, len(boxes[0]))
    filled = []
    for image, here in zip(frames, boxes, strict=True):
        image = image.copy()
        for j, (x1, y1, x2, y2) in enumerate(here):
            if j:  # every face but the first is filled in magenta
                image[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = (255, 0, 255)
        filled.append(image)
    out = tmp_path / "filled.mp4"
    speed._encode(filled, out, Fraction(25))
    assert speed.judge(src, out, faces) == (len(boxes), n_faces, 1)


def test_each_tool_is_compared_with_deface_on_as_many_frames(speed):
    """--slow-frames: a slow mode on a short cut is set against deface on that cut, not the
    long one (else its ratio would mix two clips)."""
    def row(mode, frames, wall):
        return {"clip": "c", "frames": frames, "mode": mode, "ok": True, "runs": 3,
                "wall": wall, "fps": frames / wall, "ratio": 1.0,
                "cpu_per_frame": wall / frames, "rss_mb": 1.0}

    rows = [row("deface", 150, 30.0), row("faceless", 150, 6.0),
            row("deface", 10, 2.5), row("faceless --thorough", 10, 40.0)]
    lines = speed.table(rows).splitlines()[2:]
    vs = {line.split(" | ")[2]: line.split(" | ")[5] for line in lines}
    assert vs["faceless"] == "5.0×"
    assert vs["faceless --thorough"] == "0.1×"  # 2.5 / 40, not 30 / 40 (0.8×)
    assert speed.is_slow("faceless --hide face --thorough") and not speed.is_slow("faceless")
