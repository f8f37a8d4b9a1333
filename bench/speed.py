"""Speed of faceless next to deface and next to a bare transcode, on the same clips.

Every tool runs as its own process on the same source clips: 720p and 1080p clips made here
(the sample portrait composited at many face sizes over a noisy, moving background) and the
first --frames frames of the shared videos. The floor is a transcode with faceless's own
reader and writer (decode -> RGB array -> x264 at faceless's settings, CRF 18 / preset
veryfast) and nothing else: no anonymizer that writes the same video can beat it. Each run is
repeated (--repeat) and the medians are reported: frames per second, time relative to the
floor, CPU seconds per frame (steadier than wall time on a shared machine) and peak resident
memory (ru_maxrss of the largest process in the tool's process tree, from os.wait4; on Linux a
child's figure starts from this process's own size when it forks, so this process stays small:
it imports nothing heavy and makes the clips in a child).

    python bench/speed.py                                   # everything, ~20 min on 2 idle cores
    python bench/speed.py --frames 30 --repeat 1 --clips synthetic-720p   # a quick look
    python bench/speed.py --modes faceless "faceless --scales 1,2"        # some tools only
    python bench/speed.py --markdown /tmp/speed-table.md   # the table, with date and machine
    python bench/speed.py --frames 300 --startup     # start-up apart from the steady rate

Add a mode: one line in MODES.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy, av and cv2 load only in the children that need them
    import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"


def _bin(name: str) -> str:
    """The tool from the same environment as this Python, else from PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


FLOOR = "transcode (floor)"
# name -> command ({src} input clip, {dst} output file). The first entry is the floor.
MODES: dict[str, list[str]] = {
    FLOOR: [sys.executable, str(Path(__file__).resolve()), "transcode", "{src}", "{dst}"],
    "deface": [_bin("deface"), "{src}", "-o", "{dst}"],
    "deface --scale 640x360": [_bin("deface"), "{src}", "-o", "{dst}", "--scale", "640x360"],
    "faceless": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q", "--overwrite"],
    "faceless --fast": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q", "--overwrite",
                        "--fast"],
    "faceless --thorough": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q",
                            "--overwrite", "--thorough"],
    # Every face pass on every frame, no full looks skipped: what the schedule saves.
    "faceless --full-every 1": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q",
                                "--overwrite", "--full-every", "1"],
    "faceless --hide face": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q",
                             "--overwrite", "--hide", "face"],
    "faceless --hide face --fast": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q",
                                    "--overwrite", "--hide", "face", "--fast"],
    "faceless --scales 1,2": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q",
                              "--overwrite", "--scales", "1,2"],
}


def command(mode: str) -> list[str] | None:
    """The command of a named mode, or of any 'faceless ARGS' / 'deface ARGS'; None if neither."""
    if mode in MODES:
        return MODES[mode]
    tool, *args = mode.split()
    if tool == "faceless":
        return [*MODES["faceless"], *args]
    if tool == "deface":
        return [*MODES["deface"], *args]
    return None


def is_slow(mode: str) -> bool:
    """Modes that take seconds a frame (--slow-frames gives them a shorter clip)."""
    return "--thorough" in mode.split()

# name -> source: a synthetic WxH clip (WxH/N: only its faces of at least N px at that size)
# or a shared video path
CLIPS: dict[str, str] = {
    "synthetic-720p": "1280x720",
    "synthetic-1080p": "1920x1080",
    # The 720p and 1080p clips with faces from 20 px up (the clips above also hold 8-16 px ones).
    "synthetic-720p-20px": "1280x720/20",
    "synthetic-1080p-20px": "1920x1080/20",
    "pets2009 480x360": str(VIDEOS / "pets2009-vtest" / "vtest.mp4"),
    "egoblur 608x1080": str(VIDEOS / "egoblur-demo" / "gen1" / "demo_assets" /
                            "test_video.mp4"),
}

# Face sizes (short side of the face box, px) composited into a 1080p clip; scaled for 720p.
FACE_SIDES = (12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 200, 256)
FACE_512 = (171.0, 33.0, 281.0, 187.0)  # the face in the 512x512 sample portrait


# --------------------------------------------------------------------------- clips


def _encode(frames: list[np.ndarray], path: Path, rate: Fraction) -> None:
    """Write RGB frames as an H.264 source clip (CRF 18, preset fast: a clean source)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=rate, options={"crf": "18", "preset": "fast"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode(None))


def synthetic_frames(width: int, height: int, n: int, seed: int = 0) -> list[np.ndarray]:
    """Portrait crops at many sizes drifting over a noisy gradient: real faces, known sizes."""
    return synthetic_clip(width, height, n, seed)[0]


def synthetic_clip(width: int, height: int, n: int, seed: int = 0, min_face: int = 0
                   ) -> tuple[list[np.ndarray], list[list[list[float]]]]:
    """synthetic_frames, keeping only faces of at least `min_face` px, and each frame's
    face boxes (xyxy, clipped to the frame)."""
    import cv2
    import numpy as np
    from PIL import Image

    from faceless.samples import astronaut_path

    portrait = np.asarray(Image.open(astronaut_path()).convert("RGB"))
    fx1, fy1, fx2, fy2 = FACE_512
    hx, hy = 120, 0
    head = portrait[hy:hy + 260, hx:hx + 220]  # the head with some hair, collar, background
    face_side_in_head = min(fx2 - fx1, fy2 - fy1)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([90 + 60 * xx / width, 110 + 40 * yy / height,
                     130 - 50 * xx / width], axis=2)
    k = height / 1080
    sides = [side for side in (max(8, round(s * k)) for s in FACE_SIDES) if side >= min_face]
    tiles, faces = [], []  # faces: the face box in each tile's own pixels
    for i, side in enumerate(sides):
        scale = side / face_side_in_head
        t = cv2.resize(head, (max(1, round(head.shape[1] * scale)),
                              max(1, round(head.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
        tiles.append(t[:, ::-1] if i % 2 else t)
        sx, sy = t.shape[1] / head.shape[1], t.shape[0] / head.shape[0]
        x1, x2 = (fx1 - hx) * sx, (fx2 - hx) * sx
        if i % 2:
            x1, x2 = t.shape[1] - x2, t.shape[1] - x1
        faces.append((x1, (fy1 - hy) * sy, x2, (fy2 - hy) * sy))
    # Lay the heads out left to right in rows, leaving room to drift.
    places, x, y, row_h = [], 10, 10, 0
    for t in tiles:
        th, tw = t.shape[:2]
        if x + tw + 30 > width:
            x, y, row_h = 10, y + row_h + 30, 0
        if y + th + 30 > height:
            break
        places.append((x, y))
        x, row_h = x + tw + 30, max(row_h, th)
    frames, boxes = [], []
    for f in range(n):
        img = base + rng.normal(0, 4, base.shape).astype(np.float32)
        img = np.clip(img, 0, 255).astype(np.uint8)
        here = []
        for j, (t, (px, py)) in enumerate(zip(tiles, places, strict=False)):
            dx = round(12 * np.sin(f / 9 + j))
            dy = round(8 * np.cos(f / 11 + j))
            th, tw = t.shape[:2]
            x0, y0 = max(0, px + dx), max(0, py + dy)
            img[y0:y0 + th, x0:x0 + tw] = t[: height - y0, : width - x0]
            x1, y1, x2, y2 = faces[j]
            here.append([x0 + x1, y0 + y1, min(width, x0 + x2), min(height, y0 + y2)])
        frames.append(img)
        boxes.append(here)
    return frames, boxes


def make_clip(name: str, spec: str, frames: int, folder: Path) -> Path:
    """The source clip for one CLIPS entry, `frames` frames long."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name.split()[0] + ".mp4")
    if "x" in spec and not spec.endswith(".mp4"):
        size, _, least = spec.partition("/")
        w, h = (int(v) for v in size.split("x"))
        images, boxes = synthetic_clip(w, h, frames, min_face=int(least or 0))
        _encode(images, path, Fraction(25))
        path.with_suffix(".faces.json").write_text(json.dumps(boxes))
        # deface's fill for --recall (an image); made here, where Pillow is loaded anyway.
        from PIL import Image

        Image.new("RGB", (16, 16), (255, 0, 255)).save(folder / "magenta.png")
        return path
    import av

    src = Path(spec)
    if not src.exists():
        raise FileNotFoundError(f"{src}: not found (the shared data folder is needed)")
    out = []
    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        rate = stream.average_rate or Fraction(25)
        for fr in c.decode(stream):
            out.append(fr.to_ndarray(format="rgb24"))
            if len(out) >= frames:
                break
    _encode(out, path, Fraction(rate))
    return path


# --recall: every tool fills in magenta for one more run, judged as bench/temporal.py judges
# peers (its changed_masks, COVER and CHANGED).
FILL = {"faceless": ["--operator", "fill", "--color", "255,0,255"],
        "deface": ["--replacewith", "img", "--replaceimg", "{magenta}"]}


def judge_command(mode: str, magenta: Path) -> list[str] | None:
    """The mode's command with its hiding switched to a magenta fill; None for the floor."""
    cmd = command(mode)
    if mode == FLOOR or cmd is None:
        return None
    tool = mode.split()[0]
    return [*cmd, *(a.replace("{magenta}", str(magenta)) for a in FILL[tool])]


def judge(src: Path, out: Path, faces: Path, listing: bool = False) -> tuple[int, int, int]:
    """(face-frames left visible, face-frames in all, faces visible in some frame) of `out`;
    `listing`: also print each visible face-frame (frame, face, its box, share covered)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from temporal import COVER, changed_masks, span

    boxes = json.loads(faces.read_text())
    leaked, total, leaking = 0, 0, set()
    for t, changed in enumerate(changed_masks(src, out)):
        h, w = changed.shape
        for j, box in enumerate(boxes[t]):
            x1, y1, x2, y2 = span(box, w, h)
            total += 1
            share = float(changed[y1:y2, x1:x2].mean()) if x2 > x1 and y2 > y1 else 0.0
            if share < COVER:
                leaked += 1
                leaking.add(j)
                if listing:
                    print(f"frame {t} face {j} box {x1},{y1},{x2},{y2} covered {share:.2f}",
                          file=sys.stderr)
    return leaked, total, len(leaking)


def count_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


# --------------------------------------------------------------------------- timing


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    ok: bool


def run_once(cmd: list[str], src: Path, dst: Path, log: Path) -> Run:
    """Run one tool as a child process; wall time, CPU time and peak RSS from os.wait4."""
    if dst.exists():
        dst.unlink()
    argv = [a.format(src=src, dst=dst) for a in cmd]
    with open(log, "ab") as lf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=lf, stderr=lf, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    ok = proc.returncode == 0 and dst.exists() and dst.stat().st_size > 0
    # ru_maxrss is in KiB on Linux: the peak of the largest process in the tree.
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, ok)


def transcode(src: Path, dst: Path) -> int:
    """The floor: faceless's reader and writer with nothing in between."""
    from faceless.media.video import VideoOptions, VideoWriter, iter_frames, probe_video

    info = probe_video(src)
    with VideoWriter(dst, info, VideoOptions()) as w:
        for vf in iter_frames(src):
            w.write(vf.image, vf.ref)
    return 0


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
            f"{versions()}")


def versions() -> str:
    """The installed versions that move every tool's speed (read from package metadata, so
    nothing heavy is imported here): ratios from runs with other versions differ."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("faceless", "deface", "onnxruntime", "av", "numpy", "opencv-python"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} not installed")
    return ", ".join(out)


# --------------------------------------------------------------------------- report


def _leaks(cmd: list[str], src: Path, faces: Path, dst: Path, log: Path) -> str:
    """The judged run of one tool: 'leaked / in all (faces)' face-frames, or 'failed'."""
    if not run_once(cmd, src, dst, log).ok:
        return "failed"
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "judge", str(src),
                           str(dst), str(faces)], capture_output=True, text=True)
    if done.returncode != 0:
        with open(log, "a") as lf:
            lf.write(done.stderr)
        return f"failed (see {log.name})"
    leaked, total, faces_leaking = done.stdout.split()
    return f"{leaked} / {total} ({faces_leaking})"


def table(rows: list[dict], markdown: bool = True) -> str:
    startup = any("startup" in r for r in rows)
    recall = any("leaked" in r for r in rows)
    head = ["clip", "frames", "tool", "fps", "time / floor", "throughput vs deface",
            "CPU s / frame", "CPU vs deface", "peak RSS MB", "runs"]
    if startup:
        head[4:4] = ["start-up s", "steady fps", "steady vs deface"]
    if recall:
        head.append("leaked face-frames / in view (faces)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    # Each tool against deface on the same clip and the same number of frames.
    deface = {(r["clip"], r["frames"]): r for r in rows if r["mode"] == "deface" and r["ok"]}
    for r in rows:
        d = deface.get((r["clip"], r["frames"]))
        if not r["ok"]:
            lines.append(f"| {r['clip']} | {r['frames']} | {r['mode']} | failed |"
                         + " |" * (len(head) - 4))
            continue
        vs = f"{d['wall'] / r['wall']:.1f}×" if d else "–"
        vs_cpu = f"{d['cpu_per_frame'] / r['cpu_per_frame']:.1f}×" if d else "–"
        extra = ""
        if startup:
            steady = (f"{d['steady_wall'] / r['steady_wall']:.1f}×"
                      if d and r.get("steady_wall") and d.get("steady_wall") else "–")
            fps = f"{r['steady_fps']:.1f}" if r.get("steady_fps") else "–"
            extra = f"{r.get('startup', float('nan')):.2f} | {fps} | {steady} | "
        lines.append(
            f"| {r['clip']} | {r['frames']} | {r['mode']} | {r['fps']:.1f} | {extra}"
            f"{r['ratio']:.1f}× | {vs} | {r['cpu_per_frame']:.3f} | {vs_cpu} | "
            f"{r['rss_mb']:.0f} | {r['runs']} |" + (f" {r.get('leaked', '–')} |" if recall else ""))
    return "\n".join(lines)


def measure_clip(clip: str, frames: int, these: list[str], work: Path, a: argparse.Namespace,
                 log: Path, rows: list[dict], saved=lambda: None) -> bool:
    """Time each of `these` modes on the first `frames` frames of `clip`; append their rows.

    False when the clip could not be made.
    """
    if frames != a.frames:  # a shorter cut for the slow modes, beside the full one
        work = work / f"{frames}-frames"
    made = subprocess.run([sys.executable, str(Path(__file__).resolve()), "make-clip",
                           clip, str(frames), str(work)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        print(f"{clip}: could not make the clip:\n{made.stderr[-2000:]}",
              file=sys.stderr)
        return False
    src_text, n_text = made.stdout.strip().splitlines()[-1].split("\t")
    src, n = Path(src_text), int(n_text)
    short = None
    if a.startup:
        (work / "short").mkdir(exist_ok=True)
        made = subprocess.run([sys.executable, str(Path(__file__).resolve()),
                               "make-clip", clip, "2", str(work / "short")],
                              capture_output=True, text=True, check=True)
        short = Path(made.stdout.strip().splitlines()[-1].split("\t")[0])
    floor_wall = None
    for mode in these:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", mode).strip("-")
        runs = []
        for k in range(a.repeat):
            dst = work / f"{src.stem}.{slug}.{k}.mp4"
            runs.append(run_once(command(mode), src, dst, log))
            if not runs[-1].ok:
                break
        ok = all(r.ok for r in runs)
        wall = statistics.median(r.wall for r in runs)
        if mode == FLOOR:
            floor_wall = wall
        row = {"clip": clip, "frames": n, "mode": mode, "ok": ok, "runs": len(runs),
               "wall": wall, "fps": n / wall,
               "ratio": wall / floor_wall if floor_wall else float("nan"),
               "cpu_per_frame": statistics.median(r.cpu for r in runs) / n,
               "rss_mb": statistics.median(r.rss_mb for r in runs)}
        if short is not None and ok:
            starts = [run_once(command(mode), short, work / "short" / f"{slug}.{k}.mp4",
                               log) for k in range(a.repeat)]
            if all(r.ok for r in starts):
                row["startup"] = statistics.median(r.wall for r in starts)
                # Two frames are in the start-up runs too: what is left is per frame.
                row["steady_wall"] = max(1e-6, wall - row["startup"])
                row["steady_fps"] = (n - 2) / row["steady_wall"]
        faces = src.with_suffix(".faces.json")
        fill = judge_command(mode, work / "magenta.png")
        if a.recall and ok and fill is not None and faces.exists():
            # kept with --keep: `speed.py judge SRC THIS FACES --list` lists the leaks
            row["leaked"] = _leaks(fill, src, faces, work / f"{src.stem}.{slug}.judged.mp4",
                                   log)
        rows.append(row)
        saved()  # each row as it comes (see main's save)
        print(f"{clip:18s} {mode:24s} " + (
            f"{row['fps']:6.1f} fps  {row['ratio']:5.1f}x floor  "
            f"{row['cpu_per_frame']:.3f} CPU s/frame  {row['rss_mb']:5.0f} MB"
            if ok else f"FAILED (see {log})"), file=sys.stderr, flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["transcode"]:  # the floor's own child process
        return transcode(Path(argv[1]), Path(argv[2]))
    if argv[:1] == ["judge"]:  # judging decodes whole clips: in a child, as the tools run
        # judge SRC OUT FACES [--list]: also each visible face-frame, on stderr
        found = judge(*(Path(v) for v in argv[1:4]), listing="--list" in argv[4:])
        print("\t".join(str(v) for v in found))
        return 0
    if argv[:1] == ["make-clip"]:  # clips are made in a child, so this process stays small
        path = make_clip(argv[1], CLIPS[argv[1]], int(argv[2]), Path(argv[3]))
        print(f"{path}\t{count_frames(path)}")
        return 0
    ap.add_argument("--frames", type=int, default=30, help="frames per clip (default 30)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool and clip; medians "
                    "are reported (default 3)")
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), metavar="CLIP",
                    help="some of: " + "; ".join(CLIPS))
    ap.add_argument("--modes", nargs="+", default=list(MODES), metavar="MODE",
                    help="some of: " + "; ".join(MODES) + "; or any 'faceless ARGS' or "
                    "'deface ARGS'")
    ap.add_argument("--markdown", type=Path, help="also write the table (with date, machine "
                    "and command) to this file")
    ap.add_argument("--keep", type=Path, help="keep the clips and outputs in this folder")
    ap.add_argument("--startup", action="store_true",
                    help="also time every tool on a 2-frame cut of each clip: start-up (imports, "
                    "models) in its own column, and the steady rate, (frames - 2) / (time - "
                    "start-up time), which is what a long video sees")
    ap.add_argument("--slow-frames", type=int, default=0, metavar="N",
                    help="run the slow modes (--thorough: seconds a frame) on the first N frames "
                    "of each clip instead, next to the floor and deface on the same N frames "
                    "(default 0: on --frames like the rest)")
    ap.add_argument("--recall", action="store_true",
                    help="on the synthetic clips, run every tool once more with a magenta "
                    "fill and count the face-frames its output leaves visible (judged by "
                    "pixels, as bench/temporal.py judges peers)")
    a = ap.parse_args(argv)
    if a.slow_frames and not 0 < a.slow_frames < a.frames:
        ap.error(f"--slow-frames must lie between 1 and --frames - 1 ({a.frames - 1})")
    clips, modes = list(a.clips), list(a.modes)
    unknown = [c for c in clips if c not in CLIPS] + [m for m in modes if command(m) is None]
    if unknown:
        print(f"unknown clip or mode: {', '.join(unknown)}", file=sys.stderr)
        return 2
    if FLOOR not in modes:
        modes.insert(0, FLOOR)  # every ratio needs it
    work = a.keep or Path(tempfile.mkdtemp(prefix="faceless-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "tools.log"
    rows = []
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    # Slow modes (--thorough) get their own, shorter cut of each clip, with the floor and deface
    # measured again on it, so their ratios also compare the same frames.
    slow = [m for m in modes if is_slow(m)] if a.slow_frames else []
    plans = [(a.frames, [m for m in modes if m not in slow])]
    if slow:
        plans.append((a.slow_frames, [m for m in (FLOOR, "deface") if m in modes] + slow))
    def save(done: bool) -> None:
        """Write the table so far: a run cut short (by a time limit) keeps it."""
        if not a.markdown or not rows:
            return
        cmd = "python bench/speed.py " + " ".join(shlex.quote(v) for v in argv)
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text(
            f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine()}; "
            f"{time.monotonic() - started:.0f}s in all; load average "
            f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (other work "
            f"on the machine slows wall time; CPU seconds suffer less)"
            f"{'' if done else '; CUT SHORT: the rows measured so far'}.\n\n"
            f"    {cmd.strip()}\n\n{table(rows)}\n")

    try:
        for clip in clips:
            for frames, these in plans:
                if not measure_clip(clip, frames, these, work, a, log, rows,
                                    lambda: save(False)):
                    return 1
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    save(True)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
