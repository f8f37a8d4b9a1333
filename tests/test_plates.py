"""The plate detector on rendered plates, its rules, and that plate text never leaks."""

import dataclasses
import logging

import cv2
import numpy as np
import pytest

from faceless.core.errors import AnalysisError, ConfigError, ModelError
from faceless.core.types import Detections, Kind
from faceless.detect import ocr, plates
from faceless.detect.base import Detector
from faceless.detect.ocr import REC_SHA256, Recognizer
from faceless.detect.plates import (
    LETTERS_ONLY,
    NOT_PLATE,
    PLATE_LIKE,
    PlateDetector,
    PlateOptions,
    grow_line,
    line_geometry,
    line_shape_ok,
    middle_band,
    plate_background,
    plate_rects,
    plate_text_score,
)
from faceless.detect.text import TextDetector
from textgen import (
    covered,
    draw_text,
    paste_rotated,
    plate_image,
    plate_scene,
    skewed_plate_scene,
    text_free_scene,
    textured,
    timestamp_scene,
)

PLATE = "ABC 1234"


@pytest.fixture(scope="module")
def detector():
    d = PlateDetector()
    d.setup()
    return d


def area(b):
    return (b[2] - b[0]) * (b[3] - b[1])


@pytest.mark.parametrize(("width", "angle"), [(100, 0), (160, 3), (240, -5), (320, 8)])
def test_finds_a_rendered_plate_and_covers_it(detector, width, angle):
    img, plate = plate_scene(PLATE, width=width, angle=angle)
    dets = detector.detect(img)
    assert isinstance(detector, Detector)
    assert dets.kind is Kind.PLATE
    assert len(dets) == 1, dets.xyxy
    assert covered(dets.xyxy, plate) >= 0.9
    assert area(dets.xyxy[0]) <= 2.0 * area(plate)  # the plate, not half the frame
    assert 0 < dets.score[0] <= 1


def test_finds_a_plate_in_a_small_frame_and_in_a_corner(detector):
    img, plate = plate_scene("KD 4471", width=90, size=(200, 300), xy=(205, 165))
    assert covered(detector.detect(img).xyxy, plate) >= 0.9


@pytest.mark.parametrize("name", ["blank", "noise", "shapes"])
def test_no_plate_where_there_is_none(detector, name):
    img = {"blank": np.zeros((240, 320, 3), np.uint8),
           "noise": np.random.default_rng(1).integers(0, 256, (240, 320, 3), np.uint8),
           "shapes": text_free_scene()}[name]
    assert len(detector.detect(img)) == 0


def test_text_that_is_no_plate_is_left_alone(detector):
    """A sentence (too long) and a word painted on a wall (no plate around it)."""
    img = textured(360, 640, seed=7, mean=200, spread=10)
    draw_text(img, "Fresh bread every morning", (40, 60), 30)
    draw_text(img, "WELCOME", (200, 250), 40)
    assert len(TextDetector().detect(img)) >= 2  # it is text ...
    assert len(detector.detect(img)) == 0  # ... but not a plate


def test_a_letters_only_plate_needs_a_plate_around_it(detector):
    img = textured(360, 480, seed=6)
    plate = paste_rotated(img, plate_image("FZRULZ", 200), 140, 150, 0)
    assert covered(detector.detect(img).xyxy, plate) >= 0.9
    strict = PlateDetector(PlateOptions(letters_only=False), text=detector.text)
    assert len(strict.detect(img)) == 0


@pytest.mark.parametrize(("angle", "squash"), [(50, 0.6), (-55, 0.5), (60, 0.6)])
def test_a_turned_foreshortened_plate_is_found_by_its_shape(detector, angle, squash):
    """A plate as a fisheye shows it: turned past the line rule's tilt limit and seen from
    the side. Only the search for a plate-shaped region, read upright, finds it."""
    img, plate = skewed_plate_scene(angle=angle, squash=squash)
    dets = detector.detect(img)
    assert len(dets) == 1, dets.xyxy
    assert covered(dets.xyxy, plate) >= 0.9
    assert area(dets.xyxy[0]) <= 1.6 * area(plate)
    lines_only = PlateDetector(PlateOptions(plate_rects=False), text=detector.text)
    assert len(lines_only.detect(img)) == 0


def test_plate_rects_give_the_plates_own_outline():
    img, plate = skewed_plate_scene(angle=50)
    x1, y1, x2, y2 = plate
    # A square-ish blob over the plate, as the text detector marks a tilted plate.
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, 0.6 * max(x2 - x1, y2 - y1)
    blob = np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r], [cx - r, cy + r]],
                    np.float32)
    rects = plate_rects(img, blob)
    assert rects
    best = rects[0]
    assert best.quad.min(axis=0) == pytest.approx([x1, y1], abs=8)
    assert best.quad.max(axis=0) == pytest.approx([x2, y2], abs=8)
    band = middle_band(best.quad)
    assert cv2.contourArea(band) == pytest.approx(0.7 * cv2.contourArea(best.quad), rel=0.1)
    # A blank wall and a scene of shapes without characters hold no plate.
    square = np.array([[20, 20], [180, 20], [180, 180], [20, 180]], np.float32)
    assert plate_rects(np.full((200, 200, 3), 128, np.uint8), square) == []
    assert plate_rects(text_free_scene(), blob) == []


def test_a_camera_timestamp_is_not_a_plate(detector):
    img, stamp = timestamp_scene()
    assert covered(TextDetector().detect(img).xyxy, stamp) >= 0.9  # it is text ...
    assert len(detector.detect(img)) == 0  # ... but not a plate


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 33, 3), (33, 7, 3), (97, 131, 3)])
def test_odd_and_tiny_frames_do_not_crash(detector, shape):
    dets = detector.detect(np.full(shape, 128, np.uint8))
    assert len(dets) == 0


def test_wrong_input_is_an_analysis_error(detector):
    with pytest.raises(AnalysisError):
        detector.detect(np.zeros((10, 10, 4), np.uint8))


# ----------------------------------------------------------------- what is never kept


def test_recognised_text_never_leaks(detector, caplog, monkeypatch):
    """The recogniser reads the plate (the rule sees it), yet nothing else ever holds it."""
    seen = []
    real_rule = plates.plate_text_score

    def spy(text, *args):
        seen.append(text)
        return real_rule(text, *args)

    monkeypatch.setattr(plates, "plate_text_score", spy)
    img, _ = plate_scene(PLATE, width=200)
    with caplog.at_level(logging.DEBUG):
        dets = detector.detect(img)
    assert len(dets) == 1
    assert any("1234" in s for s in seen)  # it was read ...
    # ... but not kept: the result type has no place for text ...
    assert {f.name for f in dataclasses.fields(Detections)} == {"xyxy", "score", "kind"}
    assert all(isinstance(v, (np.ndarray, Kind)) for v in vars(dets).values())
    # ... no log record carries it ...
    for rec in caplog.records:
        assert "1234" not in rec.getMessage() and "ABC" not in rec.getMessage()
    # ... and neither detector nor recogniser holds on to it.
    for obj in (detector, detector.recognizer, detector.text):
        for value in vars(obj).values():
            assert not (isinstance(value, str) and "1234" in value)
    for region in dets.regions():
        assert "1234" not in repr(region)


def test_the_recogniser_returns_only_the_rules_numbers(detector):
    img, _ = plate_scene(PLATE, width=200)
    quads = detector.text.find(img).quads
    out = detector.recognizer.judge(img, quads, lambda text, conf: float(len(text) > 0))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert out.max() == 1.0


# ----------------------------------------------------------------- the rules


@pytest.mark.parametrize(("text", "expected"), [
    ("ABC 1234", PLATE_LIKE),
    ("ABC-1234", PLATE_LIKE),
    ("RK·376AF", PLATE_LIKE),
    ("&RK-376AF", PLATE_LIKE),  # a bolt read as punctuation
    ("皖A·5P237", PLATE_LIKE),  # a Chinese plate: province character first
    ("M 5XSX", PLATE_LIKE),
    ("1049338", PLATE_LIKE),  # all digits: older plates
    ("ＡＢＣ１２３", PLATE_LIKE),  # full-width forms
    ("FZRULZ", LETTERS_ONLY),  # a vanity plate, or just a word
    ("TEXAS", LETTERS_ONLY),
    ("12", NOT_PLATE),  # too short
    ("ABC", NOT_PLATE),
    ("THE EMPIRE STATE", NOT_PLATE),  # too long
    ("Fresh bread every morning", NOT_PLATE),
    ("北京市朝阳区", NOT_PLATE),  # CJK text, not a plate
    ("2014-05-13", NOT_PLATE),  # a camera's date stamp
    ("06:28:37", NOT_PLATE),  # and its clock
    ("06828837", NOT_PLATE),  # the same clock, each colon read as an 8
    ("2014 05 13", NOT_PLATE),  # the date without its dashes
    ("13052014", NOT_PLATE),
    ("12834", NOT_PLATE),  # 12:34
    ("123456", PLATE_LIKE),  # six digits: a plate (only the 8-for-colon clock is refused)
    ("99834856", PLATE_LIKE),  # no clock reads 99
    ("", NOT_PLATE),
])
def test_plate_text_rule(text, expected):
    assert plate_text_score(text) == expected


def test_plate_text_rule_lengths_are_options():
    assert plate_text_score("AB12", min_chars=5) == NOT_PLATE
    assert plate_text_score("AB1234567890", max_chars=12) == PLATE_LIKE


def test_line_shape_rule():
    o = PlateOptions()
    assert line_shape_ok(120, 40, 0, o)
    assert not line_shape_ok(40, 40, 0, o)  # square: aspect below min_aspect
    assert not line_shape_ok(400, 40, 0, o)  # a long sentence: above max_aspect
    assert not line_shape_ok(120, 40, 60, o)  # standing on end
    assert not line_shape_ok(30, 6, 0, o)  # too small to read
    assert line_shape_ok(40, 40, 0, PlateOptions(min_aspect=1.0))


def test_line_geometry_measures_along_the_line():
    w, h, tilt = line_geometry(np.array([[0, 0], [100, 0], [100, 30], [0, 30]]))
    assert (w, h, tilt) == pytest.approx((100, 30, 0))
    turned = np.array([[0, 0], [0, 100], [30, 100], [30, 0]])  # the same, standing up
    assert line_geometry(turned) == pytest.approx((100, 30, 90))
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    tilted = np.array([[0, 0], [100 * c, 100 * s], [100 * c - 30 * s, 100 * s + 30 * c],
                       [-30 * s, 30 * c]])
    assert line_geometry(tilted)[2] == pytest.approx(10, abs=0.01)


def test_grow_line_grows_along_the_lines_axes():
    o = PlateOptions(grow_x=0.1, grow_up=0.3, grow_down=0.2)
    grown = grow_line(np.array([[100, 100], [200, 100], [200, 140], [100, 140]]), o)
    assert grown.min(axis=0).tolist() == pytest.approx([90, 88])
    assert grown.max(axis=0).tolist() == pytest.approx([210, 148])


def test_plate_background_finds_the_plate_but_not_a_wall():
    img = textured(300, 400, seed=9)
    plate = paste_rotated(img, plate_image("ABC 123", 180), 110, 120, 0)
    x1, y1, x2, y2 = plate
    # The characters' line, as the text detector would give it (inside the plate).
    line = np.array([[x1 + 12, y1 + 9], [x2 - 12, y1 + 9], [x2 - 12, y2 - 9],
                     [x1 + 12, y2 - 9]], np.float32)
    rect = plate_background(img, line)
    assert rect is not None
    assert rect.min(axis=0) == pytest.approx([x1, y1], abs=6)
    assert rect.max(axis=0) == pytest.approx([x2, y2], abs=6)
    wall = np.full((300, 400, 3), 200, np.uint8)
    wx1, wy1, wx2, wy2 = draw_text(wall, "WELCOME", (120, 130), 36)
    wline = np.array([[wx1 - 8, wy1 - 8], [wx2 + 8, wy1 - 8], [wx2 + 8, wy2 + 8],
                      [wx1 - 8, wy2 + 8]], np.float32)
    assert plate_background(wall, wline) is None


# ----------------------------------------------------------------- models and options


def test_model_cards_pin_both_shipped_models(detector):
    det_card, rec_card = detector.cards
    assert detector.card == det_card
    assert det_card.sha256 == ocr.DET_INT8_SHA256 and rec_card.sha256 == REC_SHA256
    assert det_card.licence == rec_card.licence == "Apache-2.0"


def test_a_tampered_recognition_model_is_refused(tmp_path, monkeypatch):
    real = ocr.package_file(ocr.RAPIDOCR, ocr.REC_FILE)
    data = bytearray(real.read_bytes())
    data[-100] ^= 0xFF
    bad = tmp_path / "rec.onnx"
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(ocr, "package_file", lambda package, name: bad)
    with pytest.raises(ModelError, match="sha256"):
        Recognizer().setup()


def test_a_plate_detector_can_share_a_loaded_text_detector(detector):
    shared = PlateDetector(text=detector.text)
    assert shared.text is detector.text


def test_options_are_validated():
    for bad in (dict(min_aspect=0.5), dict(min_aspect=5, max_aspect=4), dict(max_tilt=100),
                dict(min_height=-1), dict(min_chars=0), dict(min_chars=6, max_chars=5),
                dict(grow_x=-0.1), dict(grow_up=5), dict(merge_iou=0), dict(text="fast"),
                dict(rect_max_area=0), dict(rect_max_area=1.5)):
        with pytest.raises(ConfigError):
            PlateOptions(**bad)
