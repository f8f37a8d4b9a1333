"""The review studio in a real Chromium, driven like a records officer would drive it.

Set FACELESS_SCREENSHOTS=DIR to also write the documentation's screenshots there
(`FACELESS_SCREENSHOTS=docs/img pytest tests/test_review_browser.py`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from faceless.anonymize.operators import Operator, OperatorSpec, Shape
from faceless.core.types import Decision, Origin
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
                drag(page, (missed[0] - 12, missed[1] - 14, missed[2] + 12, missed[3] + 14))
                page.click("#useBox")
                expect(page.locator("#keyframes")).to_have_text("no box drawn")
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
    assert {e["actor"] for e in plan.history} == {"A. Clerk"}
    assert plan_path.with_name("clip.plan.orig.json").exists()

    source = decode_all(tmp_path / "clip.mp4")
    released = decode_all(tmp_path / "clip.faceless.mp4")
    assert len(released) == FRAMES
    for (_, before), (_, after) in zip(source, released, strict=True):
        diff = np.abs(box_pixels(before, found) - box_pixels(after, found)).mean()
        assert diff < 6, "the exempt face is unchanged but for codec noise"
        assert box_pixels(after, missed).max(axis=2).mean() < 24, "the drawn face is hidden"
