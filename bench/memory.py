"""Memory over a long video: does faceless's resident memory stay flat as the clip goes on?

Makes a clip of --minutes at --size with the sample portrait moving over a noisy background,
runs `faceless run` on it as its own process (arguments after `--` are passed on), and samples
the process's resident memory (VmRSS, Linux) every --every seconds. Prints a markdown table:
memory at 10% of the run, at the end, and the peak, plus the samples.

    python bench/memory.py                               # 10 minutes at 320x240, faces only
    python bench/memory.py --minutes 2 --size 1280x720 -- --hide face,plate
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_clip(path: Path, minutes: float, width: int, height: int) -> int:
    import av
    import cv2
    import numpy as np
    from PIL import Image

    from faceless.samples import astronaut_path

    side = max(32, min(width, height) * 2 // 5)
    face = cv2.resize(np.asarray(Image.open(astronaut_path()).convert("RGB")), (side, side),
                      interpolation=cv2.INTER_AREA)
    bg = np.random.default_rng(0).integers(40, 120, (height, width, 3), dtype=np.uint8)
    n = round(minutes * 60 * 30)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "crf": "23"})
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(n):
            f = bg.copy()
            x = int((width - side) / 2 * (1 + np.sin(i / 40)))
            y = int((height - side) / 2 * (1 + np.cos(i / 55)))
            f[y:y + side, x:x + side] = face
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode(None))
    return n


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else ["--hide", "face"]
    own = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    a = ap.parse_args(own)
    w, h = (int(v) for v in a.size.split("x"))
    faceless = Path(sys.executable).parent / "faceless"
    with tempfile.TemporaryDirectory(prefix="faceless-memory-") as tmp:
        src = Path(tmp) / "long.mp4"
        n = make_clip(src, a.minutes, w, h)
        cmd = [str(faceless), "run", str(src), "-o", str(Path(tmp) / "out.mp4"), "-q", *extra]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd)
        samples: list[tuple[float, float]] = []
        while proc.poll() is None:
            mb = rss_mb(proc.pid)
            if mb and mb > 1:  # the first instant, before the interpreter is loaded
                samples.append((time.monotonic() - t0, mb))
            time.sleep(a.every)
        wall = time.monotonic() - t0
    if proc.returncode != 0 or not samples:
        print(f"faceless failed (exit {proc.returncode})", file=sys.stderr)
        return 1
    peak = max(mb for _, mb in samples)
    early = samples[len(samples) // 10][1]
    print(f"{n} frames of {a.size} ({a.minutes:g} min), `faceless run {' '.join(extra)}`, "
          f"{wall:.0f} s\n")
    print("| RSS at 10% of the run | RSS at the end | peak | growth, 10% to end |")
    print("|---|---|---|---|")
    print(f"| {early:.0f} MB | {samples[-1][1]:.0f} MB | {peak:.0f} MB | "
          f"{samples[-1][1] - early:+.0f} MB |\n")
    step = max(1, len(samples) // 12)
    print("samples (s: MB): " + ", ".join(f"{t:.0f}: {mb:.0f}" for t, mb in samples[::step]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
