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
    python bench/crowds.py --sizes 1080p --seeds 5 --frames 30 \\
        --tools deface 'faceless --hide face' 'faceless --hide face --full-every 2'

Leaks in detail: `--diagnose` lists every run of leaked frames of a face after the tool
first hid it (size, mask, occlusion, blur, contrast, and from faceless's saved plan which
region or track was near); `--empty N` adds scenes without faces, where all a tool hides is
needless; `--baseline-src DIR` runs the faceless of another revision beside this one:

    git archive HEAD src | tar -x -C /tmp/before
    python bench/crowds.py --sizes 720p --seeds 2 --frames 30 --baseline-src /tmp/before \\
        --tools 'faceless --hide face' deface --no-timing --diagnose --empty 2

Decide on seeds you did not tune on: pick --first-seed afresh for each decision and quote the
aggregate (median and spread across seeds), never one scene.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


def make_scene(size: str, seed: int, frames: int, out: Path, empty: bool = False) -> Path:
    """Write crowd-SIZE-SEED.mp4 and its ground truth .json; return the video's path.

    `empty`: no faces at all (empty-SIZE-SEED.mp4), over each background in turn: what a tool
    hides there is all false (or one of the backgrounds' own unlabelled passers-by).
    """
    import numpy as np
    import temporal

    w, h = SIZES[size]
    rng = np.random.default_rng([seed, h])
    if empty:
        backgrounds = WITH_PLATES + WITHOUT_PLATES
        bg_name = backgrounds[seed % len(backgrounds)]
        plates, faces, name = bg_name in WITH_PLATES, [], f"empty-{size}-{seed}"
    else:
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


def _masked(label: str) -> str:
    """Whether a source face wears a mask: kaggle-face-mask's class, else unmasked (dlib)."""
    if not label.startswith("kaggle:"):
        return "no"
    import xml.etree.ElementTree as ET

    import temporal

    stem, i = label[len("kaggle:"):].split("#")
    objs = list(ET.parse(temporal.FACES / "kaggle-face-mask" / "annotations" / f"{stem}.xml")
                .getroot().iter("object"))
    name = objs[int(i)].findtext("name") or ""
    return {"con_mascarilla": "yes", "sin_mascarilla": "no"}.get(name, "badly worn")


def _cover(gt_box: list[float], region: list[float], scale: float) -> float:
    """Share of a face box inside a plan region grown by the plan's mask scale."""
    x1, y1, x2, y2 = region
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * scale / 2, (y2 - y1) * scale / 2
    gx1, gy1, gx2, gy2 = gt_box
    iw = max(0.0, min(gx2, cx + hw) - max(gx1, cx - hw))
    ih = max(0.0, min(gy2, cy + hh) - max(gy1, cy - hh))
    return iw * ih / max((gx2 - gx1) * (gy2 - gy1), 1e-6)


def _iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def diagnose(gt: dict, hidden: dict[int, list[tuple[int, bool]]], plan: dict | None
             ) -> list[dict]:
    """One row per run of leaked frames of a face after the tool first hid it: the face's
    size, mask, occlusion, blur and contrast over the run, and, given the tool's plan,
    whether a region or the track that hid the face just before lay near it."""
    rec = {(r["face"], r["frame"]): r for r in gt["boxes"]}
    frames = {f["index"]: f for f in plan["frames"]} if plan else {}
    scale = float(plan["settings"].get("mask_scale", 1.0)) if plan else 1.0
    sources = {f["id"]: f["source"] for f in gt["faces"]}
    out = []
    for face, seq in hidden.items():
        runs: list[list[int]] = []
        found, last = False, None
        for t, ok in seq:
            if last is not None and t != last + 1 and runs and runs[-1]:
                runs.append([])  # an occlusion ends a run
            last = t
            if ok:
                found = True
                if runs and runs[-1]:
                    runs.append([])
            elif found:
                if not runs:
                    runs.append([])
                runs[-1].append(t)
        for run in (r for r in runs if r):
            rs = [rec[(face, t)] for t in run]
            row = {"face": face, "source": sources.get(face, "?"), "start": run[0],
                   "frames": len(run), "size": [min(r["size"] for r in rs),
                                                max(r["size"] for r in rs)],
                   "hidden": max(r.get("hidden", 0.0) for r in rs),
                   "blur": max(r.get("blur", 0.0) for r in rs),
                   "contrast": min(r.get("contrast", 1.0) for r in rs)}
            prev = rec.get((face, run[0] - 1))
            row["after_occlusion"] = bool(prev is not None and not prev["visible"])
            if plan:
                row.update(_plan_near(face, run, rec, frames, scale))
            out.append(row)
    return out


def _plan_near(face: int, run: list[int], rec: dict, frames: dict, scale: float) -> dict:
    """What the plan did around one leak run: the best face region on the face, the track
    that hid it in the frame before the run and where that track went, candidates there."""
    def box(t: int) -> list[float]:
        r = rec[(face, t)]
        return [r["x1"], r["y1"], r["x2"], r["y2"]]

    def faces_at(t: int) -> list[dict]:
        return [g for g in frames.get(t, {}).get("regions", []) if g["kind"] == "face"]

    # The track that hid the face last, before the run.
    track, t0 = None, run[0] - 1
    while t0 >= 0 and (face, t0) in rec and track is None:
        best = max(faces_at(t0), key=lambda g: _cover(box(t0), g["box"], scale), default=None)
        if best is not None and _cover(box(t0), best["box"], scale) >= 0.7:
            track = best.get("track")
        t0 -= 1
    cover, reasons, near, cand, track_cover, track_dist = [], {}, 0, 0.0, [], []
    for t in run:
        g_box = box(t)
        side = max(g_box[2] - g_box[0], g_box[3] - g_box[1])
        gc = ((g_box[0] + g_box[2]) / 2, (g_box[1] + g_box[3]) / 2)
        regs = faces_at(t)
        best = max(regs, key=lambda g: _cover(g_box, g["box"], scale), default=None)
        c = _cover(g_box, best["box"], scale) if best is not None else 0.0
        cover.append(c)
        if best is not None and c > 0:
            why = best.get("reason") or best["origin"]
            why = why.split(" (")[0]
            reasons[why] = reasons.get(why, 0) + 1
        if any(math.hypot((g["box"][0] + g["box"][2]) / 2 - gc[0],
                        (g["box"][1] + g["box"][3]) / 2 - gc[1]) <= 1.5 * side for g in regs):
            near += 1
        mine = [g for g in regs if track is not None and g.get("track") == track]
        if mine:
            track_cover.append(_cover(g_box, mine[0]["box"], scale))
            b = mine[0]["box"]
            track_dist.append(math.hypot((b[0] + b[2]) / 2 - gc[0], (b[1] + b[3]) / 2 - gc[1])
                              / side)
        for k, *cb, score in frames.get(t, {}).get("candidates", []):
            if k == "face" and _iou(g_box, cb) >= 0.3:
                cand = max(cand, float(score))
    # The track's last region anywhere in the plan, for "ended" against "went elsewhere".
    track_last = max((i for i, f in frames.items() for g in f["regions"]
                      if track is not None and g.get("track") == track), default=None)
    if track is None:
        verdict = "no track had hidden it"
    elif len(track_cover) == 0:
        verdict = (f"its track ended {run[0] - 1 - track_last} frame(s) before"
                   if track_last is not None and track_last < run[0] else "its track went quiet")
    elif max(track_cover) < 0.7:
        verdict = "its track stayed, box off the face"
    else:
        verdict = "its track covered part of the run"
    return {"track": track, "verdict": verdict, "region_cover": round(statistics.mean(cover), 2),
            "near_frames": near, "reasons": reasons,
            "track_frames": len(track_cover),
            "track_dist": round(statistics.median(track_dist), 2) if track_dist else None,
            "candidate": round(cand, 3)}


def judge(src: Path, out: Path, gt_path: Path, plan_path: Path | None = None) -> dict:
    """Leaked face-frames of `out`, the longest run of leaked frames of one face after the
    first frame in which the tool hid it, the share of pixels changed away from the faces,
    and each such run diagnosed (see `diagnose`; with the tool's plan when given)."""
    import temporal

    gt = json.loads(gt_path.read_text())
    sc = temporal.score_pixels(gt, src, out, gt["clip"])
    by_face: dict[int, list[tuple[int, bool]]] = {}
    for (_clip, face, t), (_size, share) in sorted(sc.covered.items()):
        by_face.setdefault(face, []).append((t, share >= temporal.COVER))
    plan = (json.loads(plan_path.read_text())
            if plan_path is not None and plan_path.exists() else None)
    runs = diagnose(gt, by_face, plan)
    for r in runs:
        r["masked"] = _masked(r["source"])
    added: dict[str, int] = {}
    if plan:
        for f in plan["frames"]:
            for g in f["regions"]:
                if g["origin"] == "tracked":
                    why = (g.get("reason") or "tracked").split(" (")[0]
                    added[why] = added.get(why, 0) + 1
    return {"face_frames": sc.face_frames, "leaked": sc.leaked, "faces": sc.faces,
            "leaking_faces": sc.leaking_faces, "longest": sc.longest,
            "longest_after_found": max((r["frames"] for r in runs), default=0),
            "over": round(100 * sc.over_redaction, 3), "runs": runs, "added": added,
            "regions": sum(len(f["regions"]) for f in plan["frames"]) if plan else None}


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


def _groups(rows: list[dict], field: str) -> Iterator[tuple[str, str, list[dict]]]:
    """(size, tool, its rows that have `field`), in the order they ran; empty groups left out."""
    for size in dict.fromkeys(r["size"] for r in rows):
        for tool in dict.fromkeys(r["tool"] for r in rows):
            rs = [r for r in rows if r["size"] == size and r["tool"] == tool and field in r]
            if rs:
                yield size, tool, rs


def after_table(rows: list[dict]) -> str:
    """Per size and tool: runs of leaked frames of a face after the tool first hid it, and
    the share of pixels it changed away from the faces (over-redaction, median over scenes)."""
    out = ["| size | tool | leak runs after found | of them > 2 frames | face-frames in them | "
           "longest | over-redaction % (median [min–max]) |", "|" + "---|" * 7]
    for size, tool, rs in _groups(rows, "runs"):
        runs = [x["frames"] for r in rs for x in r["runs"]]
        out.append(f"| {size} | {tool} | {len(runs)} | {sum(x > 2 for x in runs)} | "
                   f"{sum(runs)} | {max(runs, default=0)} | "
                   f"{_spread([r['over'] for r in rs], '{:.2f}')} |")
    return "\n".join(out)


def runs_table(rows: list[dict], min_frames: int = 3) -> str:
    """Every leak run after found of at least `min_frames` frames, longest first."""
    out = ["| scene | tool | face | frames | size px | masked | occluded (max share) | "
           "after a full occlusion | blur px (max) | contrast (min) | best region's cover | "
           "regions near (frames) | best region (frames) | what its track did | "
           "candidate score |", "|" + "---|" * 15]
    runs = [(r, x) for r in rows for x in r.get("runs", []) if x["frames"] >= min_frames]
    for r, x in sorted(runs, key=lambda rx: -rx[1]["frames"]):
        off = "" if x.get("track_dist") is None else f" ({x['track_dist']:.1f} sides off)"
        why = ", ".join(f"{k} {v}" for k, v in x.get("reasons", {}).items()) or "–"
        out.append(
            f"| {r['scene']} | {r['tool']} | {x['face']} | {x['start']}+{x['frames']} | "
            f"{x['size'][0]:.0f}–{x['size'][1]:.0f} | {x.get('masked', '?')} | "
            f"{x['hidden']:.2f} | {'yes' if x['after_occlusion'] else 'no'} | "
            f"{x['blur']:.0f} | {x['contrast']:.2f} | {x.get('region_cover', '–')} | "
            f"{x.get('near_frames', '–')} | {why} | {x.get('verdict', 'no plan')}"
            f"{off} | "
            f"{x.get('candidate', '–')} |")
    return "\n".join(out)


def empty_table(rows: list[dict]) -> str:
    """Scenes without faces: what each tool hid there (all of it needless, or one of the
    backgrounds' own passers-by)."""
    out = ["| size | tool | scenes | pixels changed % (median [min–max]) | regions a frame "
           "(mean) | of them added by tracking |", "|" + "---|" * 6]
    for size, tool, rs in _groups(rows, "over"):
        frames = sum(r["frames"] for r in rs if r.get("regions") is not None)
        regs = [r["regions"] for r in rs if r.get("regions") is not None]
        added = sum(sum(r["added"].values()) for r in rs if r.get("regions") is not None)
        out.append(f"| {size} | {tool} | {len(rs)} | "
                   f"{_spread([r['over'] for r in rs], '{:.2f}')} | "
                   + (f"{sum(regs) / frames:.2f} | {added / frames:.2f} |" if regs
                      else "– | – |"))
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


BEFORE = " (before)"


def with_baseline(tools: list[str], src: Path) -> dict[str, list[str]]:
    """Each faceless tool again as "TOOL (before)": `python -m faceless` with the package
    from `src` (another revision's src folder) first on its path."""
    out = {}
    for tool in tools:
        if tool.startswith("faceless"):
            cmd = TOOLS[tool]
            out[tool + BEFORE] = ["env", f"PYTHONPATH={src.resolve()}", sys.executable, "-m",
                                  "faceless", *cmd[1:]]
    return out


def measure(tool: str, src: Path, work: Path, log: Path, magenta: Path, timed: bool = True
            ) -> tuple[dict, Path | None]:
    """One timed run with the tool's defaults, and one judged run with a magenta fill (a
    faceless one saves its plan beside the output, for `diagnose`)."""
    slug = "".join(c for c in tool if c.isalnum())
    cmd = TOOLS[tool]
    m = {"wall": float("nan"), "rss_mb": float("nan"), "ok": True}
    if timed:
        run = run_once(cmd, src, work / f"{src.stem}.{slug}.mp4", log)
        m = {"wall": run.wall, "rss_mb": run.rss_mb, "ok": run.ok}
    judged = work / f"{src.stem}.{slug}.judged.mp4"
    fill = [a.replace("{magenta}", str(magenta)) for a in FILL[tool.split()[0]]]
    plan = ["--save-plan"] if tool.startswith("faceless") else []
    ok = run_once([*cmd, *fill, *plan], src, judged, log).ok
    if not timed:
        m["ok"] = ok
    return m, judged if ok else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["make"]:  # children, so that this process stays small for ru_maxrss
        print(make_scene(argv[1], int(argv[2]), int(argv[3]), Path(argv[4]),
                         empty=argv[5:6] == ["empty"]))
        return 0
    if argv[:1] == ["judge"]:
        plan = Path(argv[4]) if len(argv) > 4 else None
        print(json.dumps(judge(Path(argv[1]), Path(argv[2]), Path(argv[3]), plan)))
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
    ap.add_argument("--tools", nargs="+", default=list(TOOLS),
                    help="deface, faceless, or faceless with run options, e.g. "
                         "'faceless --thorough' or 'faceless --full-every 4' (default: "
                         f"{', '.join(TOOLS)})")
    ap.add_argument("--baseline-src", type=Path, metavar="DIR",
                    help="also run each faceless tool from the package in DIR/src (another "
                         "revision, e.g. from `git archive`), shown as 'TOOL (before)'")
    ap.add_argument("--no-leaks", action="store_true", help="speed and memory only")
    ap.add_argument("--speed-only", nargs="+", default=[], metavar="TOOL",
                    help="tools timed but not judged (e.g. 'faceless --hide face', whose face "
                         "search and tracking are the default's)")
    ap.add_argument("--no-timing", action="store_true",
                    help="leaks only: skip the timed runs (half the time; fps columns empty)")
    ap.add_argument("--empty", type=int, default=0, metavar="N",
                    help="also N scenes per size without faces (each background in turn): "
                         "what each tool hides there")
    ap.add_argument("--diagnose", type=int, nargs="?", const=3, default=None, metavar="FRAMES",
                    help="list every leak run after found of at least FRAMES frames (default "
                         "3): the face's size, mask, occlusion, blur, and what the plan did")
    ap.add_argument("--real", action="store_true",
                    help="also time the tools on the shared real videos (first --frames frames)")
    ap.add_argument("--markdown", type=Path, help="write the tables, machine and command here")
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--keep", type=Path, help="keep scenes and outputs in this folder")
    a = ap.parse_args(argv)
    for tool in a.tools:
        if tool not in TOOLS:
            if tool.split()[0] != "faceless":
                ap.error(f"--tools {tool!r}: deface, or faceless with its run options")
            TOOLS[tool] = [*TOOLS["faceless"], *shlex.split(tool)[1:]]
    if a.baseline_src is not None:
        if not (a.baseline_src / "src" / "faceless" / "__main__.py").exists():
            ap.error(f"{a.baseline_src}/src/faceless is not a faceless package")
        before = with_baseline(a.tools, a.baseline_src / "src")
        TOOLS.update(before)
        tools = [t for tool in a.tools for t in (tool, *(b for b in before if b == tool + BEFORE))]
    else:
        tools = list(a.tools)
    first = a.first_seed if a.first_seed is not None else int(time.time()) % 100_000
    work = a.keep or Path(tempfile.mkdtemp(prefix="faceless-crowds-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "tools.log"
    magenta = work / "magenta.png"
    from PIL import Image  # small; the fill image deface pastes

    Image.new("RGB", (16, 16), (255, 0, 255)).save(magenta)
    rows: list[dict] = []
    empty_rows: list[dict] = []
    real_rows: list[dict] = []
    started, load0 = time.monotonic(), os.getloadavg()[0]

    def save() -> None:
        cmd = "python bench/crowds.py " + shlex.join(argv)
        text = (f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine()}; "
                f"seeds {first}–{first + max(a.seeds, a.empty) - 1}; "
                f"{time.monotonic() - started:.0f} s in all; load average {load0:.1f} at the "
                f"start, {os.getloadavg()[0]:.1f} at the end.\n\n    {cmd}\n\n"
                + (f"{tables(rows)}\n" if rows else ""))
        if any("runs" in r for r in rows):
            text += "\n" + after_table(rows) + "\n"
        if empty_rows:
            text += "\n" + empty_table(empty_rows) + "\n"
        if a.diagnose is not None:
            text += "\n" + runs_table(rows, a.diagnose) + "\n"
        if real_rows:
            text += "\n" + real_table(real_rows) + "\n"
        if a.markdown:
            a.markdown.write_text(text)
        if a.json:
            a.json.write_text(json.dumps({"seeds": [first, first + a.seeds - 1], "rows": rows,
                                          "empty": empty_rows, "real": real_rows}, indent=1))

    def scene(size: str, seed: int, k: int, empty: bool) -> None:
        video = Path(_child("make", size, str(seed), str(a.frames), str(work),
                            *(["empty"] if empty else [])))
        gt = json.loads(video.with_suffix(".json").read_text())
        order = tools[k % len(tools):] + tools[:k % len(tools)]
        for tool in order:
            if tool in a.speed_only:
                run = run_once(TOOLS[tool], video, work / f"{video.stem}.speed.mp4", log)
                m, judged = {"wall": run.wall, "rss_mb": run.rss_mb, "ok": run.ok}, None
            else:
                m, judged = measure(tool, video, work, log, magenta, timed=not a.no_timing)
            row = {"scene": video.stem, "size": size, "seed": seed, "tool": tool,
                   "n_faces": len(gt["faces"]), "background": gt["background"],
                   "frames": a.frames, "fps": a.frames / m["wall"], **m}
            if judged is not None and not a.no_leaks:
                plan = judged.with_name(judged.name + ".plan.json")
                row.update(json.loads(_child("judge", str(video), str(judged),
                                             str(video.with_suffix(".json")), str(plan))))
            (empty_rows if empty else rows).append(row)
            print(f"{video.stem:20s} {tool:31s} {row['fps']:6.2f} fps "
                  f"{row['rss_mb']:6.0f} MB  leaked {row.get('leaked', '–')}/"
                  f"{row.get('face_frames', '–')} after found {row.get('longest_after_found')}"
                  f" over {row.get('over', '–')}%", file=sys.stderr, flush=True)
        save()

    for size in a.sizes:
        for k in range(a.seeds):
            scene(size, first + k, k, empty=False)
        for k in range(a.empty):
            scene(size, first + k, k, empty=True)
    if a.real:
        for name, src in REAL.items():
            if not src.exists():
                continue
            clip = cut(src, a.frames, work / f"real-{len(real_rows)}.mp4")
            for tool in tools:
                run = run_once(TOOLS[tool], clip, work / f"{clip.stem}.{len(real_rows)}.mp4", log)
                real_rows.append({"scene": name, "tool": tool, "frames": a.frames,
                                  "fps": a.frames / run.wall, "wall": run.wall,
                                  "rss_mb": run.rss_mb, "ok": run.ok})
        save()
    if rows:
        print(tables(rows))
    if any("runs" in r for r in rows):
        print(after_table(rows))
    if empty_rows:
        print(empty_table(empty_rows))
    if a.diagnose is not None:
        print(runs_table(rows, a.diagnose))
    if real_rows:
        print(real_table(real_rows))
    return 0 if all(r["ok"] for r in rows + empty_rows + real_rows) else 1


if __name__ == "__main__":
    sys.exit(main())
