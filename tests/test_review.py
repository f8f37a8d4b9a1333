"""The review studio: plan edits with their history, and the server's API and guards."""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceless.analyze import Analyzer
from faceless.api import detect_file, render_plan
from faceless.core.errors import PlanError
from faceless.core.types import Decision, Detections, Kind, Origin, Region
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
from faceless.review.suspects import SuspectsError

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
    # Frames as timestamps alone: indices 0, 1, 2, ... need no list of their own.
    assert summary["frames"] == {"pts": [i * 512 for i in range(6)],
                                 "time_base": [1, 15360], "index": None}
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


def test_a_plan_opens_without_building_far_frames_which_still_arrive_and_save_exactly(
        tmp_path):
    from faceless.plan.tracks import track_stats

    case = make_case(tmp_path, 40)
    doc = json.loads(case.read_text())
    # A hand-made region with the file's defaults (manual face, hidden unless kept).
    doc["frames"][35]["regions"].append({"box": [5, 5, 20, 20], "decision": "keep",
                                         "reason": "requester"})
    case.write_text(json.dumps(doc))
    original = case.read_bytes()
    eager = Plan.load(case)
    with ReviewSession(case, actor="A. Clerk") as s:
        client = client_for(s)
        summary = client.get("/api/plan").json()
        assert client.get("/api/frames/0/regions").status_code == 200
        # Opening read the plan, but built no frame the page did not ask for.
        assert all(f.raw_regions is not None for f in s.plan.frames[1:])
        (track,) = track_stats(eager)[:1]
        listed = summary["tracks"][0]
        assert (listed["first"], listed["last"], listed["frames"]) == (
            track.first_frame, track.last_frame, track.regions)
        assert summary["untracked_regions"] == 1
        far = client.get("/api/frames/35/regions").json()
        assert [(r["box"], r["origin"], r["decision"], r["track"], r["reason"]) for r in far] \
            == [([round(v, 2) for v in r.box], str(r.origin), str(r.decision), r.track_id,
                 r.reason) for r in eager.frames[35].regions]
        post = lambda path, body=None: client.post(path, json=body or {},  # noqa: E731
                                                   headers={"origin": ORIGIN})
        assert post("/api/frames/30/regions/0/exempt", {"reason": "requester"}
                    ).status_code == 200
        assert client.get("/api/warnings").status_code == 200
        assert post("/api/save").status_code == 200
    saved = Plan.load(case)
    assert edits.original_path(case).read_bytes() == original
    assert saved.frames[30].regions[0].decision is Decision.KEEP
    assert [f.regions for i, f in enumerate(saved.frames) if i != 30] == [
        f.regions for i, f in enumerate(eager.frames) if i != 30]
    # An edit of a plan read lazily, with no frame built first, reaches every frame too.
    lazy = Plan.load(case, lazy=True)
    edits.redact_track(lazy, 1, "B. Chief", clock)
    edits.save_reviewed(lazy, case)
    assert all(r.decision is Decision.REDACT for f in Plan.load(case).frames
               for r in f.regions if r.track_id == 1)


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
    keys = {t["id"]: t["keys"] for t in client.get("/api/plan").json()["tracks"]}
    assert keys == {1: [], manual: [0, 5]}, "the page marks a drawn track's keyframes"
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


# audio ------------------------------------------------------------------------------------
def test_a_cut_takes_exactly_the_samples_in_its_range():
    import av

    from faceless.media.video.audio import AudioCut, apply_cuts

    rate = 8000
    for fmt, layout, data in (("fltp", "stereo", np.full((2, 800), 0.5, np.float32)),
                              ("s16", "mono", np.full((1, 800), 9000, np.int16))):
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
        frame.sample_rate, frame.pts = rate, 1600  # starts at 0.2 s
        frame.time_base = Fraction(1, rate)
        # Samples 0.225 s to 0.25 s are silenced, 0.26 s to 0.3 s (past this frame) bleeped.
        out = apply_cuts(frame, [AudioCut(0.225, 0.25), AudioCut(0.26, 0.3, bleep=True)])
        got = out.to_ndarray()
        assert (out.pts, out.sample_rate) == (1600, rate)
        assert (got[:, :200] == data[:, :200]).all()  # before 0.225 s: as it was
        assert (got[:, 200:400] == 0).all()
        assert (got[:, 400:480] == data[:, 400:480]).all()
        tone = got[0, 480:].astype(float)
        assert not (tone == data[0, 480:]).any()
        spectrum = np.abs(np.fft.rfft(tone))
        assert np.fft.rfftfreq(len(tone), 1 / rate)[spectrum.argmax()] == pytest.approx(1000)
        assert apply_cuts(frame, [AudioCut(5.0, 6.0)]) is frame  # untouched


def audio_of(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        return (np.concatenate([f.to_ndarray()[0] for f in c.decode(stream)]),
                stream.codec_context.sample_rate)


def test_muted_and_bleeped_ranges_reach_the_release(tmp_path):
    import av

    from faceless.media.video import AudioMode

    src = make_video(tmp_path / "talk.mp4", 60, audio=True)  # 2 s of a 440 Hz tone
    plan = detect_file(src, analyzer=Analyzer(Options(), [ScriptedDetector((5, 5, 20, 20))]))
    edits.add_audio(plan, 0.5, 1.0, "mute", "A. Clerk", "a name", clock)
    edits.add_audio(plan, 1.4, 1.2, "bleep", "A. Clerk", clock=clock)  # ends swapped
    assert plan.history[-1] == {"time": "2024-05-01T12:00:00Z", "actor": "A. Clerk",
                                "action": "bleep", "track": None, "frames": None, "audio": 2,
                                "seconds": [1.2, 1.4], "reason": "bleeped on review"}
    path = tmp_path / "talk.plan.json"
    plan.save(path)
    plan = Plan.load(path)
    keep = Options()
    keep = replace(keep, video=replace(keep.video, audio=AudioMode.KEEP))
    render_plan(plan, tmp_path / "out.mp4", source=src, options=keep)
    before, rate = audio_of(src)
    after, rate_after = audio_of(tmp_path / "out.mp4")
    assert rate_after == rate and abs(len(after) - len(before)) <= 1024

    def rms(x, a, b):
        return float(np.sqrt(np.mean(x[int(a * rate):int(b * rate)] ** 2)))

    # A lossy codec smears an edge over a few milliseconds; inside and outside it is exact.
    assert rms(after, 0.51, 0.99) < 1e-3
    tone = after[int(1.21 * rate):int(1.39 * rate)]
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.fft.rfftfreq(len(tone), 1 / rate)[spectrum.argmax()] == pytest.approx(1000, abs=10)
    for a, b in ((0.05, 0.48), (1.02, 1.18), (1.42, 1.95)):
        assert rms(after, a, b) == pytest.approx(rms(before, a, b), rel=0.05)
    # Audio dropped (the default): no track at all, so nothing to mute.
    render_plan(plan, tmp_path / "silent.mp4", source=src)
    with av.open(str(tmp_path / "silent.mp4")) as c:
        assert not c.streams.audio


def make_audio_case(folder: Path, frames: list[np.ndarray] | int = 12,
                    box=(5.0, 5.0, 20.0, 20.0)) -> Path:
    """A clip with a 440 Hz tone for its sound, and its plan beside it (`box` a face)."""
    src = make_video(folder / "clip.mp4", frames, audio=True)
    plan = detect_file(src, analyzer=Analyzer(Options(), [ScriptedDetector(box)]))
    path = folder / "clip.plan.json"
    plan.save(path)
    return path


def test_audio_ranges_through_the_api_are_saved_in_a_version_2_plan(tmp_path):
    path = make_audio_case(tmp_path)
    with ReviewSession(path, actor="A. Clerk") as s:
        client = client_for(s)
        assert client.get("/api/plan").json()["has_audio"] is True
        r = client.post("/api/audio", json={"action": "bleep", "start": 0.1, "end": 0.2,
                                            "reason": "radio call"}, headers={"origin": ORIGIN})
        assert r.status_code == 200, r.text
        client.post("/api/audio", json={"action": "mute", "start": 0.3, "end": 0.35},
                    headers={"origin": ORIGIN})
        assert client.post("/api/audio", json={"action": "mute", "start": 1, "end": 1},
                           headers={"origin": ORIGIN}).status_code == 400
        ranges = client.get("/api/plan").json()["audio"]
        assert [(a["id"], a["action"], a["start"], a["end"]) for a in ranges] == [
            (1, "bleep", 0.1, 0.2), (2, "mute", 0.3, 0.35)]
        assert client.post("/api/audio/1/delete", headers={"origin": ORIGIN}).status_code == 200
        client.post("/api/save", headers={"origin": ORIGIN})
    doc = json.loads(path.read_text())
    assert doc["version"] == 2
    assert [(a["id"], a["action"]) for a in doc["audio"]] == [(2, "mute")]
    assert [e["action"] for e in doc["history"]] == ["bleep", "mute", "unmute"]


# a folder of photos ---------------------------------------------------------------------
def make_photo_folder(folder: Path, n: int = 3, pictures=None) -> list[Path]:
    """`n` textured photos in `folder` (or `pictures`: (image, face box) pairs), each with
    its plan beside it (one face found)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    plans = []
    for i in range(n):
        src = folder / f"photo{i}.png"
        image, box = (pictures[i] if pictures is not None else
                      (rng.integers(0, 256, (60, 80, 3), np.uint8), (10 + 5 * i, 10, 40, 40)))
        Image.fromarray(image).save(src)
        analyzer = Analyzer(Options(), [ScriptedDetector(box)])
        plan = detect_file(src, analyzer=analyzer)
        plans.append(src.with_name(f"photo{i}.plan.json"))
        plan.save(plans[-1])
    return plans


def test_a_folder_lists_its_files_and_edits_each_photo_by_region(tmp_path):
    from faceless.cli.review import folder_media

    plans = make_photo_folder(tmp_path / "case")
    (tmp_path / "case" / "photo0.faceless.png").write_bytes(b"a release, not a case")
    (tmp_path / "case" / "notes.txt").write_text("not media")
    assert [p.name for p in folder_media(tmp_path / "case")] == [
        "photo0.png", "photo1.png", "photo2.png"]
    with contextlib.ExitStack() as stack:
        sessions = [stack.enter_context(ReviewSession(p, actor="A. Clerk")) for p in plans]
        client = TestClient(create_app(sessions, TOKEN, [HOST]), base_url=f"http://{HOST}")
        client.get(f"/?token={TOKEN}")
        post = lambda path, body=None: client.post(path, json=body or {},  # noqa: E731
                                                   headers={"origin": ORIGIN})
        items = client.get("/api/items").json()
        assert [(i["name"], i["media"], i["regions"], i["kept"]) for i in items] == [
            (f"photo{i}.png", "image", 1, 0) for i in range(3)]
        thumb = Image.open(io.BytesIO(client.get("/api/thumb.jpg?item=2").content))
        assert thumb.width == 240
        assert client.get("/api/plan?item=1").json()["plan"] == "photo1.plan.json"
        assert client.get("/api/plan?item=3").status_code == 404
        assert client.get("/api/frames/0/regions?item=1").json()[0]["track"] is None
        # Photo 1: its one face exempt, a missed one added; photo 2: nothing changed.
        assert post("/api/frames/0/regions/0/exempt?item=1",
                    {"reason": "not a code"}).status_code == 400
        assert post("/api/frames/0/regions/0/exempt?item=1",
                    {"reason": "requester"}).status_code == 200
        assert post("/api/frames/0/regions/5/exempt?item=1",
                    {"reason": "requester"}).status_code == 400
        assert post("/api/tracks?item=1", {"keyframes": [{"frame": 0, "box": [50, 5, 75, 30]}]}
                    ).status_code == 200
        assert [i["kept"] for i in client.get("/api/items").json()] == [0, 1, 0]
        assert post("/api/save?item=1").status_code == 200
        assert post("/api/render?item=1").json()["output"] == "photo1.faceless.png"
    plan = Plan.load(plans[1])
    assert [(r.decision, r.origin) for r in plan.frames[0].regions] == [
        (Decision.KEEP, Origin.DETECTED), (Decision.REDACT, Origin.MANUAL)]
    assert [e["action"] for e in plan.history] == ["exempt", "add"]
    assert plan.history[0]["frames"] == [0, 0] and plan.history[0]["reason"] == "requester"
    assert Plan.load(plans[2]).history == []
    before = np.asarray(Image.open(tmp_path / "case" / "photo1.png")).astype(int)
    after = np.asarray(Image.open(tmp_path / "case" / "photo1.faceless.png")).astype(int)
    assert (after[12:38, 17:38] == before[12:38, 17:38]).all()  # the exempt face
    assert np.abs(after[8:27, 53:72] - before[8:27, 53:72]).mean() > 20  # the added one


# moving and resizing ----------------------------------------------------------------------
def test_a_detected_track_moves_and_resizes_on_one_frame_a_range_or_all(case):
    plan = Plan.load(case)
    (track,) = {r.track_id for f in plan.frames for r in f.regions}
    assert len(set(boxes_of(plan, track).values())) == 1  # one box, held still
    # The whole track to a box of 20 px (from the mask-scaled 29 px box it had).
    edits.reshape_track(plan, track, 0, (10, 10, 30, 30), "A. Clerk", 0, 5, clock)
    before = boxes_of(plan, track)
    assert set(before.values()) == {(10.0, 10.0, 30.0, 30.0)}
    # Frame 2 alone: 4 px right, twice as tall (about its centre).
    edits.reshape_track(plan, track, 2, (14, 0, 34, 40), "A. Clerk", clock=clock)
    after = boxes_of(plan, track)
    assert after[2] == (14, 0, 34, 40)
    assert all(after[i] == before[i] for i in (0, 1, 3, 4, 5))
    assert all(r.origin is Origin.DETECTED for f in plan.frames for r in f.regions)
    # Frames 3 to 5: each box moved by the same offset and scaled the same.
    edits.reshape_track(plan, track, 4, (5, 5, 35, 35), "A. Clerk", 3, 5, clock)
    after = boxes_of(plan, track)
    assert after[3] == after[4] == after[5] == (5, 5, 35, 35)
    assert after[2] == (14, 0, 34, 40)
    # The whole track: every box moves 2 px left; the tall one stays tall.
    edits.reshape_track(plan, track, 0, (8, 10, 28, 30), "A. Clerk", 0, 5, clock)
    after = boxes_of(plan, track)
    assert after[0] == (8, 10, 28, 30) and after[2] == (12, 0, 32, 40)
    assert after[5] == (3, 5, 33, 35)
    assert [(e["action"], e["frames"], e["regions"]) for e in plan.history] == [
        ("reshape", [0, 5], 6), ("reshape", [2, 2], 1), ("reshape", [3, 5], 3),
        ("reshape", [0, 5], 6)]
    with pytest.raises(PlanError, match="empty once clipped"):
        edits.reshape_track(plan, track, 0, (70, 10, 90, 30), "A. Clerk")
    with pytest.raises(PlanError, match="is not in frames"):
        edits.reshape_track(plan, track, 0, (8, 10, 28, 30), "A. Clerk", 2, 4)


def test_a_drawn_track_reshaped_over_a_range_keeps_the_frames_outside(case):
    plan = Plan.load(case)
    entry = edits.add_manual(plan, {0: (40, 10, 50, 20), 5: (50, 20, 60, 30)}, 0, 5, "A",
                             clock=clock)
    track = entry["track"]
    before = boxes_of(plan, track)
    edits.reshape_track(plan, track, 2, (40, 10, 60, 30), "A", 2, 3, clock)
    after = boxes_of(plan, track)
    assert after[2] == (40, 10, 60, 30)
    assert all(after[i] == pytest.approx(before[i]) for i in (0, 1, 4, 5))
    # Its keyframes give the same boxes again (a later keyframe edit interpolates from them).
    keys = edits.keyframes_of(plan, track)
    assert all(edits.interpolate(keys, i) == pytest.approx(after[i]) for i in range(6))


def test_moving_boxes_through_the_api(session):
    client = client_for(session)
    post = lambda path, body=None: client.post(path, json=body or {},  # noqa: E731
                                               headers={"origin": ORIGIN})
    r = post("/api/tracks/1/reshape", {"frame": 1, "box": [12, 12, 32, 32], "first": 0,
                                       "last": 5})
    assert r.status_code == 200 and r.json()["edit"]["frames"] == [0, 5]
    assert client.get("/api/frames/4/regions").json()[0]["box"] == [12, 12, 32, 32]
    assert post("/api/tracks/1/reshape", {"frame": 1, "box": [1, 2, 3]}).status_code == 400
    assert post("/api/frames/0/regions/0/reshape", {"box": [0, 0, 20, 20]}).status_code == 200
    assert client.get("/api/frames/0/regions").json()[0]["box"] == [0, 0, 20, 20]
    assert client.get("/api/frames/1/regions").json()[0]["box"] == [12, 12, 32, 32]


# low-score candidates ---------------------------------------------------------------------
class WeakFaceDetector(ScriptedDetector):
    """Finds one face surely, and a second (the `weak` box) only as a low-score candidate."""

    def __init__(self, box, weak, frames: range) -> None:
        super().__init__(box)
        self.weak, self.frames, self.calls = weak, frames, 0

    def detect_all(self, image, candidates=True, video=False):
        n, self.calls = self.calls, self.calls + 1
        low = ([self.weak], [0.12]) if candidates and n in self.frames else ([], [])
        return self.detect(image), Detections(np.zeros((0, 4)) if not low[0] else low[0],
                                              low[1])


def test_candidates_nothing_hides_are_noted_warned_and_promoted(tmp_path):
    from faceless.plan import candidates

    src = make_video(tmp_path / "clip.mp4", 8, size=(96, 64))
    det = WeakFaceDetector((10, 10, 30, 30), (60, 10, 80, 30), range(2, 5))
    plan = detect_file(src, analyzer=Analyzer(Options(), [det]))
    # Frames 2-4 hold the weak face (mask-scaled like any face box), nothing else.
    assert [f.index for f in plan.frames if f.candidates] == [2, 3, 4]
    weak = plan.frames[2].candidates[0]
    assert weak.score == pytest.approx(0.12) and weak.box[0] < 60 < 80 < weak.box[2]
    path = tmp_path / "clip.plan.json"
    plan.save(path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 1  # an older faceless reads it (and ignores the candidates)
    assert doc["frames"][2]["candidates"] == [["face", *[round(v, 1) for v in weak.box], 0.12]]
    plan = Plan.load(path)
    (warning,) = candidates.candidate_warnings(plan)
    assert (warning["type"], warning["first"], warning["last"], warning["frames"]) == (
        "low", 2, 4, 3)
    with pytest.raises(PlanError, match="no low-score candidate"):
        candidates.promote(plan, 6, "A. Clerk", clock)
    entry = candidates.promote(plan, 3, "A. Clerk", clock)
    assert (entry["action"], entry["frames"]) == ("add", [2, 4])
    assert entry["reason"] == "low-score face (0.12) hidden on review"
    hidden = [(f.index, r.box) for f in plan.frames for r in f.regions
              if r.origin is Origin.MANUAL]
    assert [i for i, _ in hidden] == [2, 3, 4]
    assert hidden[0][1] == pytest.approx(weak.box, abs=0.1)
    assert candidates.candidate_warnings(plan) == []  # hidden now: no warning left
    # A candidate of one or two frames is kept in the plan but is no warning (most flicker).
    plan.frames[6].candidates = [weak]
    assert candidates.candidate_warnings(plan) == []
    assert [w["first"] for w in candidates.candidate_warnings(plan, min_run=1)] == [6]
    with pytest.raises(PlanError, match="no low-score candidate"):
        candidates.promote(plan, 6, "A. Clerk", clock)


def test_a_plan_keeps_only_the_strongest_few_candidates_per_frame():
    from faceless.plan.candidates import KEEP_PER_FRAME, note_candidates

    plan = Plan.from_dict(json.loads(json.dumps({
        "schema": "faceless.plan", "version": 1,
        "source": {"path": "x.mp4", "sha256": "0" * 64, "media": "video", "width": 100,
                   "height": 100},
        "frames": [{"index": 0, "pts": 0, "regions": [{"box": [0, 0, 20, 20]}]}]})))
    found = [Region((2, 2, 18, 18), score=0.19)]  # inside a region: covered
    found += [Region((30 + 5 * i, 30, 40 + 5 * i, 40), score=0.06 + i / 100) for i in range(5)]
    assert note_candidates(plan, {0: found}) == KEEP_PER_FRAME
    assert [c.score for c in plan.frames[0].candidates] == [0.1, 0.09]


def test_candidates_through_the_api(tmp_path):
    src = make_video(tmp_path / "clip.mp4", 6, size=(96, 64))
    det = WeakFaceDetector((10, 10, 30, 30), (60, 10, 80, 30), range(1, 4))
    detect_file(src, analyzer=Analyzer(Options(), [det])).save(tmp_path / "clip.plan.json")
    with ReviewSession(tmp_path / "clip.plan.json", actor="A. Clerk") as s:
        client = client_for(s)
        low = [w for w in client.get("/api/warnings").json() if w["type"] == "low"]
        assert [(w["first"], w["last"], sorted(w["boxes"])) for w in low] == [
            (1, 3, ["1", "2", "3"])]
        r = client.post("/api/candidates/promote", json={"frame": 2},
                        headers={"origin": ORIGIN})
        assert r.status_code == 200 and r.json()["edit"]["frames"] == [1, 3]
        assert not [w for w in client.get("/api/warnings").json() if w["type"] == "low"]
        assert client.post("/api/candidates/promote", json={"frame": 2},
                           headers={"origin": ORIGIN}).status_code == 400


# frames ---------------------------------------------------------------------------------
@pytest.mark.parametrize("codec, suffix", [("mpeg4", ".mp4"), ("libx264", ".mkv")])
def test_a_far_jump_seeks_and_gives_the_same_pixels_as_decoding_in_order(tmp_path, codec,
                                                                          suffix):
    from faceless.media.video import iter_frames
    from faceless.review.frames import FrameSource

    # mpeg4 puts a keyframe every 12 frames; x264 here has B-frames (frames out of order).
    src = make_video(tmp_path / f"long{suffix}", 150, size=(64, 48), codec=codec)
    frames = [(vf.ref.pts, vf.image) for vf in iter_frames(src)]  # in order: the reference
    source = FrameSource(src, "video", pts=[pts for pts, _ in frames])
    for index in (140, 139, 141, 30, 2, 149, 75, 76, 0):
        assert np.array_equal(source.frame(index), frames[index][1]), index
    if codec == "mpeg4":
        # Jumps seek: far fewer frames decoded than decoding in order from the start would.
        assert source.seeks >= 4 and source.decoded < 150
    source.close()


def test_frames_of_a_file_whose_timestamps_need_repair_are_still_exact(tmp_path):
    from faceless.media.video import iter_frames
    from faceless.review.frames import FrameSource

    src = make_video(tmp_path / "clip.mp4", 120, codec="mpeg4")
    frames = [(vf.ref.pts, vf.image) for vf in iter_frames(src)]
    # Timestamps the seek cannot find (as if iter_frames had repaired them): decode in order.
    source = FrameSource(src, "video", pts=[10_000 + i for i in range(120)])
    assert np.array_equal(source.frame(100), frames[100][1])
    assert np.array_equal(source.frame(5), frames[5][1])
    source.close()


def test_the_render_command_keeps_muted_audio_and_a_folder_refuses_plan_clashes(tmp_path,
                                                                               capsys):
    from faceless.cli.main import main

    path = make_audio_case(tmp_path, 30)
    plan = Plan.load(path)
    edits.add_audio(plan, 0.2, 0.6, "mute", "A. Clerk")
    plan.save(path)
    out = tmp_path / "out.mp4"
    assert main(["render", str(path), "-o", str(out), "--audio", "keep", "-q"]) == 0
    after, rate = audio_of(out)
    assert np.sqrt(np.mean(after[int(0.25 * rate):int(0.55 * rate)] ** 2)) < 1e-3
    assert np.sqrt(np.mean(after[int(0.7 * rate):int(0.95 * rate)] ** 2)) > 0.1
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "a.jpg"):
        Image.new("RGB", (8, 8)).save(folder / name)
    assert main(["review", str(folder), "--no-browser"]) == 2
    assert "would share one plan" in capsys.readouterr().err


# track thumbnails ----------------------------------------------------------------------------
def test_a_track_shows_its_best_detected_region_or_else_its_first(case):
    from faceless.review.thumbs import best_regions

    weak = Region((0, 0, 10, 10), score=0.5, track_id=1)
    strong = Region((5, 0, 15, 10), score=0.9, track_id=1)
    tie = Region((9, 0, 19, 10), score=0.9, track_id=1)
    carried = Region((1, 1, 9, 9), score=0.7, origin=Origin.TRACKED, track_id=1)
    drawn = [Region((20, 20, 30, 30 + i), origin=Origin.MANUAL, track_id=2) for i in range(3)]
    loose = Region((40, 40, 50, 50), track_id=None)
    plan = Plan.load(case)
    for f, regions in zip(plan.frames, ([carried, drawn[0]], [weak, drawn[1], loose],
                                        [strong], [tie, drawn[2]], [], []), strict=True):
        f.regions = regions
    assert best_regions(plan) == {1: (2, strong.box), 2: (0, drawn[0].box)}


def coloured_case(folder: Path) -> tuple[Path, tuple[float, ...], tuple[float, ...]]:
    """A clip of a grey frame with a red square (the face found) and a blue one (missed)."""
    frame = np.full((96, 128, 3), 90, np.uint8)
    face, other = (16.0, 16.0, 48.0, 48.0), (72.0, 40.0, 104.0, 72.0)
    frame[16:48, 16:48] = (220, 30, 30)
    frame[40:72, 72:104] = (30, 30, 220)
    return make_case(folder, [frame] * 6, size=(128, 96), box=face), face, other


def test_track_thumbnails_are_crops_of_the_source_made_in_memory(tmp_path):
    plan_path, face, other = coloured_case(tmp_path)
    plan = Plan.load(plan_path)
    manual = edits.add_manual(plan, {3: other}, 2, 5, "a")["track"]
    plan.save(plan_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with ReviewSession(plan_path, actor="A. Clerk") as s:
        client = client_for(s)
        s.frames.frame(0)
        viewer = s.frames.decoded
        summary = client.get("/api/plan").json()
        assert s._thumb_frames is None, "opening the plan decodes no thumbnail"
        assert {t["id"] for t in summary["tracks"]} == {1, manual}
        at, box = s.thumb_region(1)  # the detected box, padded as the plan's options say
        assert at == 0 and (box[0] + box[2]) / 2 == (face[0] + face[2]) / 2
        assert s.thumb_region(manual) == (2, other)
        for track, colour in ((1, 0), (manual, 2)):
            r = client.get(f"/api/tracks/{track}/thumb.jpg")
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
            assert r.headers["cache-control"] == "no-store"
            thumb = np.asarray(Image.open(io.BytesIO(r.content)))
            assert thumb.shape == (96, 96, 3)  # the box and a quarter of it around, scaled
            centre = thumb[36:60, 36:60].reshape(-1, 3).mean(axis=0)
            assert centre[colour] > 180 and max(np.delete(centre, colour)) < 70
            edge = thumb[:6, :6].reshape(-1, 3).mean(axis=0)
            assert np.abs(edge - 90).max() < 25, "the crop shows what is around the box"
        decoded = s._thumb_frames.decoded
        assert client.get(f"/api/tracks/{manual}/thumb.jpg").status_code == 200
        assert s._thumb_frames.decoded == decoded, "served again from memory"
        assert s.frames.decoded == viewer, "the viewer's decoder keeps its place"
        assert client.get("/api/tracks/99/thumb.jpg").status_code == 404
        assert client_for(s, cookie=False).get("/api/tracks/1/thumb.jpg").status_code == 403
        after = sorted(p.name for p in tmp_path.rglob("*") if p.suffix != ".lock")
    assert after == before, "no thumbnail is written anywhere in the case folder"


@pytest.mark.parametrize("kind", ["head", "person"])
def test_heads_and_persons_are_drawn_listed_and_hidden(session, kind):
    client = client_for(session)
    r = client.post("/api/tracks", json={"kind": kind, "first": 1, "last": 2, "keyframes": [
        {"frame": 1, "box": [36, 4, 60, 44]}]}, headers={"origin": ORIGIN})
    assert r.status_code == 200
    track = r.json()["edit"]["track"]
    (row,) = [t for t in client.get("/api/plan").json()["tracks"] if t["id"] == track]
    assert (row["kind"], row["first"], row["last"], row["manual"]) == (kind, 1, 2, 2)
    assert [x["kind"] for x in client.get("/api/frames/2/regions").json()
            if x["track"] == track] == [kind]
    source = np.asarray(Image.open(io.BytesIO(client.get("/api/frames/2.jpg").content)))
    preview = np.asarray(Image.open(io.BytesIO(
        client.get("/api/frames/2.jpg?view=preview").content)))
    assert np.abs(source[10:38, 40:56].astype(int) - preview[10:38, 40:56]).mean() > 10
    assert client.post("/api/tracks", json={"kind": "crowd", "keyframes": [
        {"frame": 1, "box": [1, 1, 9, 9]}]}, headers={"origin": ORIGIN}).status_code == 400
    assert f"<option>{kind}</option>" in client.get("/").text, "the page offers the kind"


# a leak check's suspects as a to-do list ----------------------------------------------------
def suspect(frame: int, box, kind: str = "face", score: float = 0.8) -> dict:
    return {"check": "suspect", "kind": kind, "frame": frame, "time": frame / 25,
            "box": list(box), "score": score, "unchanged": 0.9, "reason": "a face shows"}


def write_check(path: Path, findings: list[dict], every: int = 1) -> Path:
    path.write_text(json.dumps({"release": "clip.faceless.mp4", "media": "video", "ok": False,
                                "every": every, "findings": findings}))
    return path


def test_suspects_are_grouped_hidden_or_dismissed_with_history(case):
    check = write_check(case.parent / "check.json", [
        suspect(1, (35, 20, 50, 40)), suspect(2, (37, 21, 52, 41)), suspect(3, (38, 22, 53, 42)),
        suspect(4, (0, 0, 8, 8)),  # elsewhere: a second item
        suspect(2, (36, 20, 50, 40), kind="text"),  # another kind: its own item
        {"check": "metadata", "kind": "gps", "frame": None, "time": None, "box": None,
         "score": None, "unchanged": None, "reason": "GPS left in"},
    ])
    with ReviewSession(case, actor="A. Clerk", suspects=check) as s:
        client = client_for(s)
        post = lambda path, body=None: client.post(path, json=body or {},  # noqa: E731
                                                   headers={"origin": ORIGIN})
        assert client.get("/api/plan").json()["suspects"] == 3
        items = client.get("/api/suspects").json()
        assert [(i["kind"], i["first"], i["last"], i["state"]) for i in items] == [
            ("face", 1, 3, "open"), ("text", 2, 2, "open"), ("face", 4, 4, "open")]
        face, text, lone = (i["id"] for i in items)
        assert post(f"/api/suspects/{face}/hide", {}).status_code == 200
        assert post(f"/api/suspects/{face}/hide", {}).status_code == 400
        r = post(f"/api/suspects/{text}/dismiss", {})
        assert r.status_code == 400 and "say why" in r.json()["error"]
        r = post(f"/api/suspects/{text}/dismiss", {"reason": "a street sign"})
        assert r.status_code == 200
        assert post("/api/suspects/99/hide", {}).status_code == 404
        assert post(f"/api/suspects/{lone}/blur", {}).status_code == 400
        assert post("/api/save").status_code == 200
    plan = Plan.load(case)
    added = {f.index: r for f in plan.frames for r in f.regions if r.origin is Origin.MANUAL}
    assert sorted(added) == [1, 2, 3]
    assert all(r.decision is Decision.REDACT and r.reason == "leak check suspect"
               for r in added.values())
    assert added[2].box == (37, 21, 52, 41)
    add, dismiss = plan.history[-2:]
    assert (add["action"], add["frames"], add["reason"]) == ("add", [1, 3],
                                                             "leak check suspect")
    assert (dismiss["action"], dismiss["frames"], dismiss["kind"], dismiss["actor"]) == (
        "dismiss", [2, 2], "text", "A. Clerk")
    assert dismiss["reason"] == "leak check suspect: a street sign"
    # Opened again, the list remembers what was done from the plan's history.
    with ReviewSession(case, suspects=check) as s:
        assert [i["state"] for i in s.suspect_list()] == ["hidden", "dismissed", "open"]


def test_suspects_are_read_as_the_check_names_them():
    from faceless.check.model import SUSPECT
    from faceless.review import suspects

    assert suspects.SUSPECT == SUSPECT


def test_suspects_are_joined_across_the_checks_frame_step(case):
    check = write_check(case.parent / "check.json",
                        [suspect(0, (35, 20, 50, 40)), suspect(2, (36, 20, 50, 40))], every=2)
    with ReviewSession(case, suspects=check) as s:
        assert [(i["first"], i["last"], i["frames"]) for i in s.suspect_list()] == [(0, 2, 2)]
        s.suspect_edit(1, "hide")
        covered = [f.index for f in s.plan.frames
                   for r in f.regions if r.origin is Origin.MANUAL]
    assert covered == [0, 1, 2]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not the JSON of `faceless check --json`"),
    (json.dumps({"findings": [suspect(99, (1, 1, 5, 5))]}), "not of this source"),
    (json.dumps({"findings": [suspect(1, (1, 1, 500, 400))]}), "not of this source"),
    (json.dumps([1, 2]), "no findings list"),
])
def test_a_suspects_file_of_another_source_is_refused(case, capsys, content, message):
    from faceless.cli.main import main

    bad = case.parent / "check.json"
    bad.write_text(content)
    with pytest.raises(SuspectsError, match=message):
        ReviewSession(case, suspects=bad)
    assert main(["review", str(case), "--no-browser", "--suspects", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not case.with_name(case.name + ".lock").exists()
