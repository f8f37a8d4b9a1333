"""Crowds: street scenes drawn from a seed, faceless next to deface on speed, memory and leaks.

Every scene is new for every seed: 1 to 40 real faces (kaggle-face-mask, masked and unmasked,
and dlib's group photos), 8 to 120 px, moving along linear, curved and zig-zag paths, occluded,
in shadow and motion-blurred, over real footage with and without parked cars and plates
(bench/temporal.py composites them and knows every face box in every frame). Each tool runs as
its own process on each scene, in an order that rotates with the seed: wall time, frames per
second and peak RSS (os.wait4). Leaks are judged by output pixels on a second run of each
tool with its hiding switched to a magenta fill (bench/speed.py's FILL): a face-frame leaks
when less than 70% of its box changed. The real videos in ../shared/data/videos run beside
the scenes for speed and memory (they have no face labels).

    python bench/crowds.py --sizes 720p 1080p --seeds 20 --first-seed 5000
    python bench/crowds.py --sizes 720p --seeds 2 --frames 45       # a quick look
    python bench/crowds.py --sizes 4k --seeds 5 --frames 30 --real --markdown /tmp/c.md

Decide on seeds you did not tune on: pick --first-seed afresh for each decision and quote the
aggregate (median and spread across seeds), never one scene.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import FILL, VIDEOS, _bin, machine, run_once  # this folder's modules

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
# Backgrounds from bench/temporal.py: with parked cars and plates, and without.
WITH_PLATES = ("carpark", "plaza", "square")
WITHOUT_PLATES = ("pets", "shirt")
FACE_SIZES = (8.0, 40.0, 40.0, 120.0)  # a face's low in [8, 40) px, its high in [40, 120)
MAX_FACES = 40

TOOLS: dict[str, list[str]] = {
    "faceless": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q", "--overwrite"],
    "faceless --hide face": [_bin("faceless"), "run", "{src}", "-o", "{dst}", "-q",
                             "--overwrite", "--hide", "face"],
    "deface": [_bin("deface"), "{src}", "-o", "{dst}"],
}
REAL = {
    "pets2009 480x360": VIDEOS / "pets2009-vtest" / "vtest.mp4",
    "egoblur body-cam 2560x1920": VIDEOS / "egoblur-demo" / "gen2" / "demo_assets"
    / "test_lp_video.mp4",
}


# --------------------------------------------------------------------------- children


def make_scene(size: str, seed: int, frames: int, out: Path) -> Path:
    """Write crowd-SIZE-SEED.mp4 and its ground truth .json; return the video's path."""
    import numpy as np
    import temporal

    w, h = SIZES[size]
    rng = np.random.default_rng([seed, h])
    n = int(rng.integers(1, MAX_FACES + 1))
    plates = bool(rng.random() < 0.6)
    bg_name = str(rng.choice(WITH_PLATES if plates else WITHOUT_PLATES))
    sprites = temporal.pick_sprites(n, rng, 56.0)
    # Crowds overlap: a few tries per path, then the faces pass in front of each other.
    faces = temporal.plan_faces(rng, sprites, frames, (w, h), FACE_SIZES, h / 360, tries=3)
    name = f"crowd-{size}-{seed}"
    images, records = temporal.render_clip(name, temporal.background(bg_name, frames, (w, h)),
                                           faces, rng)
    video = out / f"{name}.mp4"
    temporal.write_video(video, images)
    gt = {"clip": name, "video": video.name, "width": w, "height": h, "fps": temporal.FPS,
          "frames": frames, "seed": seed, "background": bg_name, "plates": plates,
          "faces": [{"id": i, "source": f.sprite.label} for i, f in enumerate(faces)],
          "boxes": records}
    video.with_suffix(".json").write_text(json.dumps(gt))
    return video


def judge(src: Path, out: Path, gt_path: Path) -> dict[str, int]:
    """Leaked face-frames of `out`, and the longest run of leaked frames of one face after
    the first frame in which the tool hid it."""
    import temporal

    gt = json.loads(gt_path.read_text())
    sc = temporal.score_pixels(gt, src, out, gt["clip"])
    by_face: dict[int, list[tuple[int, bool]]] = {}
    for (_clip, face, t), (_size, share) in sorted(sc.covered.items()):
        by_face.setdefault(face, []).append((t, share >= temporal.COVER))
    after = 0
    for seq in by_face.values():
        found, run, last = False, 0, None
        for t, hidden in seq:
            if last is not None and t != last + 1:
                run = 0  # an occlusion ends a run
            last = t
            found = found or hidden
            run = 0 if hidden else run + 1
            if found:
                after = max(after, run)
    return {"face_frames": sc.face_frames, "leaked": sc.leaked, "faces": sc.faces,
            "leaking_faces": sc.leaking_faces, "longest": sc.longest,
            "longest_after_found": after}


def _child(*args: str) -> str:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"crowds.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


# --------------------------------------------------------------------------- report


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _spread(xs: list[float], fmt: str = "{:.1f}") -> str:
    """median [min-max] across seeds."""
    if not xs:
        return "–"
    return f"{fmt.format(_med(xs))} [{fmt.format(min(xs))}–{fmt.format(max(xs))}]"


def tables(rows: list[dict]) -> str:
    """Per scene, then per size and tool over all seeds."""
    out = ["| scene | faces | background | tool | fps | vs deface | peak RSS MB | leaked "
           "face-frames | longest leak after found |", "|" + "---|" * 9]
    for r in rows:
        d = next((x for x in rows if x["scene"] == r["scene"] and x["tool"] == "deface"), None)
        vs = f"{d['wall'] / r['wall']:.2f}×" if d and r["ok"] and d["ok"] else "–"
        lk = (f"{r['leaked']}/{r['face_frames']} ({100 * r['leaked'] / r['face_frames']:.1f}%)"
              if r.get("face_frames") else "–")
        out.append(f"| {r['scene']} | {r.get('n_faces', '–')} | {r.get('background', '–')} | "
                   f"{r['tool']} | {r['fps']:.2f} | {vs} | {r['rss_mb']:.0f} | {lk} | "
                   f"{r.get('longest_after_found', '–')} |")
    out += ["", "| size | tool | scenes | fps | speed vs deface | peak RSS MB (max) | leaked "
            "face-frames (pooled) | leaked % per scene | leaks vs deface | longest leak after "
            "found (max) |", "|" + "---|" * 10]
    for size in dict.fromkeys(r["size"] for r in rows):
        here = [r for r in rows if r["size"] == size and r["ok"]]
        deface = {r["scene"]: r for r in here if r["tool"] == "deface"}
        for tool in dict.fromkeys(r["tool"] for r in here):
            rs = [r for r in here if r["tool"] == tool]
            ratios = [deface[r["scene"]]["wall"] / r["wall"] for r in rs if r["scene"] in deface]
            judged = [r for r in rs if r.get("face_frames")]
            ff = sum(r["face_frames"] for r in judged)
            lk = sum(r["leaked"] for r in judged)
            d_lk = sum(deface[r["scene"]].get("leaked", 0) for r in judged if r["scene"] in deface)
            per = [100 * r["leaked"] / r["face_frames"] for r in judged]
            out.append(
                f"| {size} | {tool} | {len(rs)} | {_spread([r['fps'] for r in rs], '{:.2f}')} | "
                f"{_spread(ratios, '{:.2f}')}× | {max(r['rss_mb'] for r in rs):.0f} | "
                + (f"{lk}/{ff} ({100 * lk / ff:.1f}%) | {_spread(per)} | "
                   f"{lk / d_lk:.2f}× | {max(r['longest_after_found'] for r in judged)} |"
                   if ff and d_lk else "– | – | – | – |"))
    return "\n".join(out)


def real_table(rows: list[dict]) -> str:
    out = ["| real video | frames | tool | fps | vs deface | peak RSS MB |", "|" + "---|" * 6]
    for r in rows:
        d = next((x for x in rows if x["scene"] == r["scene"] and x["tool"] == "deface"), None)
        vs = f"{d['wall'] / r['wall']:.2f}×" if d and d["ok"] and r["ok"] else "–"
        out.append(f"| {r['scene']} | {r['frames']} | {r['tool']} | {r['fps']:.2f} | {vs} | "
                   f"{r['rss_mb']:.0f} |")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def cut(src: Path, frames: int, dst: Path) -> Path:
    """The first `frames` frames of a real video, re-encoded as the scenes are."""
    _child("cut", str(src), str(frames), str(dst))
    return dst


def measure(tool: str, src: Path, work: Path, log: Path, magenta: Path) -> tuple[dict, Path | None]:
    """One timed run with the tool's defaults, and one judged run with a magenta fill."""
    slug = tool.replace(" ", "").replace("-", "")
    run = run_once(TOOLS[tool], src, work / f"{src.stem}.{slug}.mp4", log)
    judged = work / f"{src.stem}.{slug}.judged.mp4"
    fill = [a.replace("{magenta}", str(magenta)) for a in FILL[tool.split()[0]]]
    ok = run_once([*TOOLS[tool], *fill], src, judged, log).ok
    return {"wall": run.wall, "rss_mb": run.rss_mb, "ok": run.ok}, judged if ok else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["make"]:  # children, so that this process stays small for ru_maxrss
        print(make_scene(argv[1], int(argv[2]), int(argv[3]), Path(argv[4])))
        return 0
    if argv[:1] == ["judge"]:
        print(json.dumps(judge(Path(argv[1]), Path(argv[2]), Path(argv[3]))))
        return 0
    if argv[:1] == ["cut"]:
        import temporal

        frames = temporal._video_frames(Path(argv[1]), 0, int(argv[2]))
        temporal.write_video(Path(argv[3]), [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2]
                                             for f in frames])
        print(argv[3])
        return 0
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["720p", "1080p"], choices=list(SIZES))
    ap.add_argument("--seeds", type=int, default=20, help="scenes per size (default 20)")
    ap.add_argument("--first-seed", type=int, default=None,
                    help="first seed (default: drawn from the clock, so every run is new)")
    ap.add_argument("--frames", type=int, default=90, help="frames per scene (default 90)")
    ap.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    ap.add_argument("--no-leaks", action="store_true", help="speed and memory only")
    ap.add_argument("--real", action="store_true",
                    help="also time the tools on the shared real videos (first --frames frames)")
    ap.add_argument("--markdown", type=Path, help="write the tables, machine and command here")
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--keep", type=Path, help="keep scenes and outputs in this folder")
    a = ap.parse_args(argv)
    first = a.first_seed if a.first_seed is not None else int(time.time()) % 100_000
    work = a.keep or Path(tempfile.mkdtemp(prefix="faceless-crowds-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "tools.log"
    magenta = work / "magenta.png"
    from PIL import Image  # small; the fill image deface pastes

    Image.new("RGB", (16, 16), (255, 0, 255)).save(magenta)
    rows: list[dict] = []
    real_rows: list[dict] = []
    started, load0 = time.monotonic(), os.getloadavg()[0]

    def save() -> None:
        cmd = "python bench/crowds.py " + shlex.join(argv)
        text = (f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine()}; "
                f"seeds {first}–{first + a.seeds - 1}; {time.monotonic() - started:.0f} s in "
                f"all; load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
                f"end.\n\n    {cmd}\n\n{tables(rows)}\n")
        if real_rows:
            text += "\n" + real_table(real_rows) + "\n"
        if a.markdown:
            a.markdown.write_text(text)
        if a.json:
            a.json.write_text(json.dumps({"seeds": [first, first + a.seeds - 1],
                                          "rows": rows, "real": real_rows}, indent=1))

    for size in a.sizes:
        for k in range(a.seeds):
            seed = first + k
            video = Path(_child("make", size, str(seed), str(a.frames), str(work)))
            gt = json.loads(video.with_suffix(".json").read_text())
            order = a.tools[k % len(a.tools):] + a.tools[:k % len(a.tools)]
            for tool in order:
                m, judged = measure(tool, video, work, log, magenta)
                row = {"scene": video.stem, "size": size, "seed": seed, "tool": tool,
                       "n_faces": len(gt["faces"]), "background": gt["background"],
                       "frames": a.frames, "fps": a.frames / m["wall"], **m}
                if judged is not None and not a.no_leaks:
                    row.update(json.loads(_child("judge", str(video), str(judged),
                                                 str(video.with_suffix(".json")))))
                rows.append(row)
                print(f"{video.stem:20s} {tool:22s} {row['fps']:6.2f} fps "
                      f"{row['rss_mb']:6.0f} MB  leaked {row.get('leaked', '–')}/"
                      f"{row.get('face_frames', '–')}", file=sys.stderr, flush=True)
            save()
    if a.real:
        for name, src in REAL.items():
            if not src.exists():
                continue
            clip = cut(src, a.frames, work / f"real-{len(real_rows)}.mp4")
            for tool in a.tools:
                run = run_once(TOOLS[tool], clip, work / f"{clip.stem}.{len(real_rows)}.mp4", log)
                real_rows.append({"scene": name, "tool": tool, "frames": a.frames,
                                  "fps": a.frames / run.wall, "wall": run.wall,
                                  "rss_mb": run.rss_mb, "ok": run.ok})
        save()
    print(tables(rows))
    if real_rows:
        print(real_table(real_rows))
    return 0 if all(r["ok"] for r in rows + real_rows) else 1


if __name__ == "__main__":
    sys.exit(main())
