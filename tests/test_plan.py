"""The plan document: JSON round trip, versioning, malformed input."""

import json
from fractions import Fraction

import pytest

from faceless.core.errors import PlanError
from faceless.core.types import Decision, Kind, Origin, Region
from faceless.plan.model import FramePlan, Plan, SourceInfo


def sample_plan() -> Plan:
    src = SourceInfo("clip.mp4", "ab" * 32, "video", 640, 360, Fraction(1, 15360), 3)
    frames = [
        FramePlan(0, 0, [Region((1.5, 2.25, 30, 40), Kind.FACE, 0.91)]),
        FramePlan(1, 512, []),
        FramePlan(2, 1536, [Region((10, 10, 20, 20), Kind.FACE, 0.4, Origin.MANUAL,
                                   Decision.KEEP, track_id=7, reason="requester, ticket 42")]),
    ]
    return Plan(src, frames, {"mask_scale": 1.3}, [{"name": "CenterFace"}], "faceless test")


def test_round_trip_through_a_file(tmp_path):
    plan = sample_plan()
    path = tmp_path / "clip.plan.json"
    plan.save(path)
    back = Plan.load(path)
    assert back == plan
    assert not list(tmp_path.glob(".*.tmp")), "atomic save leaves no temporary file"


def test_document_is_versioned_and_keyed_by_time(tmp_path):
    path = tmp_path / "p.json"
    sample_plan().save(path)
    doc = json.loads(path.read_text())
    assert doc["schema"] == "faceless.plan" and doc["version"] == 1
    assert doc["source"]["time_base"] == "1/15360"
    assert [f["time"] for f in doc["frames"]] == pytest.approx([0.0, 1 / 30, 0.1], abs=1e-6)
    assert [f["pts"] for f in doc["frames"]] == [0, 512, 1536]
    region = doc["frames"][0]["regions"][0]
    assert region == {"kind": "face", "box": [1.5, 2.25, 30.0, 40.0], "score": 0.91,
                      "origin": "detected", "decision": "redact"}


def test_counts_only_redacted_regions():
    assert sample_plan().counts() == {"face": 1}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema="other"), "not a faceless plan"),
    (lambda d: d.update(version=99), "version 99"),
    (lambda d: d.update(version="1"), "version '1'"),
    (lambda d: d.update(audio=[{"start": 1.0, "end": 2.0}]), "need a version 2 plan"),
    (lambda d: d.update(version=2, audio=[{"start": 2.0, "end": 1.0}]), "malformed"),
    (lambda d: d.update(version=2, audio=[{"start": 0, "end": 1, "action": "x"}]), "malformed"),
    (lambda d: d["frames"][0]["regions"][0].update(box=[1, 2]), "malformed"),
    (lambda d: d["frames"][0]["regions"][0].update(kind="cat"), "malformed"),
    (lambda d: d.pop("source"), "malformed"),
])
def test_malformed_plans_are_plan_errors(tmp_path, mutate, message):
    doc = sample_plan().to_dict()
    mutate(doc)
    path = tmp_path / "bad.plan.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError, match=message) as info:
        Plan.load(path)
    assert str(path) in str(info.value)


def test_not_json_and_missing(tmp_path):
    bad = tmp_path / "x.plan.json"
    bad.write_text("{oops")
    with pytest.raises(PlanError, match="not valid JSON"):
        Plan.load(bad)
    with pytest.raises(PlanError, match="no such plan"):
        Plan.load(tmp_path / "missing.json")
    assert issubclass(PlanError, ValueError)


def test_a_plan_with_audio_ranges_is_version_2_and_one_without_stays_readable_by_1(tmp_path):
    plan = sample_plan()
    assert plan.to_dict()["version"] == 1  # an older faceless still reads it
    plan.audio.append({"id": 1, "start": 0.25, "end": 0.5, "action": "bleep", "reason": "name"})
    path = tmp_path / "p.json"
    plan.save(path)
    doc = json.loads(path.read_text())
    # An older faceless refuses it rather than release the audio it does not know to mute.
    assert doc["version"] == 2
    assert doc["audio"] == [{"id": 1, "start": 0.25, "end": 0.5, "action": "bleep",
                             "reason": "name"}]
    assert Plan.load(path) == plan


def test_a_lazily_read_plan_builds_a_frame_on_first_use_and_equals_the_eager_one(tmp_path):
    from faceless.plan.tracks import track_stats

    plan = sample_plan()
    path = tmp_path / "clip.plan.json"
    plan.save(path)
    lazy = Plan.load(path, lazy=True)
    assert all(f.raw_regions is not None for f in lazy.frames), "nothing built on reading"
    # Counted from the regions as read, the tracks are those of the built plan.
    assert track_stats(lazy) == track_stats(plan)
    assert lazy.misplaced() == [] and lazy.frames[0].raw_regions is not None
    assert lazy.frames[2].regions == plan.frames[2].regions
    assert lazy.frames[2].raw_regions is None and lazy.frames[0].raw_regions is not None
    assert lazy == plan and lazy.to_dict() == plan.to_dict()
    lazy.frames[0].regions = []  # an edit of a frame never built replaces what was read
    lazy.save(path)
    assert Plan.load(path).frames[0].regions == []


def test_a_malformed_region_of_a_lazily_read_plan_is_an_error_naming_its_frame(tmp_path):
    path = tmp_path / "p.json"
    sample_plan().save(path)
    doc = json.loads(path.read_text())
    doc["frames"][1]["regions"] = [{"box": [1, 2, 3]}]
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError, match="malformed region"):
        Plan.load(path)
    lazy = Plan.load(path, lazy=True)
    assert lazy.frames[0].regions == sample_plan().frames[0].regions
    with pytest.raises(PlanError, match="frame 1: malformed region"):
        lazy.frames[1].regions  # noqa: B018
    with pytest.raises(PlanError, match="frame 1: malformed region"):
        lazy.to_dict()


def test_a_region_kind_that_is_no_name_is_a_plan_error_when_tracks_are_counted(tmp_path):
    from faceless.plan.tracks import track_stats

    path = tmp_path / "p.json"
    sample_plan().save(path)
    doc = json.loads(path.read_text())
    doc["frames"][2]["regions"][0]["kind"] = ["face"]
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError, match="frame 2: malformed region"):
        track_stats(Plan.load(path, lazy=True))
