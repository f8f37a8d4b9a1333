"""The PP-OCRv4 text detector on rendered text, its DB post-processing, model card and options."""

import itertools

import numpy as np
import pytest

from faceless.core.errors import AnalysisError, ConfigError, ModelError
from faceless.core.types import Kind
from faceless.detect import ocr
from faceless.detect.base import Detector
from faceless.detect.boxes import NESTED, merge_union
from faceless.detect.boxes import tile_starts as tiles
from faceless.detect.ocr import (
    DET_INT8_SHA256,
    DET_SHA256,
    TextBoxes,
    TextModel,
    db_boxes,
    tile_size,
)
from faceless.detect.text import TextDetector, TextOptions
from textgen import covered, draw_text, textured


@pytest.fixture(scope="module")
def detector():
    d = TextDetector()
    d.setup()
    return d


def test_finds_rendered_lines_and_covers_their_characters(detector):
    img = textured(360, 560, seed=2, mean=200, spread=12)
    lines = [draw_text(img, "OPEN 9 TO 5", (40, 60), 36),
             draw_text(img, "Fresh bread daily", (60, 200), 24)]
    dets = detector.detect(img)
    assert isinstance(detector, Detector)
    assert dets.kind is Kind.TEXT
    for line in lines:
        assert covered(dets.xyxy, line) >= 0.9, (line, dets.xyxy)
    assert ((dets.score >= 0) & (dets.score <= 1)).all()
    # Nothing far from the text: every box touches one of the lines.
    for b in dets.xyxy:
        assert any(b[0] < x2 and b[2] > x1 and b[1] < y2 and b[3] > y1
                   for x1, y1, x2, y2 in lines), b


def test_small_frames_are_upscaled_so_small_text_is_found(detector):
    img = textured(120, 200, seed=4, mean=210, spread=10)
    line = draw_text(img, "AB 123", (40, 50), 14)  # ~10 px characters
    assert TextOptions().passes(200, 120)[0] == 2.0
    assert covered(detector.detect(img).xyxy, line) >= 0.9


def test_tiled_frames_find_text_across_a_tile_border():
    img = textured(200, 700, seed=5, mean=200, spread=12)
    line = draw_text(img, "ACROSS THE SEAM", (150, 80), 32)  # spans x = 256
    small_tiles = TextDetector(TextOptions(tile=256, tile_overlap=64, coarse_side=0,
                                           min_side=0))
    assert covered(small_tiles.detect(img).xyxy, line) >= 0.9


def test_no_text_in_a_blank_frame(detector):
    assert len(detector.detect(np.zeros((240, 320, 3), np.uint8))) == 0
    assert len(detector.detect(np.full((240, 320, 3), 255, np.uint8))) == 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 33, 3), (33, 7, 3), (97, 131, 3)])
def test_odd_and_tiny_frames_do_not_crash(detector, shape):
    dets = detector.detect(np.full(shape, 128, np.uint8))
    h, w = shape[:2]
    assert (dets.xyxy[:, [0, 2]] <= w).all() and (dets.xyxy[:, [1, 3]] <= h).all()


def test_wrong_input_is_an_analysis_error(detector):
    with pytest.raises(AnalysisError):
        detector.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(AnalysisError):
        detector.detect(np.zeros((10, 10, 3), np.float32))


def test_model_card_pins_the_shipped_weights(detector):
    card = detector.card
    assert card.sha256 == DET_INT8_SHA256 and card.licence == "Apache-2.0"
    assert "quantize_ppocr_det" in card.source and "int8" in card.name
    fp32 = TextDetector(TextOptions(precision="fp32")).card
    assert fp32.sha256 == DET_SHA256 and "rapidocr" in fp32.source
    licence = ocr.package_file("faceless.models", "LICENSE-ppocr.txt").read_text()
    assert "Apache License" in licence and "ppocr-det-int8.onnx" in licence


def test_int8_and_fp32_networks_find_the_same_lines():
    img = textured(360, 560, seed=7, mean=190, spread=14)
    lines = [draw_text(img, "EXIT 24 NORTH", (40, 50), 30),
             draw_text(img, "no parking 8-18", (90, 210), 20),
             draw_text(img, "KX 4471", (300, 300), 16)]
    for precision in ("int8", "fp32"):
        found = TextDetector(TextOptions(precision=precision)).detect(img)
        for line in lines:
            assert covered(found.xyxy, line) >= 0.9, (precision, line, found.xyxy)
    a = TextDetector(TextOptions(precision="int8")).model.probability(img, 1280, 256)
    b = TextDetector(TextOptions(precision="fp32")).model.probability(img, 1280, 256)
    assert ((a > 0.3) == (b > 0.3)).mean() > 0.97  # the binarised maps agree


def test_a_tampered_model_is_refused(tmp_path, monkeypatch):
    real = ocr.package_file(ocr.RAPIDOCR, ocr.DET_FILE)
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "det.onnx"
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(ocr, "package_file", lambda package, name: bad)
    with pytest.raises(ModelError, match="sha256"):
        TextModel().setup()


def test_a_model_that_is_not_onnx_is_a_model_error(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        TextDetector(TextOptions(model_path=bad)).setup()


def test_options_are_validated():
    for bad in (dict(threshold=0), dict(box_threshold=1.0), dict(unclip_ratio=0.5),
                dict(tile=100), dict(tile=1000), dict(tile_overlap=2000), dict(scales=()),
                dict(scales=(0.0,)), dict(coarse_side=10), dict(merge_iou=0),
                dict(precision="int4")):
        with pytest.raises(ConfigError):
            TextOptions(**bad)


def test_passes_upscale_small_frames_and_add_a_coarse_pass_to_big_ones():
    o = TextOptions()
    assert o.passes(1280, 720) == [1.0]
    assert o.passes(1920, 1080) == [1.0, 0.5]
    assert o.passes(320, 240) == [2.0]  # capped by max_upscale
    assert TextOptions(scales=(1.0, 1.5)).passes(1280, 720) == [1.0, 1.5]


def test_tiles_cover_the_length_with_overlap():
    assert tiles(100, 256, 64) == [0]
    starts = tiles(700, 256, 64)
    assert starts[0] == 0 and starts[-1] + 256 == 700
    assert all(b - a <= 256 - 64 for a, b in itertools.pairwise(starts))


def test_windows_are_as_few_as_the_tile_allows_and_evenly_sized():
    assert tile_size(720, 1280, 256) == 720  # fits: one window, the frame itself
    assert tile_size(1920, 1280, 256) == 1088  # 1080p: two 1088-px windows, not 1280 + 1280
    assert tile_size(2560, 1280, 256) == 1024  # three windows of 1024, not 1280
    for length in (1300, 1920, 2560, 3840):
        size = tile_size(length, 1280, 256)
        starts = tiles(length, size, 256)
        assert size <= 1280 and size % 32 == 0
        assert starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size - 256 for a, b in itertools.pairwise(starts))
        assert len(starts) == len(tiles(length, 1280, 256))


def test_db_boxes_unclip_the_kernel_by_area_over_perimeter():
    prob = np.zeros((100, 200), np.float32)
    prob[40:50, 50:130] = 0.9  # an 80x10 kernel
    found = db_boxes(prob, threshold=0.3, box_threshold=0.5, unclip_ratio=2.0)
    # After the 2x2 dilation the region's corner points span 80x10 px and its filled
    # rectangle 81x11 px, of which 80x10 carry 0.9 (as in PaddleOCR).
    assert len(found) == 1 and found.score[0] == pytest.approx(0.9 * 800 / 891, abs=1e-3)
    x1, y1, x2, y2 = found.xyxy()[0]
    d = 80 * 10 * 2.0 / (2 * (80 + 10))  # unclip distance: area * ratio / perimeter
    assert (x2 - x1) == pytest.approx(80 + 2 * d, abs=0.01)
    assert (y2 - y1) == pytest.approx(10 + 2 * d, abs=0.01)
    assert (x1 + x2) / 2 == pytest.approx(90) and (y1 + y2) / 2 == pytest.approx(45)


def test_db_boxes_drop_weak_and_tiny_regions():
    prob = np.zeros((100, 200), np.float32)
    prob[10:30, 10:60] = 0.4  # above the binarisation threshold, below the box threshold
    prob[60:62, 100:102] = 0.99  # too small
    assert len(db_boxes(prob, 0.3, 0.5, 2.0)) == 0


def test_merge_union_joins_overlapping_and_nested_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [2, 2, 4, 4], [50, 50, 60, 60]])
    xyxy, score = merge_union(boxes, np.array([0.9, 0.8, 0.7, 0.6]), 0.3, NESTED)
    assert xyxy.tolist() == [[0, 0, 11, 11], [50, 50, 60, 60]]
    assert score.tolist() == pytest.approx([0.9, 0.6])


def test_text_boxes_are_axis_aligned_around_the_corners():
    tb = TextBoxes(np.array([[[10, 5], [30, 8], [28, 20], [8, 17]]]), [0.7])
    assert tb.xyxy().tolist() == [[8, 5, 30, 20]]
    assert len(TextBoxes.empty()) == 0 and TextBoxes.empty().xyxy().shape == (0, 4)


def test_the_network_input_is_bgr_scaled_to_minus_one_one_also_into_a_padded_batch():
    rgb = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    blob = ocr.to_blob(rgb)
    assert blob.dtype == np.float32 and blob.shape == (3, 37, 53)
    # PP-OCR's normalisation, (x / 255 - 0.5) / 0.5, on the channels in BGR order.
    expected = rgb[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 127.5) - 1
    assert np.array_equal(blob, expected)
    assert blob.min() >= -1.0 and blob.max() <= 1.0
    batch = np.zeros((2, 3, 64, 64), np.float32)
    ocr.to_blob(rgb, batch[1, :, :37, :53])
    assert np.array_equal(batch[1, :, :37, :53], expected)
    assert not batch[0].any() and not batch[1, :, 37:].any() and not batch[1, :, :, 53:].any()
