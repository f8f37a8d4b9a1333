"""The review studio in a real Chromium, driven like a records officer would drive it.

Set FACELESS_SCREENSHOTS=DIR to also write the documentation's screenshots there
(`FACELESS_SCREENSHOTS=docs/img pytest tests/test_review_browser.py`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from faceless.anonymize.operators import Operator, OperatorSpec, Shape
from faceless.core.types import Decision, Kind, Origin
from faceless.options import Options
from faceless.plan.model import Plan
from mediagen import portrait_scene
from test_review import make_case
from videogen import decode_all

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from faceless.review.server import Studio  # noqa: E402
from faceless.review.session import ReviewSession  # noqa: E402

CHROMIUM = (os.environ.get("FACELESS_CHROMIUM") or shutil.which("chromium")
            or shutil.which("chromium-browser"))
SIZE = (640, 288)
FRAMES = 8


def two_faces() -> tuple[np.ndarray, tuple[float, ...], tuple[float, ...]]:
    """A frame with the portrait twice: left (the detector finds it), right (it misses it)."""
    left, found = portrait_scene(256, SIZE, x=32, y=16)
    right, missed = portrait_scene(256, SIZE, x=352, y=16)
    frame = left.copy()
    frame[:, 320:] = right[:, 320:]
    return frame, found, missed


def box_pixels(image: np.ndarray, box, inset: int = 6) -> np.ndarray:
    x1, y1, x2, y2 = (round(v) for v in box)
    return image[y1 + inset:y2 - inset, x1 + inset:x2 - inset].astype(int)


def drag(page, box) -> None:
    """Drag a box (in frame pixels) on the overlay, as a person would with the mouse."""
    # As a person would, once the frame is on screen: while a new frame loads, the image
    # has no natural size to scale by.
    page.wait_for_function("() => { const i = document.getElementById('frame'); "
                           "return i.complete && i.naturalWidth > 0; }")
    left, top, k = page.eval_on_selector(
        "#overlay", "c => { const r = c.getBoundingClientRect(); "
        "const i = document.getElementById('frame'); "
        "return [r.left, r.top, i.clientWidth / i.naturalWidth]; }")
    x1, y1, x2, y2 = box
    page.mouse.move(left + x1 * k, top + y1 * k)
    page.mouse.down()
    page.mouse.move(left + (x1 + x2) / 2 * k, top + (y1 + y2) / 2 * k)
    page.mouse.move(left + x2 * k, top + y2 * k)
    page.mouse.up()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable (apt-get install "
                    "chromium, or set FACELESS_CHROMIUM); Playwright cannot download one here")
def test_exempt_draw_save_and_render_in_the_browser(tmp_path):
    frame, found, missed = two_faces()
    rng = np.random.default_rng(1)
    frames = [np.clip(frame.astype(int) + rng.integers(-2, 3, frame.shape), 0, 255)
              .astype(np.uint8) for _ in range(FRAMES)]
    # Black boxes, so "hidden" is easy to see in the pixels.
    fill = OperatorSpec(Operator.FILL, Shape.BOX)
    plan_path = make_case(tmp_path, frames, size=SIZE, box=found,
                          options=Options(operator=fill))
    (track,) = [t["id"] for t in Plan.load(plan_path).tracks]
    shots = Path(os.environ.get("FACELESS_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)

    with ReviewSession(plan_path, actor="A. Clerk") as session:
        studio = Studio(session)
        studio.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1180, "height": 760})
                page.goto(studio.url)
                page.wait_for_selector("body[data-ready='1']")
                expect = sync_api.expect
                position = page.locator("#position")
                expect(position).to_contain_text(f"frame 0 / {FRAMES - 1}")
                page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 1 /")
                page.keyboard.press("Shift+ArrowRight")
                expect(position).to_contain_text(f"frame {FRAMES - 1} /")
                page.keyboard.press("ArrowLeft")
                expect(position).to_contain_text(f"frame {FRAMES - 2} /")
                page.keyboard.press("Shift+ArrowLeft")
                expect(position).to_contain_text("frame 0 /")
                page.keyboard.press(" ")  # plays to the end
                expect(position).to_contain_text(f"frame {FRAMES - 1} /")
                page.keyboard.press("Shift+ArrowLeft")
                expect(position).to_contain_text("frame 0 /")

                # The requester's own face stays visible.
                row = page.locator(f"#trackList li[data-track='{track}']")
                expect(row).to_contain_text(f"detected {FRAMES}")
                page.select_option("#reason", "requester")
                row.locator("button.exempt").click()
                expect(row).to_contain_text("kept visible (requester)")

                # The face the detector missed: one box on frame 0, carried over every frame.
                drag(page, (missed[0] - 8, missed[1] - 10, missed[2] + 8, missed[3] + 10))
                expect(page.locator("#keyframes")).to_contain_text("frame(s) 0")
                expect(page.locator("#addLast")).to_have_value(str(FRAMES - 1))
                page.click("#addRegion")
                manual = page.locator("#trackList li", has_text=f"manual {FRAMES}")
                expect(manual).to_have_count(1)
                page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 1 /")
                page.locator("#viewer").screenshot(path=str(shots / "review-viewer.png"))
                # Each track with its thumbnail: a crop of the source around its face.
                page.wait_for_function(
                    "() => { const t = [...document.querySelectorAll('#trackList img.thumb')];"
                    " return t.length === 2 && t.every(i => i.complete && i.naturalWidth); }")
                page.locator("#tracks").screenshot(path=str(shots / "review-tracks.png"))
                page.check("input[name=view][value=preview]")
                page.wait_for_function(
                    "() => document.getElementById('frame').src.includes('view=preview') "
                    "&& document.getElementById('frame').complete")
                page.locator("#viewer").screenshot(path=str(shots / "review-preview.png"))

                page.click("#save")
                expect(page.locator("#status")).to_contain_text("saved clip.plan.json")
                page.click("#render")
                expect(page.locator("#status")).to_contain_text(
                    "rendered clip.faceless.mp4", timeout=60_000)
                page.screenshot(path=str(shots / "review-studio.png"))

                # Reshape the drawn track on frame 2, then cut frame 5 out of it: the hole
                # shows on the timeline and in the warnings, and a click there jumps to it.
                expect(page.locator("#lanes .lane")).to_have_count(2)
                expect(page.locator("#warnCount")).to_have_text("none")
                manual.click()
                expect(page.locator("#selName")).to_contain_text(f"0–{FRAMES - 1}")
                page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 2 /")
                # Its handles: the top-left corner out, then the bottom-right one.
                drag(page, (missed[0] - 8, missed[1] - 10, missed[0] - 12, missed[1] - 14))
                drag(page, (missed[2] + 8, missed[3] + 10, missed[2] + 12, missed[3] + 14))
                expect(page.locator("#useBox")).to_be_enabled()
                page.locator("#stage").screenshot(path=str(shots / "review-reshape.png"))
                page.click("#useBox")
                expect(page.locator("#useBox")).to_be_disabled()
                page.on("dialog", lambda dialog: dialog.accept())
                page.fill("#delFirst", "5")
                page.fill("#delLast", "5")
                page.click("#delRange")
                warning = page.locator("#warnList li")
                expect(warning).to_have_count(1)
                expect(warning).to_contain_text("no region in frame 5")
                expect(page.locator("#lanes .warn")).to_have_count(1)
                warning.click()
                expect(position).to_contain_text("frame 5 /")
                page.locator("#viewer").screenshot(path=str(shots / "review-timeline.png"))
                page.click("#save")
                expect(page.locator("#status")).to_contain_text("saved clip.plan.json")
                browser.close()
        finally:
            studio.stop()

    plan = Plan.load(plan_path)
    kept = [r for f in plan.frames for r in f.regions if r.track_id == track]
    assert len(kept) == FRAMES and all(
        r.decision is Decision.KEEP and r.reason == "requester" for r in kept)
    drawn = [r for f in plan.frames for r in f.regions if r.origin is Origin.MANUAL]
    assert len(drawn) == FRAMES - 1 and len({r.track_id for r in drawn}) == 1
    assert [e["action"] for e in plan.history] == ["exempt", "add", "keyframe", "delete"]
    assert plan.history[2]["frames"] == [2, 2] and plan.history[3]["frames"] == [5, 5]
    assert plan.history[2]["box"] == pytest.approx(
        [missed[0] - 12, missed[1] - 14, missed[2] + 12, missed[3] + 14], abs=1.5)
    assert {e["actor"] for e in plan.history} == {"A. Clerk"}
    assert plan_path.with_name("clip.plan.orig.json").exists()

    source = decode_all(tmp_path / "clip.mp4")
    released = decode_all(tmp_path / "clip.faceless.mp4")
    assert len(released) == FRAMES
    for (_, before), (_, after) in zip(source, released, strict=True):
        diff = np.abs(box_pixels(before, found) - box_pixels(after, found)).mean()
        assert diff < 6, "the exempt face is unchanged but for codec noise"
        assert box_pixels(after, missed).max(axis=2).mean() < 24, "the drawn face is hidden"


def open_page(pw, studio):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1180, "height": 860})
    page.goto(studio.url)
    page.wait_for_selector("body[data-ready='1']")
    return browser, page


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
def test_bleep_a_range_with_in_and_out_points_and_render_with_audio(tmp_path):
    from test_review import audio_of, make_audio_case

    frame, found, _ = two_faces()
    plan_path = make_audio_case(tmp_path, [frame] * 30, box=found)
    shots = Path(os.environ.get("FACELESS_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with ReviewSession(plan_path, actor="A. Clerk") as session:
        studio = Studio(session)
        studio.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser, page = open_page(pw, studio)
                expect = sync_api.expect
                position = page.locator("#position")
                expect(page.locator("#audio")).to_be_visible()
                page.keyboard.press("Shift+ArrowRight")
                expect(position).to_contain_text("frame 10 /")
                page.keyboard.press("i")
                page.keyboard.press("Shift+ArrowRight")
                page.keyboard.press("ArrowLeft")
                expect(position).to_contain_text("frame 19 /")
                page.keyboard.press("o")
                expect(page.locator("#inout")).to_have_text("0.333–0.667 s")
                page.fill("#audioReason", "a name spoken")
                page.click("#bleep")
                expect(page.locator("#audioList li")).to_contain_text(
                    "bleeped 0.333–0.667 s (a name spoken)")
                expect(page.locator("#lanes .lane.audio .span.bleep")).to_have_count(1)
                page.check("#keepAudio")
                page.locator("#viewer").screenshot(path=str(shots / "review-audio.png"))
                page.click("#render")
                expect(page.locator("#status")).to_contain_text(
                    "rendered clip.faceless.mp4", timeout=60_000)
                browser.close()
        finally:
            studio.stop()
    plan = Plan.load(plan_path)
    assert plan.audio == [{"id": 1, "start": 0.333333, "end": 0.666667, "action": "bleep",
                           "reason": "a name spoken"}]
    assert plan.history[-1]["actor"] == "A. Clerk"
    after, rate = audio_of(tmp_path / "clip.faceless.mp4")
    tone = after[int(0.35 * rate):int(0.65 * rate)]
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.fft.rfftfreq(len(tone), 1 / rate)[spectrum.argmax()] == pytest.approx(1000, abs=10)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
def test_a_folder_of_photos_as_a_grid_with_the_same_tools(tmp_path):
    import contextlib

    from test_review import make_photo_folder

    pictures = [portrait_scene(side, (480, 320), x=x, y=y)
                for side, x, y in ((256, 40, 30), (200, 200, 60), (160, 300, 20))]
    plans = make_photo_folder(tmp_path / "case", 3, pictures)
    shots = Path(os.environ.get("FACELESS_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        sessions = [stack.enter_context(ReviewSession(p, actor="A. Clerk")) for p in plans]
        studio = Studio(sessions)
        studio.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser, page = open_page(pw, studio)
                expect = sync_api.expect
                tiles = page.locator("#tiles figure")
                expect(tiles).to_have_count(3)
                expect(tiles.nth(1)).to_contain_text("photo1.png")
                expect(tiles.nth(1)).to_contain_text("1 region(s)")
                page.wait_for_function("() => [...document.querySelectorAll('#tiles img')]"
                                       ".every(i => i.complete && i.naturalWidth > 0)")
                page.screenshot(path=str(shots / "review-grid.png"))
                tiles.nth(1).click()
                expect(page.locator("#case")).to_contain_text("file 2 of 3: photo1.png")
                region = page.locator("#trackList li.region")
                expect(region).to_have_count(1)
                page.select_option("#reason", "requester")
                region.locator("button.exempt").click()
                expect(region).to_contain_text("kept visible (requester)")
                drag(page, (20, 20, 120, 120))
                page.click("#addRegion")
                expect(page.locator("#trackList li", has_text="manual 1")).to_have_count(1)
                page.click("#save")
                expect(page.locator("#status")).to_contain_text("saved photo1.plan.json")
                page.click("#toGrid")
                expect(tiles.nth(1)).to_contain_text("1 kept")
                expect(tiles.nth(1)).to_contain_text("1 manual")
                page.click("#renderAll")
                expect(page.locator("#status")).to_contain_text("rendered 3 file(s)",
                                                                timeout=60_000)
                browser.close()
        finally:
            studio.stop()
    assert [e["action"] for e in Plan.load(plans[1]).history] == ["exempt", "add"]
    assert all((tmp_path / "case" / f"photo{i}.faceless.png").exists() for i in range(3))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
def test_a_low_score_candidate_is_a_warning_hidden_with_one_key(tmp_path):
    from faceless.analyze import Analyzer
    from faceless.api import detect_file
    from test_review import WeakFaceDetector
    from videogen import make_video

    frame, found, missed = two_faces()
    src = make_video(tmp_path / "clip.mp4", [frame] * FRAMES)
    det = WeakFaceDetector(found, missed, range(2, 6))
    plan_path = tmp_path / "clip.plan.json"
    detect_file(src, analyzer=Analyzer(Options(), [det])).save(plan_path)
    shots = Path(os.environ.get("FACELESS_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with ReviewSession(plan_path, actor="A. Clerk") as session:
        studio = Studio(session)
        studio.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser, page = open_page(pw, studio)
                expect = sync_api.expect
                warning = page.locator("#warnList li.low")
                expect(warning).to_have_count(1)
                expect(warning).to_contain_text("scored only 0.12 in frames 2–5 is not hidden")
                expect(page.locator("#lanes .warn.low")).to_have_count(1)
                warning.click()
                expect(page.locator("#position")).to_contain_text("frame 2 /")
                page.wait_for_function("() => document.getElementById('frame').complete")
                page.locator("#viewer").screenshot(path=str(shots / "review-candidates.png"))
                page.keyboard.press("p")
                expect(warning).to_have_count(0)
                expect(page.locator("#trackList li", has_text="manual 4")).to_have_count(1)
                page.click("#save")
                expect(page.locator("#status")).to_contain_text("saved clip.plan.json")
                browser.close()
        finally:
            studio.stop()
    plan = Plan.load(plan_path)
    added = [f.index for f in plan.frames for r in f.regions if r.origin is Origin.MANUAL]
    assert added == [2, 3, 4, 5]
    assert plan.history[-1]["reason"] == "low-score face (0.12) hidden on review"


def canvas_has(page, colour, box) -> bool:
    """Whether the overlay shows `colour` (RGB) on the left edge of `box` (frame pixels)."""
    return page.evaluate(
        """([rgb, box]) => {
          const c = document.getElementById('overlay');
          const k = c.width / document.getElementById('frame').naturalWidth;
          const x = Math.round(box[0] * k), y = Math.round((box[1] + box[3]) / 2 * k);
          const d = c.getContext('2d').getImageData(x - 3, y - 3, 7, 7).data;
          for (let i = 0; i < d.length; i += 4) {
            if (Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1])
                + Math.abs(d[i + 2] - rgb[2]) < 30 && d[i + 3] > 200) return true;
          }
          return false;
        }""", [list(colour), list(box)])


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
def test_thumbnails_load_lazily_and_k_sets_keyframes_of_a_drawn_person(tmp_path):
    from faceless.plan import edits

    frame, found, missed = two_faces()
    plan_path = make_case(tmp_path, [frame] * FRAMES, size=SIZE, box=found)
    plan = Plan.load(plan_path)
    kinds = (Kind.FACE, Kind.HEAD, Kind.PERSON)
    # Many short tracks on the last frame: more rows than the list shows at once.
    for n in range(30):
        box = (8 + 20 * (n % 15), 8 + 60 * (n // 15), 24 + 20 * (n % 15), 40 + 60 * (n // 15))
        edits.add_manual(plan, {FRAMES - 1: box}, FRAMES - 1, FRAMES - 1, "setup",
                         kind=kinds[n % 3])
    plan.save(plan_path)
    ids = [t["id"] for t in plan.tracks]
    drawn = max(ids) + 1
    asked: list[str] = []

    with ReviewSession(plan_path, actor="A. Clerk") as session:
        studio = Studio(session)
        studio.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1180, "height": 760})
                page.on("request", lambda r: asked.append(r.url) if "/thumb.jpg" in r.url
                        and "/api/tracks/" in r.url else None)
                page.goto(studio.url)
                page.wait_for_selector("body[data-ready='1']")
                expect = sync_api.expect
                position = page.locator("#position")
                first = page.locator(f"#trackList li[data-track='{ids[0]}'] img.thumb")
                page.wait_for_function("i => Math.max(i.naturalWidth, i.naturalHeight) === 96",
                                       arg=first.element_handle())
                expect(page.locator("#trackList li.head")).to_have_count(10)
                expect(page.locator("#trackList li.person")).to_have_count(10)
                expect(page.locator("#lanes .span.person")).to_have_count(10)
                settled = ("() => !document.querySelector('img.thumb[data-queued]') && [...document"
                           ".querySelectorAll('img.thumb[src]')].every(i => i.complete)")
                page.wait_for_function(settled)
                shown = len(asked)
                assert 0 < shown < len(ids), "only the rows in view fetch their thumbnail"
                page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 1 /")
                page.keyboard.press("ArrowLeft")
                expect(position).to_contain_text("frame 0 /")
                assert len(asked) == shown, "stepping frames fetches no thumbnail again"
                page.eval_on_selector("#tracks", "a => { a.scrollTop = a.scrollHeight; }")
                last = page.locator(f"#trackList li[data-track='{ids[-1]}'] img.thumb")
                page.wait_for_function("i => i.complete && i.naturalWidth > 0",
                                       arg=last.element_handle())
                assert shown < len(asked) <= len(ids)

                # A person the detector missed: a box on frame 0, K holds it on frame 4,
                # a moved box on frame 6; then the drawn track is corrected with K.
                page.select_option("#addKind", "person")
                box0 = (missed[0] - 8, missed[1] - 10, missed[2] + 8, missed[3] + 10)
                drag(page, box0)
                for _ in range(4):
                    page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 4 /")
                page.keyboard.press("k")
                expect(page.locator("#keyframes")).to_contain_text("frame(s) 0, 4")
                page.keyboard.press("ArrowRight")
                page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 6 /")
                box6 = (box0[0] - 40, box0[1], box0[2] - 40, box0[3])
                drag(page, box6)
                expect(page.locator("#keyframes")).to_contain_text("frame(s) 0, 4, 6")
                page.fill("#addFirst", "0")
                page.fill("#addLast", "6")
                page.click("#addRegion")
                row = page.locator(f"#trackList li[data-track='{drawn}']")
                expect(row).to_have_class(re.compile(r"\bperson\b"))
                expect(row).to_contain_text(f"#{drawn} person")
                lane = page.locator(f"#lanes .lane[data-track='{drawn}']")
                expect(lane.locator(".key")).to_have_count(3)
                page.wait_for_function("() => document.getElementById('frame').complete")
                assert canvas_has(page, (0x0F, 0xA3, 0xB1), box6), "outlined in person teal"

                row.locator("strong").click()
                expect(page.locator("#selName")).to_contain_text(f"#{drawn} person")
                page.keyboard.press("Shift+ArrowLeft")
                page.keyboard.press("ArrowRight")
                page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 2 /")
                # Its bottom-right handle dragged out, then K: frame 2 becomes a keyframe.
                drag(page, (box0[2], box0[3], box0[2] + 20, box0[3] + 16))
                expect(page.locator("#useBox")).to_be_enabled()
                page.keyboard.press("k")
                expect(lane.locator(".key")).to_have_count(4)
                expect(page.locator("#status")).to_contain_text(
                    f"keyframe of track #{drawn} at frame 2")
                page.keyboard.press("ArrowRight")
                page.keyboard.press("ArrowRight")
                page.keyboard.press("ArrowRight")
                expect(position).to_contain_text("frame 5 /")
                page.keyboard.press("K")  # no box moved: the one interpolated here is kept
                expect(lane.locator(".key")).to_have_count(5)
                expect(page.locator(".legend").first).to_contain_text("K keyframe")
                page.click("#save")
                expect(page.locator("#status")).to_contain_text("saved clip.plan.json")
                browser.close()
        finally:
            studio.stop()

    plan = Plan.load(plan_path)
    assert [e["action"] for e in plan.history[-3:]] == ["add", "keyframe", "keyframe"]
    assert {e["actor"] for e in plan.history[-3:]} == {"A. Clerk"}
    keys = edits.keyframes_of(plan, drawn)
    assert sorted(keys) == [0, 2, 4, 5, 6]
    assert keys[0] == pytest.approx(box0, abs=1.5) and keys[6] == pytest.approx(box6, abs=1.5)
    assert keys[2] == pytest.approx((*box0[:2], box0[2] + 20, box0[3] + 16), abs=1.5)
    assert keys[4] == pytest.approx(box0, abs=1.5) and keys[5] == pytest.approx(
        [(a + b) / 2 for a, b in zip(box0, box6, strict=True)], abs=1.5)
    boxes = {f.index: r for f in plan.frames for r in f.regions if r.track_id == drawn}
    assert sorted(boxes) == list(range(7))
    assert {str(r.kind) for r in boxes.values()} == {"person"}
    assert {r.origin for r in boxes.values()} == {Origin.MANUAL}
    for i, (a, b) in ((1, (0, 2)), (3, (2, 4))):
        assert boxes[i].box == pytest.approx(
            [(u + v) / 2 for u, v in zip(keys[a], keys[b], strict=True)], abs=0.01)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
def test_the_leak_checks_suspects_are_a_to_do_list(tmp_path):
    import json

    frame, found, missed = two_faces()
    plan_path = make_case(tmp_path, [frame] * FRAMES, size=SIZE, box=found)
    check = tmp_path / "check.json"
    findings = [{"check": "suspect", "kind": "face", "frame": i, "time": i / 25,
                 "box": list(missed), "score": 0.7, "unchanged": 1.0, "reason": "a face shows"}
                for i in range(2, 6)]
    findings.append({"check": "suspect", "kind": "text", "frame": 6, "time": 0.24,
                     "box": [10, 200, 120, 240], "score": 0.5, "unchanged": 1.0,
                     "reason": "text shows"})
    check.write_text(json.dumps({"every": 1, "findings": findings}))
    with ReviewSession(plan_path, actor="A. Clerk", suspects=check) as session:
        studio = Studio(session)
        studio.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser, page = open_page(pw, studio)
                expect = sync_api.expect
                items = page.locator("#suspectList li")
                expect(items).to_have_count(2)
                expect(page.locator("#suspectCount")).to_contain_text("2 of 2 to do")
                items.nth(0).locator(".what").click()
                expect(page.locator("#position")).to_contain_text("frame 2 /")
                page.wait_for_function("() => document.getElementById('frame').complete")
                # The outline is drawn once the frame's regions have come: wait for it.
                for _ in range(50):
                    if canvas_has(page, (255, 212, 0), missed):
                        break
                    page.wait_for_timeout(100)
                assert canvas_has(page, (255, 212, 0), missed), "the suspect is not outlined"
                items.nth(0).get_by_role("button", name="Hide it").click()
                expect(items.nth(0)).to_contain_text("hidden")
                items.nth(1).get_by_role("button", name="Dismiss").click()
                expect(page.locator("#status")).to_contain_text("say why")
                page.fill("#suspectReason", "a shop sign")
                items.nth(1).get_by_role("button", name="Dismiss").click()
                expect(items.nth(1)).to_contain_text("dismissed")
                expect(page.locator("#suspectCount")).to_contain_text("0 of 2 to do")
                page.click("#save")
                expect(page.locator("#status")).to_contain_text("saved clip.plan.json")
                browser.close()
        finally:
            studio.stop()
    plan = Plan.load(plan_path)
    added = [f.index for f in plan.frames for r in f.regions if r.origin is Origin.MANUAL]
    assert added == [2, 3, 4, 5]
    assert [(e["action"], e["frames"]) for e in plan.history] == [("add", [2, 5]),
                                                                  ("dismiss", [6, 6])]
    assert plan.history[-1]["reason"] == "leak check suspect: a shop sign"
