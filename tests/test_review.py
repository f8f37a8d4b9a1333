"""The review studio: plan edits with their history, and the server's API and guards."""

from __future__ import annotations

import io
import json
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceless.analyze import Analyzer
from faceless.api import detect_file
from faceless.core.errors import PlanError
from faceless.core.types import Decision, Detections, Kind, Origin
from faceless.detect.base import Detector
from faceless.options import Options
from faceless.plan import edits
from faceless.plan.model import Plan
from videogen import make_video

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its test client; httpx works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from faceless.review.server import create_app
from faceless.review.session import ReviewError, ReviewSession

FIXED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TOKEN = "t0ken-for-tests"
HOST = "testserver"
ORIGIN = f"http://{HOST}"


class ScriptedDetector(Detector):
    """Finds the same face box in every frame (a stand-in for the face network)."""

    kind = Kind.FACE

    def __init__(self, box: tuple[float, float, float, float]) -> None:
        self.box = box

    @property
    def card(self):
        from faceless.detect.base import ModelCard

        return ModelCard("scripted", "0" * 64, "test", "test")

    def detect(self, image):
        return Detections([self.box], [0.9])


def make_case(folder: Path, frames: list[np.ndarray] | int = 6, size=(64, 48),
              box=(10.0, 10.0, 30.0, 30.0), options: Options | None = None) -> Path:
    """A clip, and its plan (written beside it) in which `box` is a face in every frame."""
    src = make_video(folder / "clip.mp4", frames, size=size)
    analyzer = Analyzer(options or Options(), [ScriptedDetector(box)])
    plan = detect_file(src, analyzer=analyzer)
    path = folder / "clip.plan.json"
    plan.save(path)
    return path


def clock() -> datetime:
    return FIXED


@pytest.fixture
def case(tmp_path):
    rng = np.random.default_rng(7)  # texture, so a blur visibly changes the pixels
    return make_case(tmp_path, [rng.integers(0, 256, (48, 64, 3), np.uint8) for _ in range(6)])


# plan edits --------------------------------------------------------------------------------
def test_exempt_then_redact_keeps_every_edit_in_history(case):
    plan = Plan.load(case)
    (track,) = {r.track_id for f in plan.frames for r in f.regions}
    edits.exempt_track(plan, track, "requester", "A. Clerk", clock)
    assert all(r.decision is Decision.KEEP and r.reason == "requester"
               for f in plan.frames for r in f.regions)
    assert edits.track_entry(plan, track)["review"] == "approved"
    edits.redact_track(plan, track, "B. Chief", clock)
    assert all(r.decision is Decision.REDACT for f in plan.frames for r in f.regions)
    assert [e["action"] for e in plan.history] == ["exempt", "redact"]
    first = plan.history[0]
    assert first == {"time": "2024-05-01T12:00:00Z", "actor": "A. Clerk", "action": "exempt",
                     "track": track, "frames": [0, 5], "reason": "requester", "regions": 6}
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.history == plan.history


def test_exempt_needs_a_reason_and_a_known_track(case):
    plan = Plan.load(case)
    with pytest.raises(PlanError, match="reason"):
        edits.exempt_track(plan, 1, " ", "a")
    with pytest.raises(PlanError, match="no regions"):
        edits.exempt_track(plan, 99, "requester", "a")


def test_add_manual_interpolates_between_keyframes_and_holds_beyond(case):
    plan = Plan.load(case)
    entry = edits.add_manual(plan, {1: (0, 0, 10, 10), 3: (20, 10, 30, 20)}, 0, 5, "a",
                             reason="face behind glass", clock=clock)
    track = entry["track"]
    boxes = {f.index: r.box for f in plan.frames for r in f.regions if r.track_id == track}
    assert boxes[0] == boxes[1] == (0, 0, 10, 10)
    assert boxes[2] == (10, 5, 20, 15)
    assert boxes[3] == boxes[4] == boxes[5] == (20, 10, 30, 20)
    region = next(r for f in plan.frames for r in f.regions if r.track_id == track)
    assert region.origin is Origin.MANUAL and region.decision is Decision.REDACT
    assert region.reason == "face behind glass" and region.score == 1.0
    assert track > max(t["id"] for t in plan.tracks if t["id"] != track)
    assert edits.track_entry(plan, track)["manual"] == 6
    assert entry["keyframes"] == [{"frame": 1, "box": [0, 0, 10, 10]},
                                  {"frame": 3, "box": [20, 10, 30, 20]}]


def test_add_manual_clips_to_the_frame_and_refuses_an_empty_box(case):
    plan = Plan.load(case)
    edits.add_manual(plan, {0: (-20, -5, 10, 500)}, 2, 2, "a")
    (r,) = [r for r in plan.frames[2].regions if r.origin is Origin.MANUAL]
    assert r.box == (0, 0, 10, 48)
    with pytest.raises(PlanError, match="empty"):
        edits.add_manual(plan, {0: (70, 0, 90, 10)}, 0, 1, "a")
    with pytest.raises(PlanError, match="not all in this plan"):
        edits.add_manual(plan, {0: (1, 1, 9, 9)}, 0, 99, "a")


def test_delete_removes_manual_tracks_only(case):
    plan = Plan.load(case)
    track = edits.add_manual(plan, {0: (1, 1, 9, 9)}, 0, 5, "a")["track"]
    edits.delete_manual(plan, track, "a", first=4, last=5)
    assert edits.track_frames(plan, track) == [0, 1, 2, 3]
    assert edits.track_entry(plan, track)["last_frame"] == 3
    edits.delete_manual(plan, track, "a")
    assert edits.track_entry(plan, track) is None and not edits.track_frames(plan, track)
    with pytest.raises(PlanError, match="exempt it instead"):
        edits.delete_manual(plan, 1, "a")
    assert [e["action"] for e in plan.history] == ["add", "delete", "delete"]


def test_saving_keeps_the_machines_original_once(case):
    original = case.read_bytes()
    plan = Plan.load(case)
    edits.approve_track(plan, 1, "a")
    edits.save_reviewed(plan, case)
    orig = edits.original_path(case)
    assert orig.name == "clip.plan.orig.json" and orig.read_bytes() == original
    edits.exempt_track(plan, 1, "requester", "a")
    edits.save_reviewed(plan, case)
    assert orig.read_bytes() == original, "the original is never overwritten"
    assert [e["action"] for e in Plan.load(case).history] == ["approve", "exempt"]
    assert not [p for p in case.parent.iterdir() if p.name.endswith(".tmp")]


def test_plans_without_history_load_and_write_no_history(case):
    data = json.loads(case.read_text())
    assert "history" not in data and data["version"] == 1
    assert Plan.from_dict(data).history == []


# the server --------------------------------------------------------------------------------
def client_for(session: ReviewSession, cookie: bool = True) -> TestClient:
    client = TestClient(create_app(session, TOKEN, [HOST]), base_url=f"http://{HOST}",
                        follow_redirects=False)
    if cookie:
        r = client.get(f"/?token={TOKEN}")
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
    return client


@pytest.fixture
def session(case):
    with ReviewSession(case, actor="A. Clerk") as s:
        yield s


def test_every_request_needs_the_token(session):
    client = client_for(session, cookie=False)
    for path in ("/", "/api/plan", "/api/frames/0.jpg", "/static/app.js"):
        assert client.get(path).status_code == 403, path
    assert client.get("/?token=wrong").status_code == 403
    r = client.post("/api/save", headers={"origin": ORIGIN})
    assert r.status_code == 403
    assert client.get(f"/api/plan?token={TOKEN}").status_code == 303  # then the cookie
    ok = client_for(session)
    page = ok.get("/")
    assert page.status_code == 200 and "faceless review" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_bad_host_and_origin_are_refused(session):
    client = client_for(session)
    assert client.get("/api/plan", headers={"host": "evil.example"}).status_code == 403
    assert client.get("/api/plan", headers={"host": "127.0.0.1"}).status_code == 403
    assert client.get("/api/plan", headers={"origin": "http://evil.example"}).status_code == 403
    edit = "/api/tracks/1/approve"
    assert client.post(edit, json={}, headers={"origin": "http://evil.example"}).status_code == 403
    assert client.post(edit, json={}).status_code == 403, "a write needs an Origin"
    assert client.post(edit, json={}, headers={"origin": ORIGIN}).status_code == 200


def test_only_the_pages_own_files_are_served(session):
    client = client_for(session)
    assert client.get("/static/app.js").status_code == 200
    for path in ("/static/../../clip.plan.json", "/static/%2e%2e%2fclip.plan.json",
                 "/static/..%2f..%2fserver.py", "/static/session.py", "/clip.mp4",
                 "/static/%2fetc%2fpasswd", "/api/frames/-1.jpg", "/api/frames/99.jpg"):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert b"import" not in r.content and b"sha256" not in r.content


def test_a_plan_for_another_file_is_refused(case, tmp_path):
    data = json.loads(case.read_text())
    data["source"]["sha256"] = "0" * 64
    case.write_text(json.dumps(data))
    with pytest.raises(ReviewError, match="not the one the plan was made for"):
        ReviewSession(case)


def test_a_plan_of_an_unknown_version_is_refused(case):
    data = json.loads(case.read_text())
    data["version"] = 99
    case.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="version 99"):
        ReviewSession(case)


@pytest.mark.parametrize("box", [[-50, -50, -10, -10], [9000, 10, 9050, 60], [40, 40, 40, 80]])
def test_a_hand_edited_region_outside_the_frame_is_refused(case, box):
    data = json.loads(case.read_text())
    data["frames"][2]["regions"].append({"box": box})
    case.write_text(json.dumps(data))
    with pytest.raises(ReviewError, match="frame 2 has a region outside"):
        ReviewSession(case)


def test_one_studio_per_plan_and_stale_locks_are_taken_over(case):
    with ReviewSession(case) as first:
        lock = case.with_name(case.name + ".lock")
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(ReviewError, match="already open"):
            ReviewSession(case).open()
        assert first.plan_path == case
    assert not lock.exists()
    lock.write_text("999999999\n")  # a process that does not exist
    with ReviewSession(case):
        assert lock.read_text().strip() == str(os.getpid())
    assert not lock.exists()


def test_frames_are_jpegs_of_the_frame_size_and_the_preview_hides(session):
    client = client_for(session)
    summary = client.get("/api/plan").json()
    assert [f[0] for f in summary["frames"]] == list(range(6))
    (track,) = summary["tracks"]
    assert track["frames"] == 6 and track["detected"] + track["tracked"] == 6
    assert track["review"] == "unreviewed" and track["decision"] == "redact"
    r = client.get("/api/frames/3.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    source = np.asarray(Image.open(io.BytesIO(r.content)))
    assert source.shape == (48, 64, 3)
    preview = np.asarray(Image.open(io.BytesIO(client.get("/api/frames/3.jpg?view=preview")
                                                .content)))
    inside = np.abs(source[14:26, 14:26].astype(int) - preview[14:26, 14:26]).mean()
    outside = np.abs(source[36:, 40:].astype(int) - preview[36:, 40:]).mean()
    assert inside > 3 * max(outside, 1.0)
    regions = client.get("/api/frames/3/regions").json()
    assert regions[0]["track"] == track["id"] and regions[0]["kind"] == "face"
    assert client.get("/api/frames/3.jpg?view=../x").status_code == 400


def test_edits_through_the_api_save_render_and_audit(session, case, tmp_path):
    from faceless.audit import AuditLog

    session.audit = AuditLog(tmp_path / "case.audit.jsonl", "A. Clerk")
    client = client_for(session)
    post = lambda path, body=None: client.post(path, json=body or {},  # noqa: E731
                                               headers={"origin": ORIGIN})
    assert post("/api/tracks/1/exempt", {"reason": "not a code"}).status_code == 400
    assert post("/api/tracks/1/exempt", {"reason": "requester"}).status_code == 200
    added = post("/api/tracks", {"kind": "face", "first": 0, "last": 5,
                                 "keyframes": [{"frame": 0, "box": [40, 20, 60, 40]}]})
    assert added.status_code == 200
    manual = added.json()["edit"]["track"]
    assert post("/api/tracks/1/delete").status_code == 400  # a detected track stays
    summary = client.get("/api/plan").json()
    assert summary["unsaved"] and summary["edits"] == 2
    saved = post("/api/save").json()
    assert saved == {"saved": "clip.plan.json", "edits": 2, "original": "clip.plan.orig.json"}
    plan = Plan.load(case)
    assert {r.decision for f in plan.frames for r in f.regions if r.track_id == 1} == {
        Decision.KEEP}
    assert all(any(r.track_id == manual and r.origin is Origin.MANUAL for r in f.regions)
               for f in plan.frames)
    r = post("/api/render")
    assert r.status_code == 200 and r.json()["output"] == "clip.faceless.mp4"
    assert (case.parent / "clip.faceless.mp4").exists()
    assert post("/api/render").status_code == 409  # exists: only when asked
    assert post("/api/render", {"overwrite": True}).status_code == 200
    events = [json.loads(line) for line in (tmp_path / "case.audit.jsonl").read_text()
              .splitlines()]
    assert [e["event"] for e in events] == ["review", "render", "render"]
    assert events[0]["details"] == {"edits": 2}
    assert [f["role"] for f in events[0]["files"]] == ["input", "plan"]


def test_the_command_refuses_a_plan_for_another_file_and_empty_reasons(case, capsys):
    from faceless.cli.main import main

    empty = case.parent / "reasons.txt"
    empty.write_text("# none\n\n")
    assert main(["review", str(case), "--no-browser", "--reasons", str(empty)]) == 2
    assert "no reason codes" in capsys.readouterr().err
    data = json.loads(case.read_text())
    data["source"]["sha256"] = "f" * 64
    case.write_text(json.dumps(data))
    assert main(["review", str(case), "--no-browser"]) == 2
    assert "not the one the plan was made for" in capsys.readouterr().err
    assert not case.with_name(case.name + ".lock").exists()


# coverage warnings, reshaping, range delete, split and merge --------------------------------
def boxes_of(plan: Plan, track: int) -> dict[int, tuple[float, ...]]:
    return {f.index: r.box for f in plan.frames for r in f.regions if r.track_id == track}


def test_warnings_find_gaps_and_lone_faces(case):
    plan = Plan.load(case)
    assert edits.coverage_warnings(plan) == []
    plan.frames[2].regions = []
    plan.frames[3].regions = []
    (gap,) = edits.coverage_warnings(plan)
    assert gap["type"] == "gap" and gap["track"] == 1 and (gap["first"], gap["last"]) == (2, 3)
    assert gap["frames"] == 2 and "2–3" in gap["message"]
    # A face that flickers on for one frame: the frames beside it likely show it unhidden.
    lone = edits.add_manual(plan, {4: (40, 5, 60, 25)}, 4, 4, "a")["track"]
    plate = edits.add_manual(plan, {0: (40, 30, 60, 40)}, 0, 0, "a", kind=Kind.PLATE)
    warned = edits.coverage_warnings(plan)
    assert [(w["type"], w["track"], w["first"]) for w in warned] == [
        ("gap", 1, 2), ("lone", lone, 4)]
    assert plate["track"] not in {w["track"] for w in warned}, "only faces flicker-check"
    # An untracked face is lone when no face beside it overlaps it.
    from faceless.core.types import Region

    plan.frames[1].regions.append(Region((10, 10, 30, 30), track_id=None))
    assert not [w for w in edits.coverage_warnings(plan) if w["track"] is None]
    plan.frames[5].regions.append(Region((40, 30, 50, 40), track_id=None))
    (untracked,) = [w for w in edits.coverage_warnings(plan) if w["track"] is None]
    assert untracked["first"] == 5 and untracked["box"] == [40, 30, 50, 40]


def test_a_keyframe_reshapes_a_manual_track_between_its_keyframes(case):
    plan = Plan.load(case)
    track = edits.add_manual(plan, {0: (0, 0, 10, 10)}, 0, 5, "a")["track"]
    entry = edits.set_keyframe(plan, track, 4, (20, 0, 30, 10), "b", clock)
    boxes = boxes_of(plan, track)
    assert boxes[0] == (0, 0, 10, 10) and boxes[2] == (10, 0, 20, 10)
    assert boxes[4] == boxes[5] == (20, 0, 30, 10)
    assert entry == {"time": "2024-05-01T12:00:00Z", "actor": "b", "action": "keyframe",
                     "track": track, "frames": [4, 4], "box": [20, 0, 30, 10], "regions": 5}
    assert [k["frame"] for k in edits.track_entry(plan, track)["keyframes"]] == [0, 4]
    # Moving an existing keyframe re-interpolates again; the change survives a save.
    edits.set_keyframe(plan, track, 0, (0, 10, 10, 20), "b")
    assert boxes_of(plan, track)[2] == (10, 5, 20, 15)
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert edits.keyframes_of(again, track) == {0: (0, 10, 10, 20), 4: (20, 0, 30, 10)}
    with pytest.raises(PlanError, match="only a track drawn by hand"):
        edits.set_keyframe(plan, 1, 0, (0, 0, 5, 5), "b")
    with pytest.raises(PlanError, match="empty"):
        edits.set_keyframe(plan, track, 1, (70, 0, 90, 5), "b")
    edits.delete_manual(plan, track, "b", first=5, last=5)
    with pytest.raises(PlanError, match="no region at frame 5"):
        edits.set_keyframe(plan, track, 5, (0, 0, 5, 5), "b")


def test_a_track_without_recorded_keyframes_changes_only_the_frame_moved(case):
    plan = Plan.load(case)
    track = edits.add_manual(plan, {0: (0, 0, 10, 10), 5: (50, 0, 60, 10)}, 0, 5, "a")["track"]
    del edits.track_entry(plan, track)["keyframes"]  # a plan edited by hand
    before = boxes_of(plan, track)
    edits.set_keyframe(plan, track, 2, (0, 30, 10, 40), "a")
    after = boxes_of(plan, track)
    assert after[2] == (0, 30, 10, 40)
    assert {i: b for i, b in after.items() if i != 2} == {i: b for i, b in before.items()
                                                          if i != 2}


def test_range_delete_of_detections_is_refused_and_of_nothing_too(case):
    plan = Plan.load(case)
    with pytest.raises(PlanError, match="exempt it instead"):
        edits.delete_manual(plan, 1, "a", first=2, last=3)
    track = edits.add_manual(plan, {0: (1, 1, 9, 9)}, 0, 2, "a")["track"]
    with pytest.raises(PlanError, match="no regions in frames 4 to 5"):
        edits.delete_manual(plan, track, "a", first=4, last=5)
    entry = edits.delete_manual(plan, track, "a", first=1, last=1, clock=clock)
    assert entry["frames"] == [1, 1] and entry["regions"] == 1
    assert edits.track_frames(plan, track) == [0, 2]
    assert [w["type"] for w in edits.coverage_warnings(plan)] == ["lone", "gap", "lone"]


def test_split_gives_the_later_part_a_new_track(case):
    plan = Plan.load(case)
    edits.approve_track(plan, 1, "a")
    entry = edits.split_track(plan, 1, 3, "a", clock)
    new = entry["new_track"]
    assert entry["action"] == "split" and entry["frames"] == [3, 5] and entry["regions"] == 3
    assert edits.track_frames(plan, 1) == [0, 1, 2] and edits.track_frames(plan, new) == [3, 4, 5]
    first, second = edits.track_entry(plan, 1), edits.track_entry(plan, new)
    assert (first["first_frame"], first["last_frame"]) == (0, 2)
    assert (second["first_frame"], second["last_frame"], second["kind"]) == (3, 5, "face")
    assert first["detected"] + first["added"] == 3 and second["review"] == "approved"
    with pytest.raises(PlanError, match="both sides"):
        edits.split_track(plan, 1, 0, "a")
    with pytest.raises(PlanError, match="both sides"):
        edits.split_track(plan, 1, 3, "a")


def test_split_and_merge_of_a_manual_track_keep_its_boxes(case):
    plan = Plan.load(case)
    track = edits.add_manual(plan, {0: (0, 0, 10, 10), 5: (50, 0, 60, 10)}, 0, 5, "a")["track"]
    before = boxes_of(plan, track)
    new = edits.split_track(plan, track, 3, "a")["new_track"]
    assert {**boxes_of(plan, track), **boxes_of(plan, new)} == before
    # Each part re-interpolates on its own keyframes, without moving the other's boxes.
    edits.set_keyframe(plan, new, 5, (50, 20, 60, 30), "a")
    assert boxes_of(plan, track) == {i: before[i] for i in (0, 1, 2)}
    assert boxes_of(plan, new)[3] == before[3]
    reshaped = {**boxes_of(plan, track), **boxes_of(plan, new)}
    entry = edits.merge_tracks(plan, track, new, "a", clock)
    assert entry["action"] == "merge" and entry["merged"] == new and entry["frames"] == [0, 5]
    assert boxes_of(plan, track) == reshaped and edits.track_entry(plan, new) is None
    edits.set_keyframe(plan, track, 1, before[1], "a")
    assert boxes_of(plan, track) == reshaped, "merged keyframes pin each part's boxes"


def test_merge_needs_one_kind_and_no_overlap(case):
    plan = Plan.load(case)
    face = edits.add_manual(plan, {0: (40, 0, 60, 10)}, 0, 1, "a")["track"]
    plate = edits.add_manual(plan, {0: (40, 30, 60, 40)}, 4, 5, "a", kind=Kind.PLATE)["track"]
    with pytest.raises(PlanError, match="different kinds"):
        edits.merge_tracks(plan, face, plate, "a")
    with pytest.raises(PlanError, match="overlap in time"):
        edits.merge_tracks(plan, 1, face, "a")
    with pytest.raises(PlanError, match="itself"):
        edits.merge_tracks(plan, 1, 1, "a")
    # A detected track split in two is whole again; the gap between stays a warning.
    tail = edits.split_track(plan, 1, 3, "a")["new_track"]
    edits.delete_manual(plan, face, "a")
    plan.frames[3].regions = [r for r in plan.frames[3].regions if r.track_id != tail]
    edits.merge_tracks(plan, tail, 1, "a")
    assert edits.track_frames(plan, tail) == [0, 1, 2, 4, 5]
    assert edits.track_entry(plan, 1) is None and edits.track_entry(plan, tail)["review"] == (
        "unreviewed")
    assert [(w["type"], w["track"]) for w in edits.coverage_warnings(plan)] == [
        ("gap", tail)]
    assert [e["action"] for e in plan.history] == ["add", "add", "split", "delete", "merge"]


def test_warnings_and_range_edits_through_the_api(session):
    client = client_for(session)
    post = lambda path, body=None: client.post(path, json=body or {},  # noqa: E731
                                               headers={"origin": ORIGIN})
    assert client.get("/api/warnings").json() == []
    assert client.get("/api/warnings", headers={"host": "evil.example"}).status_code == 403
    manual = post("/api/tracks", {"kind": "face", "first": 0, "last": 5, "keyframes": [
        {"frame": 0, "box": [40, 20, 50, 30]}]}).json()["edit"]["track"]
    r = post(f"/api/tracks/{manual}/keyframe", {"frame": 5, "box": [50, 20, 60, 30]})
    assert r.status_code == 200 and r.json()["edit"]["action"] == "keyframe"
    regions = client.get("/api/frames/5/regions").json()
    assert [x["box"] for x in regions if x["track"] == manual] == [[50, 20, 60, 30]]
    assert post(f"/api/tracks/{manual}/keyframe", {"frame": 5}).status_code == 400
    assert post(f"/api/tracks/{manual}/keyframe", {"frame": 5, "box": [1, 2]}).status_code == 400
    assert post(f"/api/tracks/{manual}/delete", {"first": 2, "last": 3}).status_code == 200
    assert post("/api/tracks/1/delete", {"first": 2, "last": 3}).status_code == 400
    gaps = client.get("/api/warnings").json()
    assert [(w["type"], w["track"], w["first"], w["last"]) for w in gaps] == [
        ("gap", manual, 2, 3)]
    split = post("/api/tracks/1/split", {"frame": 3}).json()["edit"]
    assert split["action"] == "split"
    assert post("/api/tracks/1/merge", {"with": manual}).status_code == 400  # overlap
    assert post("/api/tracks/1/merge", {"with": split["new_track"]}).status_code == 200
    tracks = client.get("/api/plan").json()["tracks"]
    assert [(t["id"], t["first"], t["last"]) for t in tracks] == [(1, 0, 5), (manual, 0, 5)]
    assert [e["action"] for e in session.plan.history] == [
        "add", "keyframe", "delete", "split", "merge"]
