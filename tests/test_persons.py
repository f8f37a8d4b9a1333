"""Persons and heads: the shipped NanoDet model, head regions, and both kinds in the pipeline."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from faceless.analyze.analyzer import Analyzer, build_detectors
from faceless.anonymize.operators import Operator, OperatorSpec, Shape
from faceless.api import anonymize_file, anonymize_image, detect_file
from faceless.cli.main import main
from faceless.core.errors import ConfigError, ModelError
from faceless.core.types import Detections, Kind, Origin
from faceless.detect import persons as P
from faceless.detect.base import Detector, ModelCard
from faceless.detect.faces import FaceOptions
from faceless.detect.heads import HeadDetector, HeadOptions, heads_from_persons
from faceless.detect.onnx import load_model_bytes, package_file
from faceless.detect.person_faces import GuidePersons, HeadLookOptions, head_crops
from faceless.detect.persons import PersonDetector, PersonOptions, windows
from faceless.media.video import VideoOptions
from faceless.options import Options, mode_options
from faceless.plan.model import Plan
from faceless.review.session import ReviewSession
from mediagen import FACE_512, astronaut, changed_fraction
from videogen import make_video

HEAD = frozenset({Kind.HEAD})
FILL = OperatorSpec(Operator.FILL, Shape.BOX)
TORSO = (140, 210, 270, 270)  # her suit in person_scene(), well below her head


@pytest.fixture(scope="module")
def persons() -> PersonDetector:
    det = PersonDetector()
    det.setup()
    return det


def person_scene(side: int = 240, size: tuple[int, int] = (480, 320), x: int = 120,
                 y: int = 40) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The shipped astronaut portrait (head and shoulders) on a grey frame; her face box."""
    w, h = size
    frame = np.full((h, w, 3), 90, np.uint8)
    frame[y:y + side, x:x + side] = cv2.resize(astronaut(), (side, side),
                                               interpolation=cv2.INTER_AREA)
    k = side / 512
    fx1, fy1, fx2, fy2 = FACE_512
    return frame, (x + fx1 * k, y + fy1 * k, x + fx2 * k, y + fy2 * k)


# --------------------------------------------------------------------------- the model


def test_shipped_model_matches_its_pinned_sha256():
    path = package_file("faceless.models", P.NANODET_FILE)
    assert load_model_bytes(path, P.NANODET_SHA256)
    assert P.NANODET_CARD.sha256 == P.NANODET_SHA256
    assert P.NANODET_CARD.licence == "Apache-2.0"
    assert (path.parent / "LICENSE-nanodet.txt").is_file()


def test_a_changed_model_file_is_refused_before_use(tmp_path, monkeypatch):
    bad = tmp_path / P.NANODET_FILE
    shutil.copy(package_file("faceless.models", P.NANODET_FILE), bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(P, "package_file", lambda package, name: bad)
    det = PersonDetector()
    with pytest.raises(ModelError, match="sha256"):
        det.setup()
    with pytest.raises(ModelError):
        det.detect(np.zeros((64, 64, 3), np.uint8))


def test_a_user_model_of_the_wrong_shape_is_a_model_error(tmp_path):
    from faceless.detect.faces import CENTERFACE_INT8_SHA256  # any other shipped ONNX graph

    other = package_file("faceless.models", "centerface-int8.onnx")
    assert load_model_bytes(other, CENTERFACE_INT8_SHA256)
    with pytest.raises(ModelError, match="NanoDet"):
        PersonDetector(PersonOptions(model_path=other)).setup()


def test_detectors_follow_the_protocol(persons):
    assert isinstance(persons, Detector) and persons.kind is Kind.PERSON
    head = HeadDetector(persons=persons)
    assert isinstance(head, Detector) and head.kind is Kind.HEAD
    assert head.card == persons.card == P.NANODET_CARD


# --------------------------------------------------------------------------- detection


def test_the_person_in_a_portrait_is_found(persons):
    scene, face = person_scene()
    found = persons.detect(scene)
    assert found.kind is Kind.PERSON
    best = int(np.argmax(found.score))
    assert found.score[best] > 0.5
    x1, y1, x2, y2 = found.xyxy[best]
    assert x1 <= face[0] and y1 <= face[1] + 10 and x2 >= face[2] and y2 >= face[3]


def test_an_empty_scene_has_no_person(persons):
    assert len(persons.detect(np.full((360, 640, 3), 120, np.uint8))) == 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 300, 3), (300, 7, 3), (1080, 1920, 3)])
def test_odd_and_large_frames_do_not_crash(persons, shape):
    found = persons.detect(np.zeros(shape, np.uint8))
    assert found.xyxy.shape[1] == 4


def test_the_search_tiles_a_large_frame_and_covers_it():
    wins = windows(1920, 1080, 640, 192)
    assert wins[0] == (0, 0, 1920)  # the whole frame first
    cover = np.zeros((1080, 1920), bool)
    for x, y, side in wins[1:]:
        assert side == 640
        cover[y:y + side, x:x + side] = True
    assert cover.all()
    assert windows(320, 240, 640, 192) == [(0, 0, 320)]


def test_options_are_checked():
    with pytest.raises(ConfigError):
        PersonOptions(threshold=0)
    with pytest.raises(ConfigError):
        PersonOptions(tile=300, tile_overlap=192)
    with pytest.raises(ConfigError):
        HeadOptions(height=0)
    with pytest.raises(ConfigError):
        HeadOptions(above=2)


# --------------------------------------------------------------------------- heads


def test_head_regions_sit_at_the_top_of_each_person():
    standing = [100, 100, 140, 200]  # 40 x 100: head and shoulders, top third
    close_up = [0, 10, 100, 90]  # head and shoulders filling the box
    heads = heads_from_persons(np.array([standing, close_up]), 200, 200, HeadOptions())
    sx1, sy1, sx2, sy2 = heads[0]
    assert (sx1, sx2) == (100, 140) and sy1 < 100 and 125 <= sy2 <= 135
    assert heads[1][1] == 0  # clipped to the frame
    assert heads[1][3] == 90  # never below the person


def test_a_head_is_hidden_in_an_image_and_the_body_is_not():
    scene, face = person_scene()
    out = anonymize_image(scene, Options(hide=HEAD, operator=FILL))
    assert changed_fraction(scene, out, face) > 0.95
    # her hair above the face box, and the top of her head
    assert changed_fraction(scene, out, (face[0], face[1] - 20, face[2], face[1])) > 0.95
    assert changed_fraction(scene, out, TORSO) < 0.05


def test_a_person_is_hidden_whole():
    scene, face = person_scene()
    out = anonymize_image(scene, Options(hide=frozenset({Kind.PERSON}), operator=FILL))
    assert changed_fraction(scene, out, face) > 0.95
    assert changed_fraction(scene, out, TORSO) > 0.95
    assert changed_fraction(scene, out, (0, 0, 100, 320)) < 0.05  # the empty left side


def test_faces_only_leaves_the_body():
    scene, _ = person_scene()
    out = anonymize_image(scene, Options(hide=frozenset({Kind.FACE}), operator=FILL))
    assert changed_fraction(scene, out, (130, 300, 340, 318)) < 0.05


def test_head_and_person_share_one_person_search():
    dets = build_detectors(Options(hide=frozenset({Kind.HEAD, Kind.PERSON})))
    head = next(d for d in dets if d.kind is Kind.HEAD)
    person = next(d for d in dets if d.kind is Kind.PERSON)
    assert isinstance(head, HeadDetector) and head.persons is person


# --------------------------------------------------------------------------- video, plan, CLI


def moving_portrait(tmp_path: Path, n: int = 14) -> tuple[Path, list]:
    frames, faces = [], []
    for i in range(n):
        f, face = person_scene(side=200, size=(480, 272), x=40 + 8 * i, y=36)
        frames.append(f)
        faces.append(face)
    return make_video(tmp_path / "walk.mp4", frames), faces


def test_heads_are_carried_by_tracking_between_searches(tmp_path):
    src, faces = moving_portrait(tmp_path)
    opts = Options(hide=HEAD, operator=FILL, video=VideoOptions(crf=12))
    out = anonymize_file(src, tmp_path / "out.mp4", options=opts,
                         plan_path=tmp_path / "plan.json")
    plan = Plan.load(tmp_path / "plan.json")
    assert len(plan.frames) == len(faces)
    searched = {f.index for f in plan.frames
                if any(r.origin is Origin.DETECTED for r in f.regions)}
    assert searched <= {i for i in range(len(faces)) if i % opts.text_every == 0}
    for f in plan.frames:
        assert f.regions and all(r.kind is Kind.HEAD for r in f.regions), f.index
    carried = [r for f in plan.frames if f.index not in searched for r in f.regions]
    assert carried and all(r.origin is Origin.TRACKED and r.track_id is not None
                           for r in carried)
    with av.open(str(out.dst)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(src)) as c:
        source = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    for i, (a, b) in enumerate(zip(source, decoded, strict=True)):
        assert changed_fraction(a, b, faces[i]) > 0.9, i


def test_the_plan_and_the_studio_show_heads_and_persons(tmp_path):
    scene, _ = person_scene()
    src = tmp_path / "portrait.png"
    Image.fromarray(scene).save(src)
    plan = detect_file(src, Options(hide=frozenset({Kind.FACE, Kind.HEAD, Kind.PERSON})))
    kinds = {str(r.kind) for r in plan.frames[0].regions}
    assert {"face", "head", "person"} <= kinds
    assert plan.settings["hide"] == ["face", "head", "person"]
    assert plan.settings["head"] == {"height": 0.8, "above": 0.15, "side": 0.0}
    assert any(c["sha256"] == P.NANODET_SHA256 for c in plan.models)
    path = tmp_path / "portrait.plan.json"
    plan.save(path)
    again = Plan.load(path)
    assert {str(r.kind) for r in again.frames[0].regions} == kinds
    with ReviewSession(path, source=src) as s:
        shown = {str(r.kind) for r in s.frame_plan_regions(0)}
        preview = s.image(0, "preview")
    assert {"head", "person"} <= shown
    assert not np.array_equal(preview, scene)


def test_the_cli_hides_heads_and_persons(tmp_path):
    scene, face = person_scene()
    src = tmp_path / "portrait.png"
    Image.fromarray(scene).save(src)
    dst = tmp_path / "out.png"
    assert main(["run", str(src), "-o", str(dst), "-q", "--hide", "head,person",
                 "--operator", "fill", "--shape", "box"]) == 0
    out = np.asarray(Image.open(dst).convert("RGB"))
    assert changed_fraction(scene, out, face) > 0.95
    assert main(["run", str(src), "-o", str(dst), "--hide", "face,hat"]) == 2


def test_the_bodycam_mode_adds_heads_to_what_is_hidden():
    from faceless.cli.common import build_options
    from faceless.cli.main import parser

    assert mode_options("bodycam").hide == frozenset({Kind.FACE, Kind.PLATE, Kind.HEAD})
    assert Options().hide == frozenset({Kind.FACE, Kind.PLATE})  # not in the default
    a = parser().parse_args(["run", "x.mp4", "--bodycam"])
    assert Kind.HEAD in build_options(a).hide


def test_look_ahead_threads_search_on_a_single_threaded_session():
    from concurrent.futures import ThreadPoolExecutor

    from faceless.detect.onnx import single_threaded_lane

    det = PersonDetector()
    scene, _ = person_scene()
    with ThreadPoolExecutor(1, initializer=single_threaded_lane) as pool:
        found = pool.submit(det.detect, scene).result()
    assert len(found) and det._single is not None and det._single is not det._session
    assert np.allclose(det.detect(scene.copy()).xyxy, found.xyxy, atol=0.5)


def test_a_frame_refilled_in_place_is_searched_again(persons):
    scene, _ = person_scene()
    frame = scene.copy()
    assert len(persons.detect(frame))
    frame[:] = 120  # the same array, now without anyone in it
    assert len(persons.detect(frame)) == 0


# --------------------------------------------------------------------------- face looks at heads

CARD = ModelCard("stub", "0" * 64, "none", "tests")
PERSON_BOX = (600.0, 200.0, 640.0, 300.0)  # a 40-px-wide pedestrian on a 1280x720 frame
FACE_BOX = (612.0, 204.0, 628.0, 220.0)  # its 16-px face, too small for the frame's search


class SmallFaceStub(Detector):
    """A face detector that misses FACE_BOX in a whole frame and finds it only in a crop
    that holds it, upscaled at least twice (as CenterFace with a face under ~16 px)."""

    kind = Kind.FACE
    card = CARD

    def __init__(self) -> None:
        self.options = FaceOptions()
        self.looks: list[float] = []

    def detect(self, image: np.ndarray) -> Detections:
        return Detections.empty()

    def detect_all(self, image: np.ndarray, candidates: bool = True,
                   video: bool = False) -> tuple[Detections, Detections]:
        return Detections.empty(), Detections.empty()

    def detect_at(self, image: np.ndarray, scale: float,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]:
        self.looks.append(scale)
        h, w = image.shape[:2]
        if scale < 2 or (w, h) == (1280, 720):
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        # The crop's pixels are marked where the face lies (see small_face_frame).
        ys, xs = np.nonzero(image[:, :, 0] == 255)
        if not len(xs):
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        return np.array([box], np.float32), np.array([0.9], np.float32)


class PersonStub(Detector):
    kind = Kind.PERSON
    card = CARD

    def detect(self, image: np.ndarray) -> Detections:
        return Detections(np.array([PERSON_BOX]), np.array([0.8]), Kind.PERSON)


class GuideStub(GuidePersons):
    def setup(self) -> None:
        pass

    def detect(self, image: np.ndarray) -> Detections:
        self.calls = getattr(self, "calls", 0) + 1
        return Detections(np.array([PERSON_BOX]), np.array([0.8]), Kind.PERSON)


def small_face_frame() -> np.ndarray:
    frame = np.full((720, 1280, 3), 90, np.uint8)
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    frame[y1:y2, x1:x2, 0] = 255
    return frame


def face_boxes(regions: list) -> list:
    return [r for r in regions if r.kind is Kind.FACE]


def test_a_small_face_on_a_person_is_found_by_a_closer_look_at_the_head():
    opts = Options(hide=frozenset({Kind.FACE, Kind.PERSON}), mask_scale=1.0,
                   person=PersonOptions(face_looks=16))
    found = face_boxes(Analyzer(opts, [SmallFaceStub(), PersonStub()]).analyse(
        small_face_frame(), video=True)[0])
    assert len(found) == 1
    assert np.allclose(found[0].box, FACE_BOX)
    off = replace(opts, person=PersonOptions(face_looks=0))
    face = SmallFaceStub()
    assert not face_boxes(Analyzer(off, [face, PersonStub()]).analyse(
        small_face_frame(), video=True)[0])
    assert not face.looks


def test_persons_can_guide_the_face_looks_without_being_hidden():
    assert not any(isinstance(d, GuidePersons) for d in build_detectors(Options()))
    guided = Options(person=PersonOptions(face_looks=16, guide=True), mask_scale=1.0)
    assert any(isinstance(d, GuidePersons) for d in build_detectors(guided))
    assert not any(isinstance(d, GuidePersons) for d in build_detectors(
        replace(guided, hide=frozenset({Kind.PLATE}))))
    guide = GuideStub()
    analyzer = Analyzer(replace(guided, hide=frozenset({Kind.FACE})), [SmallFaceStub(), guide])
    regions = analyzer.analyse(small_face_frame(), video=True)[0]
    assert [r.kind for r in regions] == [Kind.FACE]  # the person guides, is not hidden
    # A photo is searched whole at every scale: no person search runs only to guide.
    assert analyzer.regions(small_face_frame()) == [] and guide.calls == 1


def test_head_looks_go_to_small_heads_first_and_skip_found_faces():
    heads = heads_from_persons(np.array([[0, 0, 400, 800], [100, 100, 140, 200],
                                         [300, 300, 360, 450]]), 1280, 720)
    crops = head_crops(heads, 1280, 720)
    assert [round(s, 2) for _, s in crops] == [4.0, round(64 / (0.4 * 60), 2)]
    (x1, y1, x2, y2), _ = crops[0]
    assert x1 <= 100 and y1 <= 100 and x2 >= 140 and y2 >= 132  # the whole head, and more
    found = np.array([[110.0, 100.0, 130.0, 120.0]])
    assert len(head_crops(heads, 1280, 720, found=found)) == 1
    assert len(head_crops(heads, 1280, 720, HeadLookOptions(max_looks=1))) == 1
    with pytest.raises(ConfigError):
        PersonOptions(face_looks=-1)
