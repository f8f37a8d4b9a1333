"""How fast the review studio opens a long plan and steps through a 1080p video.

Makes a 1080p clip (noise with moving boxes) and two plans for it: one with a plan entry per
decoded frame (for stepping), and one as long as a 10-minute video at 30 fps with several
regions a frame (for opening). Then, through the studio's own web app (Starlette's test
client, no network), times:

- opening: the studio reading the long plan (and hashing its media), then what the page asks
  before it can be used (`/api/plan`, frame 0's regions and picture); the coverage warnings,
  which the page asks for after, separately;
- the same in a real Chromium, when there is one, with the studio in a process of its own
  as `faceless review` runs it: starting the studio on the long plan, then from loading the
  page to its first frame and track list on screen (as this process sees it, and by the
  page's own clock), and from pressing → to the next frame on screen (FACELESS_CHROMIUM or
  `chromium` on the PATH);
- stepping: each next frame's JPEG (source view and preview), frame by frame forward (the
  test client also waits for the read-ahead of the frame after, which a browser does not);
- a jump to the last frame in a fresh studio, which seeks to the keyframe before it (the clip
  has a keyframe every `--gop` frames) and decodes from there.

    python bench/review_speed.py                   # 1080p, 60 frames stepped, 18000-frame plan
    python bench/review_speed.py --frames 120 --plan-minutes 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path

import av
import numpy as np

from faceless.core.digest import sha256_file
from faceless.core.types import Kind, Origin, Region
from faceless.media.video import iter_frames
from faceless.plan.model import FramePlan, Plan, SourceInfo
from faceless.review.server import create_app
from faceless.review.session import ReviewSession

HOST, TOKEN = "127.0.0.1:8765", "bench-token"


def make_clip(path: Path, frames: int, size: tuple[int, int] = (1920, 1080),
              gop: int = 30) -> Path:
    w, h = size
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(30))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "veryfast", "g": str(gop), "keyint_min": str(gop)}
        for i in range(frames):
            img = base.copy()
            img[200:400, 100 + 10 * i:300 + 10 * i] = (200, 120, 90)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def regions(i: int, n: int) -> list[Region]:
    return [Region((100.0 + 10 * i % 1500 + 60 * k, 200.0, 160.0 + 10 * i % 1500 + 60 * k, 280.0),
                   Kind.FACE, 0.9, Origin.DETECTED, track_id=k + 1) for k in range(n)]


def make_plan(clip: Path, frames: list[tuple[int, int]], per_frame: int) -> Plan:
    info = SourceInfo(str(clip), sha256_file(clip), "video", 1920, 1080, Fraction(1, 15360),
                      len(frames))
    return Plan(info, [FramePlan(i, pts, regions(i, per_frame)) for i, pts in frames])


def client(session: ReviewSession):  # starlette's TestClient
    from starlette.testclient import TestClient

    c = TestClient(create_app(session, TOKEN, [HOST]), base_url=f"http://{HOST}")
    c.get(f"/?token={TOKEN}")
    return c


# Notes, by the page's own clock, when the page says it is ready.
READY_CLOCK = """
new MutationObserver((_, seen) => {
  if (document.body && document.body.dataset.ready === "1") {
    window.readyAt = performance.now();
    seen.disconnect();
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
"""


def serve(plan: Path, conn: Connection) -> None:
    """The studio on `plan` in a process of its own, as `faceless review` runs it (so the
    browser's driver here never waits for the server's work): sends its URL and the seconds
    it took to open (read the plan, hash the media, start the server), then serves until
    told to stop."""
    from faceless.review.server import Studio

    t0 = time.perf_counter()
    with ReviewSession(plan) as session:
        studio = Studio(session)
        studio.start()
        conn.send((studio.url, time.perf_counter() - t0))
        conn.recv()
        studio.stop()


def browser_open(plan: Path, steps: int = 0
                 ) -> tuple[float, float, float, list[float]] | None:
    """In a real Chromium, already started: seconds to open the studio on `plan` (in its
    own process), from loading the page to its first frame and track list on screen (as
    this process sees it, and by the page's own clock from the start of its navigation),
    and of each of `steps` presses of → to the next frame drawn; None without Chromium."""
    import multiprocessing
    import os
    import shutil

    chromium = os.environ.get("FACELESS_CHROMIUM") or shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None

    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.add_init_script(READY_CLOCK)
        page.goto("about:blank")
        server = ctx.Process(target=serve, args=(plan, there))
        server.start()
        try:
            url, opened = here.recv()
            t0 = time.perf_counter()
            # Not until the load event, which waits for every picture the page asked for
            # (track thumbnails too): ready is when the first frame and the list show.
            page.goto(url, wait_until="commit")
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            took = time.perf_counter() - t0
            by_page = page.evaluate("window.readyAt") / 1000
            stepped = []
            for i in range(1, steps + 1):
                t0 = time.perf_counter()
                page.keyboard.press("ArrowRight")
                # Shown: the position says the new frame and its picture has loaded.
                page.wait_for_function(
                    "i => document.getElementById('position').textContent"
                    ".startsWith('frame ' + i + ' ') && document.getElementById('frame')"
                    ".complete", arg=i)
                stepped.append(time.perf_counter() - t0)
        finally:
            here.send("stop")
            server.join(timeout=30)
        browser.close()
    return opened, took, by_page, stepped


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames of the clip to step through")
    ap.add_argument("--plan-minutes", type=float, default=10.0,
                    help="length of the long plan, at 30 fps (default 10)")
    ap.add_argument("--regions", type=int, default=6, help="regions a frame in the long plan")
    ap.add_argument("--gop", type=int, default=30, help="keyframe interval of the clip")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium measurement")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", a.frames, gop=a.gop)
        refs = [(vf.ref.index, vf.ref.pts) for vf in iter_frames(clip)]
        step = work / "step.plan.json"
        make_plan(clip, refs, 2).save(step)
        n_long = round(a.plan_minutes * 60 * 30)
        dt = refs[1][1] - refs[0][1] if len(refs) > 1 else 512
        long = work / "long.plan.json"
        make_plan(clip, [(i, i * dt) for i in range(n_long)], a.regions).save(long)

        # Wall and CPU time (this process, all threads): on a busy machine the CPU time says
        # more about the studio's own cost.
        t0, c0 = time.perf_counter(), time.process_time()
        with ReviewSession(long) as s:
            loaded = time.perf_counter() - t0, time.process_time() - c0
            c = client(s)
            t0, c0 = time.perf_counter(), time.process_time()
            for path in ("/api/plan", "/api/frames/0/regions", "/api/frames/0.jpg"):
                assert c.get(path).status_code == 200
            first_page = time.perf_counter() - t0, time.process_time() - c0
            t0, c0 = time.perf_counter(), time.process_time()
            assert c.get("/api/warnings").status_code == 200
            warned = time.perf_counter() - t0, time.process_time() - c0
        in_browser = page_steps = None
        if not a.no_browser:
            in_browser = browser_open(long)
            page_steps = browser_open(step, min(30, len(refs) - 1))

        times: dict[str, list[float]] = {"source": [], "preview": []}
        with ReviewSession(step) as s:
            c = client(s)
            for i in range(len(refs)):
                for view in times:
                    t0 = time.perf_counter()
                    r = c.get(f"/api/frames/{i}.jpg?view={view}")
                    times[view].append(time.perf_counter() - t0)
                    assert r.status_code == 200
        with ReviewSession(step) as s:  # a fresh studio: nothing decoded or cached yet
            c = client(s)
            c.get("/api/frames/0.jpg?view=source")
            before = s.frames.decoded
            t0 = time.perf_counter()
            c.get(f"/api/frames/{len(refs) - 1}.jpg?view=source")
            jump = time.perf_counter() - t0
            jump_decoded = s.frames.decoded - before

    from speed import machine  # the sibling script: CPU, cores and versions in one line

    print(f"{machine()}; 1080p clip of {len(refs)} frames; plan of {n_long} frames "
          f"x {a.regions} regions")
    print("| what | ms (CPU ms) |")
    print("|---|---|")

    def both(t: tuple[float, float]) -> str:
        return f"{t[0] * 1000:.0f} ({t[1] * 1000:.0f})"

    print(f"| open a {a.plan_minutes:g}-minute plan: load it and hash the media | "
          f"{both(loaded)} |")
    print(f"| then what the page needs first (/api/plan, frame 0 and its regions) | "
          f"{both(first_page)} |")
    print(f"| open, in all | {both((loaded[0] + first_page[0], loaded[1] + first_page[1]))} |")
    print(f"| coverage warnings (asked for once the page is up) | {both(warned)} |")
    if in_browser is not None:
        opened, took, by_page, _ = in_browser
        print(f"| in Chromium: page loaded to first frame and track list on screen | "
              f"{took * 1000:.0f} |")
        print(f"| the same by the page's clock (from the start of its navigation) | "
              f"{by_page * 1000:.0f} |")
        print(f"| in Chromium: from starting the studio (plan read, media hashed) to first "
              f"frame and track list, by the page's clock | {(opened + by_page) * 1000:.0f} |")
    if page_steps is not None:
        ms = sorted(t * 1000 for t in page_steps[3])
        print(f"| in Chromium: → to the next frame on screen, source view: median / 95th "
              f"percentile | {statistics.median(ms):.0f} / {ms[int(0.95 * (len(ms) - 1))]:.0f} |")
    for view, ts in times.items():
        ms = sorted(t * 1000 for t in ts[1:])  # the first frame pays for opening the decoder
        print(f"| step one frame forward, {view} view: median / 95th percentile | "
              f"{statistics.median(ms):.0f} / {ms[int(0.95 * (len(ms) - 1))]:.0f} |")
    print(f"| jump to the last frame in a fresh studio (seeks; {jump_decoded} frames decoded) | "
          f"{jump * 1000:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
