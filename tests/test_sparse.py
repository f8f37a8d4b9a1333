"""Closer looks at tracked plates and text between full searches (detect.sparse)."""

from __future__ import annotations

import numpy as np
import pytest

from faceless.analyze import Analyzer
from faceless.api import detect_file
from faceless.core.errors import ConfigError
from faceless.core.types import Detections, Kind, Origin
from faceless.detect.base import ModelCard, ScaledDetector
from faceless.detect.sparse import SparseOptions, closer_looks, crops
from faceless.options import Options
from videogen import make_video


def test_crops_reach_around_each_box_inside_the_frame():
    o = SparseOptions(context_x=1.0, context_y=2.0, min_crop=32)
    (c,) = crops(np.array([[100, 100, 140, 110]]), 640, 480, o)
    assert c == (60, 80, 180, 130)  # 1 width left and right, 2 heights above and below
    (edge,) = crops(np.array([[0, 0, 40, 10]]), 640, 480, o)
    assert edge[0] == 0 and edge[1] == 0  # cut at the frame, not beyond it
    (small,) = crops(np.array([[300, 300, 304, 302]]), 640, 480, SparseOptions(min_crop=96))
    assert small[2] - small[0] >= 96 and small[3] - small[1] >= 96


def test_overlapping_crops_merge_and_the_largest_go_first():
    o = SparseOptions(context_x=0.5, context_y=0.5, min_crop=32, max_looks=2)
    boxes = np.array([[10, 10, 50, 30], [40, 15, 80, 35],  # overlap once grown: one crop
                      [300, 300, 310, 305], [500, 100, 600, 140]])
    got = crops(boxes, 640, 480, o)
    assert got == [(450, 80, 640, 160), (0, 0, 100, 45)]  # the 32-px crop is left out
    merged = crops(boxes[:2], 640, 480, SparseOptions(context_x=0.5, context_y=0.5, min_crop=32))
    assert len(merged) == 1 and merged[0][0] <= 10 and merged[0][2] >= 80


def test_closer_looks_map_boxes_back_and_drop_the_ones_cut_by_a_crop():
    image = np.zeros((200, 400, 3), np.uint8)
    seen = []

    def detect(crop, passes):
        seen.append((crop.shape, tuple(passes)))
        h, w = crop.shape[:2]
        # One whole box in the middle, one touching the crop's left edge.
        return Detections([[w / 2 - 10, h / 2 - 5, w / 2 + 10, h / 2 + 5], [0, 10, 12, 20]],
                          [0.9, 0.8], Kind.PLATE)

    o = SparseOptions(context_x=1.0, context_y=1.0, min_crop=32)
    got = closer_looks(detect, image, np.array([[190, 95, 210, 105]]), Kind.PLATE, [1.5], o)
    assert seen == [((32, 60, 3), (1.5,))]  # 30 px high, grown to min_crop
    assert got.kind is Kind.PLATE and len(got) == 1
    np.testing.assert_allclose(got.xyxy[0], [190, 95, 210, 105])
    # At the frame's own edge a box is whole: it is kept.
    got = closer_looks(detect, image, np.array([[0, 95, 20, 105]]), Kind.PLATE, [1.0], o)
    assert len(got) == 2


def test_crops_stay_within_their_share_of_the_frame():
    boxes = np.array([[x, 100, x + 60, 120] for x in range(40, 1240, 200)])  # 6 apart
    o = SparseOptions(context_x=0.5, context_y=1.0, min_crop=32, max_share=0.05)
    got = crops(boxes, 1280, 480, o)
    area = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in got)
    assert len(got) == 4 and area <= 0.05 * 1280 * 480  # 120 x 60 each
    assert len(crops(boxes, 1280, 480, SparseOptions(context_x=0.5, context_y=1.0,
                                                     min_crop=32))) == len(boxes)


def test_sparse_options_are_checked():
    for bad in ({"every": -1}, {"context_x": -1}, {"min_crop": 8}, {"max_looks": 0},
                {"max_share": 0}):
        with pytest.raises(ConfigError):
            SparseOptions(**bad)


class WhitePlates(ScaledDetector):
    """A plate detector that finds white rectangles in whatever image it is given."""

    kind = Kind.PLATE
    card = ModelCard("white", "0" * 64, "test", "test")

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def main_pass(self, width: int, height: int) -> float:
        return 1.0

    def detect(self, image, passes=None):
        self.calls.append(image.shape[:2])
        ys, xs = np.nonzero(image.min(axis=2) > 200)
        if not len(xs):
            return Detections.empty(Kind.PLATE)
        return Detections([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], [0.9], Kind.PLATE)


def _moving_plate_clip(tmp_path, n=20):
    rng = np.random.default_rng(5)
    frames, boxes = [], []
    for i in range(n):
        img = rng.integers(0, 90, (240, 320, 3), dtype=np.uint8)
        x = 40 + 6 * i
        img[100:116, x:x + 40] = 255
        frames.append(img)
        boxes.append((x, 100, x + 40, 116))
    return make_video(tmp_path / "plate.mp4", frames), boxes


@pytest.mark.parametrize("every", [1, 0])
def test_plates_get_closer_looks_between_full_searches(tmp_path, every):
    src, boxes = _moving_plate_clip(tmp_path)
    det = WhitePlates()
    opts = Options(hide=frozenset({Kind.PLATE}), text_every=6,
                   sparse=SparseOptions(every=every, min_crop=32, max_share=1.0))
    plan = detect_file(src, analyzer=Analyzer(opts, [det]))
    full = [c for c in det.calls if c == (240, 320)]
    assert len(full) == 4  # frames 0, 6, 12, 18
    looked = [c for c in det.calls if c != (240, 320)]
    for f, box in zip(plan.frames, boxes, strict=True):
        found = [r for r in f.regions if r.origin is not Origin.TRACKED]
        if f.index % 6 == 0:
            assert found and "closer look" not in found[0].reason
        elif every:
            # Found in a crop of a few per cent of the frame, where it really is now.
            (r,) = found
            assert "closer look" in r.reason
            assert abs(r.box[0] - box[0]) <= 2 and abs(r.box[2] - box[2]) <= 2
        else:
            assert not found
    if every:
        assert len(looked) == 16 and all(h * w < 0.4 * 240 * 320 for h, w in looked)
    else:
        assert not looked


def test_a_crop_runs_at_the_scale_it_is_given_not_upscaled_for_being_small():
    from faceless.detect.text import TextDetector

    det = TextDetector()
    seen = []
    real = det.model.probability

    def probability(rgb, tile, overlap):
        seen.append(rgb.shape[:2])
        return real(rgb, tile, overlap)

    det.model.probability = probability
    crop = np.full((60, 200, 3), 128, np.uint8)
    assert det.main_pass(1280, 720) == 1.0 and det.main_pass(640, 360) > 1.0
    det.detect(crop)  # as a whole image: small, so upscaled
    det.detect(crop, passes=[1.0])  # as a crop of a 720p frame: its own size
    assert seen[0][0] > 60 and seen[1] == (60, 200)
