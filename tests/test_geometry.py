"""Box geometry: half-open spans, degenerate boxes, IoU and NMS."""

import numpy as np
import pytest

from faceless.core.geometry import iou_matrix, nms, pixel_span, scale_box
from faceless.core.types import Detections, Kind, Region


def test_pixel_span_rounds_outward_and_keeps_the_last_row_and_column():
    assert pixel_span((0.5, 0.5, 9.2, 9.9), 10, 10) == (0, 0, 10, 10)
    # A box reaching the frame's far edge includes the last column (half-open, no shape-1 clip).
    assert pixel_span((5, 5, 10, 10), 10, 10) == (5, 5, 10, 10)


@pytest.mark.parametrize("box", [(3, 3, 3, 3), (3.2, 3.2, 3.2, 3.9), (3, 3, 3.1, 3)])
def test_degenerate_boxes_still_cover_one_pixel(box):
    span = pixel_span(box, 10, 10)
    assert span is not None
    x1, y1, x2, y2 = span
    assert x2 - x1 >= 1 and y2 - y1 >= 1


@pytest.mark.parametrize("box", [(-20, -20, -1, -1), (10, 0, 20, 5), (0, 12, 5, 30)])
def test_off_frame_boxes_have_no_span(box):
    assert pixel_span(box, 10, 10) is None


def test_partly_off_frame_box_is_clipped():
    assert pixel_span((-5, -5, 3, 4), 10, 10) == (0, 0, 3, 4)


def test_reversed_corners_are_normalised():
    assert pixel_span((6, 6, 2, 2), 10, 10) == (2, 2, 6, 6)


def test_scale_box_keeps_centre():
    assert scale_box((10, 20, 30, 60), 1.5) == (5.0, 10.0, 35.0, 70.0)


def test_iou_and_nms():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 0, 15, 10], [50, 50, 60, 60]], float)
    m = iou_matrix(a, a)
    assert m[0, 1] == pytest.approx(1.0)
    assert m[0, 2] == pytest.approx(50 / 150)
    assert m[0, 3] == 0
    keep = nms(a, np.array([0.9, 0.8, 0.7, 0.6]), 0.3)
    assert keep.tolist() == [0, 3]


def test_nms_keeps_what_greedy_suppression_by_iou_matrix_keeps():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 200, (400, 2))
    boxes = np.hstack([xy, xy + rng.uniform(1, 60, (400, 2))])
    boxes[7::7] = boxes[1:-6:7]  # exact duplicates
    scores = rng.choice([0.3, 0.5, 0.5, 0.7, 0.9], 400)  # ties keep their input order
    for thr in (0.1, 0.3, 0.5):
        order, want = list(np.argsort(-scores, kind="stable")), []
        while order:
            want.append(int(order[0]))
            row = iou_matrix(boxes[order[:1]], boxes[order[1:]])[0]
            order = [j for j, v in zip(order[1:], row, strict=True) if v < thr]
        assert nms(boxes, scores, thr).tolist() == want

def test_region_validates_on_construction():
    with pytest.raises(ValueError):
        Region((0, 0, float("nan"), 1))
    with pytest.raises(ValueError):
        Region((0, 0, 1, 1), score=1.5)
    with pytest.raises(ValueError):
        Region((0, 0, 1, 1), kind="elephant")


def test_detections_are_columnar_and_checked():
    d = Detections([[0, 0, 1, 1], [2, 2, 3, 3]], [0.5, 0.9])
    assert len(d) == 2 and d.kind is Kind.FACE
    assert [r.score for r in d.regions()] == pytest.approx([0.5, 0.9])
    with pytest.raises(ValueError):
        Detections([[0, 0, 1, 1]], [0.5, 0.9])
