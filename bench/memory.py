"""Memory over a long video: does faceless's resident memory stay flat as the clip goes on?

Makes a clip of --minutes at --size with the sample portrait moving over a noisy background,
runs `faceless run` on it as its own process (arguments after `--` are passed on), and samples
the process's resident memory (VmRSS, Linux) every --every seconds. Prints a markdown table:
memory at 10% of the run, at the end, and the peak, plus the samples.

    python bench/memory.py                               # 10 minutes at 320x240, faces only
    python bench/memory.py --minutes 2 --size 1280x720 -- --hide face,plate

With --peak it measures the other bound instead, peak memory by frame size: `faceless run`
(default settings unless arguments follow `--`) on a short clip at each of --video (720p,
1080p, 4K, 8K) and on a JPEG photo of each of --photos megapixels (12, 48, 100), each in its
own process; prints seconds and the process's peak resident memory (ru_maxrss) as a table.

    python bench/memory.py --peak                        # 12-frame clips and 3 photos
    python bench/memory.py --peak --video 3840x2160 --photos 100 --frames 30
"""

from __future__ import annotations

import argparse
import math
import os
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


def make_photo(path: Path, megapixels: float) -> tuple[int, int]:
    """A 4:3 JPEG of `megapixels` with the sample portrait at three sizes on noise."""
    import cv2
    import numpy as np
    from PIL import Image

    from faceless.samples import astronaut_path

    w = round(math.sqrt(megapixels * 1e6 * 4 / 3)) // 2 * 2
    h = round(w * 3 / 4) // 2 * 2
    img = np.random.default_rng(1).integers(40, 120, (h, w, 3), dtype=np.uint8)
    face = np.asarray(Image.open(astronaut_path()).convert("RGB"))
    for frac, fx, fy in ((0.03, 0.1, 0.1), (0.1, 0.4, 0.3), (0.3, 0.6, 0.5)):
        side = max(16, round(frac * h))
        x, y = round(fx * w), round(fy * h)
        img[y:y + side, x:x + side] = cv2.resize(face, (side, side),
                                                 interpolation=cv2.INTER_AREA)
    Image.fromarray(img).save(path, quality=90)
    return w, h


def peak_of(cmd: list[str]) -> tuple[int, float, float]:
    """Run `cmd`; (exit code, wall seconds, its peak resident memory in MB)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.monotonic() - t0, usage.ru_maxrss / 1024


def peak_table(videos: list[str], photos: list[float], frames: int, extra: list[str]) -> int:
    """Seconds and peak RSS of `faceless run` by input size (see the module docstring)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from speed import machine  # the sibling script: CPU, cores and versions in one line

    faceless = Path(sys.executable).parent / "faceless"
    print(f"`faceless run {' '.join(extra)}`, one process per input; {machine()}\n")
    print("| input | size | megapixels | seconds | peak RSS MB |")
    print("|---|---|---|---|---|")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="faceless-peak-") as tmp:
        cases: list[tuple[str, Path, str, float]] = []
        for size in videos:
            w, h = (int(v) for v in size.split("x"))
            clip = Path(tmp) / f"clip-{size}.mp4"
            make_clip(clip, frames / 30 / 60, w, h)
            cases.append((f"video, {frames} frames", clip, size, w * h / 1e6))
        for mp in photos:
            photo = Path(tmp) / f"photo-{mp:g}mp.jpg"
            w, h = make_photo(photo, mp)
            cases.append(("JPEG photo", photo, f"{w}x{h}", w * h / 1e6))
        for what, src, size, mp in cases:
            out = src.with_name("out-" + src.name)
            code, sec, peak = peak_of([str(faceless), "run", str(src), "-o", str(out), "-q",
                                       *extra])
            failed += code != 0
            note = "" if code == 0 else f" (exit {code})"
            print(f"| {what} | {size} | {mp:.1f} | {sec:.1f}{note} | {peak:.0f} |", flush=True)
            src.unlink()
            out.unlink(missing_ok=True)
    return 1 if failed else 0


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
    own = argv[:argv.index("--")] if "--" in argv else argv
    extra = (argv[argv.index("--") + 1:] if "--" in argv
             else [] if "--peak" in own else ["--hide", "face"])
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--peak", action="store_true",
                    help="peak memory by input size instead (see above)")
    ap.add_argument("--video", default="1280x720,1920x1080,3840x2160,7680x4320",
                    help="--peak: clip sizes, WxH,... (default %(default)s)")
    ap.add_argument("--photos", default="12,48,100",
                    help="--peak: photo megapixels, comma-separated (default %(default)s)")
    ap.add_argument("--frames", type=int, default=12, help="--peak: frames a clip (default 12)")
    a = ap.parse_args(own)
    if a.peak:
        return peak_table([v for v in a.video.split(",") if v],
                          [float(v) for v in a.photos.split(",") if v], a.frames, extra)
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
