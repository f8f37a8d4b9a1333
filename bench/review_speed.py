"""How fast the review studio opens a long plan and steps through a 1080p video.

Makes a 1080p clip (noise with moving boxes) and two plans for it: one with a plan entry per
decoded frame (for stepping), and one as long as a 10-minute video at 30 fps with several
regions a frame (for opening). Then, through the studio's own web app (Starlette's test
client, no network), times:

- opening: reading the long plan and answering the page's first request (`/api/plan`);
- stepping: each next frame's JPEG (source view and preview), frame by frame forward;
- a jump far ahead in a fresh studio, which decodes every frame before it (the studio decodes
  in order and keeps recent frames; it does not seek to keyframes).

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


def make_clip(path: Path, frames: int, size: tuple[int, int] = (1920, 1080)) -> Path:
    w, h = size
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(30))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "veryfast"}
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames of the clip to step through")
    ap.add_argument("--plan-minutes", type=float, default=10.0,
                    help="length of the long plan, at 30 fps (default 10)")
    ap.add_argument("--regions", type=int, default=6, help="regions a frame in the long plan")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", a.frames)
        refs = [(vf.ref.index, vf.ref.pts) for vf in iter_frames(clip)]
        step = work / "step.plan.json"
        make_plan(clip, refs, 2).save(step)
        n_long = round(a.plan_minutes * 60 * 30)
        dt = refs[1][1] - refs[0][1] if len(refs) > 1 else 512
        long = work / "long.plan.json"
        make_plan(clip, [(i, i * dt) for i in range(n_long)], a.regions).save(long)

        t0 = time.perf_counter()
        with ReviewSession(long) as s:
            r = client(s).get("/api/plan")
            assert r.status_code == 200
        opened = time.perf_counter() - t0

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
            t0 = time.perf_counter()
            c.get(f"/api/frames/{len(refs) - 1}.jpg?view=source")
            jump = time.perf_counter() - t0

    from speed import machine  # the sibling script: CPU, cores and versions in one line

    print(f"{machine()}; 1080p clip of {len(refs)} frames; plan of {n_long} frames "
          f"x {a.regions} regions")
    print("| what | ms |")
    print("|---|---|")
    print(f"| open a {a.plan_minutes:g}-minute plan (load, first /api/plan) | "
          f"{opened * 1000:.0f} |")
    for view, ts in times.items():
        ms = sorted(t * 1000 for t in ts[1:])  # the first frame pays for opening the decoder
        print(f"| step one frame forward, {view} view: median / 95th percentile | "
              f"{statistics.median(ms):.0f} / {ms[int(0.95 * (len(ms) - 1))]:.0f} |")
    print(f"| jump to the last frame in a fresh studio (decodes every frame before it) | "
          f"{jump * 1000:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
