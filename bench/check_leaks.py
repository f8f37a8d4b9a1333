"""How many real leaks `faceless check` flags: clips with known faces, released by faceless and
deface, each release's leaked face-frames judged from the labels, then checked.

The clips are bench/temporal.py's (real faces moving over real footage, exact per-frame boxes),
made with its helpers. A labelled face leaks in a frame when under 70% of its box changed by
more than --judge-level levels from the source (temporal.py's pixel judge; its own 24 counts
faceless's blur of low-contrast faces, 55-68% of whose pixels move by more than 24, as leaks,
so 8 here: the level the check itself calls changed). Each release is then checked
with `check_release(release, source=clip, hide="face")` at a low face threshold, and the table
is worked out at several thresholds from the suspects' scores: a leaked face-frame is flagged
when a suspect of that frame overlaps the face's box; a frame is flagged falsely when it has a
suspect that overlaps no leaked face.

    python bench/check_leaks.py --seeds 1 2 3 --frames 30 --clips shirt,plaza
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal import cpu_model, generate, parse_tool, run_tool, score_pixels, select_clips

from faceless.analyze.analyzer import Analyzer
from faceless.check import SUSPECT, check_release
from faceless.check.scan import FLAG, scan_options
from faceless.core.geometry import intersection_matrix
from faceless.core.types import Kind

TOOLS = ("faceless", "deface")
FLOOR = 0.1  # suspects are collected down to this score; the table applies thresholds above
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def judge(gt: dict, leaks: list[dict], suspects: list[tuple[int, float, tuple]],
          threshold: float) -> tuple[int, int]:
    """(leaked face-frames flagged, frames flagged falsely) at one threshold."""
    by_frame: dict[int, list[tuple]] = {}
    for frame, score, box in suspects:
        if score >= threshold:
            by_frame.setdefault(frame, []).append(box)
    flagged = 0
    leaked_boxes: dict[int, list] = {}
    for lk in leaks:
        leaked_boxes.setdefault(lk["frame"], []).append(lk["box"])
        boxes = by_frame.get(lk["frame"], [])
        if boxes and intersection_matrix([lk["box"]], boxes).max() > 0:
            flagged += 1
    false = 0
    for frame, boxes in by_frame.items():
        real = leaked_boxes.get(frame, [])
        hits = intersection_matrix(boxes, real).max(axis=1) if real else np.zeros(len(boxes))
        false += int((hits <= 0).any())
    return flagged, false


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--clips", default="shirt,plaza", help="temporal.py clip names")
    ap.add_argument("--work", type=Path, default=None, help="keep clips and releases here")
    ap.add_argument("--judge-level", type=int, default=8,
                    help="levels a pixel must move to count as hidden (default %(default)s)")
    ap.add_argument("--json", type=Path, help="write every suspect and leak here")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="check-leaks-"))
    specs = select_clips(a.clips)
    analyzer = Analyzer(scan_options(frozenset({Kind.FACE}), FLOOR))
    analyzer.setup()
    rows: dict[str, dict] = {t: {"face_frames": 0, "leaked": 0, "frames": 0, "seconds": 0.0,
                                 "clean_frames": 0, "runs": []} for t in TOOLS}
    for seed in a.seeds:
        out = work / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        for gt_path in generate(specs, a.frames, seed, out):
            gt = json.loads(gt_path.read_text())
            src = out / gt["video"]
            for tool in TOOLS:
                rel = out / f"{src.stem}.{tool}.mp4"
                run_tool(parse_tool(tool), src, rel)
                sc = score_pixels(gt, src, rel, gt["clip"], threshold=a.judge_level)
                t0 = time.monotonic()
                r = check_release(rel, source=src, hide="face", threshold=FLOOR,
                                  analyzer=analyzer)
                took = time.monotonic() - t0
                sus = [(f.frame, f.score or 0.0, f.box) for f in r.of(SUSPECT)]
                row = rows[tool]
                row["face_frames"] += sc.face_frames
                row["leaked"] += sc.leaked
                row["frames"] += r.frames
                row["seconds"] += took
                leak_frames = {lk["frame"] for lk in sc.leaks}
                row["clean_frames"] += r.frames - len(leak_frames)
                row["runs"].append({"seed": seed, "clip": gt["clip"], "leaks": sc.leaks,
                                    "suspects": sus, "gt": {"frames": gt["frames"]}})
                print(f"seed {seed} {gt['clip']} {tool}: {sc.leaked}/{sc.face_frames} "
                      f"leaked face-frames, {len(sus)} suspects >= {FLOOR}, {took:.1f}s",
                      file=sys.stderr)
    print(f"\nCPU: {cpu_model()}; seeds {a.seeds}, {a.frames} frames, clips {a.clips}; "
          f"check = thorough re-scan with the source, default face threshold {FLAG}\n")
    print("| release | threshold | face-frames | leaked | flagged | flagged % | "
          "frames flagged falsely | check s/frame |")
    print("|---|---|---|---|---|---|---|---|")
    for tool in TOOLS:
        row = rows[tool]
        for th in THRESHOLDS:
            flagged = false = 0
            for run in row["runs"]:
                f, x = judge(run["gt"], run["leaks"], run["suspects"], th)
                flagged += f
                false += x
            pct = f"{100 * flagged / row['leaked']:.0f}%" if row["leaked"] else "n/a"
            print(f"| {tool} | {th} | {row['face_frames']} | {row['leaked']} | {flagged} | "
                  f"{pct} | {false} of {row['frames']} | "
                  f"{row['seconds'] / max(row['frames'], 1):.2f} |")
    if a.json:
        a.json.write_text(json.dumps(rows, default=list))
    print(f"\nclips and releases in {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
