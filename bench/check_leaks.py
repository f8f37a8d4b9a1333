"""How many real leaks `faceless check` flags: clips with known faces, released by faceless and
deface, each release's leaked face-frames judged from the labels, then checked two ways.

The clips are bench/temporal.py's (real faces moving over real footage, exact per-frame boxes),
made with its helpers. A labelled face leaks in a frame when under 70% of its box changed by
more than --judge-level levels from the source (temporal.py's pixel judge; its own 24 counts
faceless's blur of low-contrast faces, 55-68% of whose pixels move by more than 24, as leaks,
so 8 here: the level the check itself calls changed). Each release is then checked with its
source, at a low face threshold, by both methods of `check_release`:

- release: the thorough re-scan of the release alone (`leak=None`); a suspect at a score;
- source: faces found on the source, judged by the share of their core the release left
  unchanged (`leak=0`, every face reported with its share); the table applies a source score
  and a share threshold, and the core is re-measured here at several sizes (pixels only);
- source+release: the source method plus the release re-scan's suspects at --rescan-at that
  lie on no judged source face (`Scanner(rescan=True)`; off in `check_release`).

A leaked face-frame is flagged when a suspect of that frame overlaps the face's box; a frame is
flagged falsely when it has a suspect that overlaps no leaked face. Detections are cached by
frame (the two methods and the two tools share frames); seconds per frame are charged as if
uncached.

    python bench/check_leaks.py --seeds 1 2 --frames 30 --clips shirt,plaza
    python bench/check_leaks.py --seeds 3 --frames 30 --clips shirt,plaza   # held out
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal import cpu_model, generate, parse_tool, run_tool, score_pixels, select_clips

from faceless.analyze.analyzer import Analyzer
from faceless.check import SUSPECT, check_release
from faceless.check.compare import LEAK, SOURCE_FLAG
from faceless.check.pixels import change_level, changed_share, diff
from faceless.check.scan import FLAG, scan_options
from faceless.core.geometry import inside_matrix, intersection_matrix, scale_box
from faceless.core.types import Kind
from faceless.media.video import iter_frames

TOOLS = ("faceless", "deface")
FLOOR = 0.05  # suspects are collected down to this score; the tables apply thresholds above
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SOURCE_SCORES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
SHARES = (0.1, 0.2, 0.3, 0.4, 0.5)
CORES = (1.0, 0.8, 0.6, 0.4)

Suspect = tuple[int, float, tuple]  # frame, score, box


class Charged:
    """analyzer.regions memoized by frame, charging every call what the first one took."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.regions_of: Callable[..., Any] = analyzer.regions
        self.memo: dict[bytes, tuple[Any, float]] = {}
        self.charged = 0.0
        self.spent = 0.0
        analyzer.regions = self  # type: ignore[method-assign]

    def __call__(self, image: np.ndarray, video: bool = False) -> Any:
        key = hashlib.sha1(np.ascontiguousarray(image).data).digest()
        if key not in self.memo:
            t0 = time.monotonic()
            found = self.regions_of(image, video)
            self.spent += time.monotonic() - t0
            self.memo[key] = (found, time.monotonic() - t0)
        found, took = self.memo[key]
        self.charged += took
        return found


def timed(charged: Charged, fn: Callable[[], Any]) -> tuple[Any, float]:
    """fn(), and its seconds as if no detection had been cached."""
    c0, s0, t0 = charged.charged, charged.spent, time.monotonic()
    out = fn()
    wall = time.monotonic() - t0
    return out, wall - (charged.spent - s0) + (charged.charged - c0)


def judge(leaks: list[dict], suspects: list[tuple[int, tuple]]) -> tuple[int, int]:
    """(leaked face-frames flagged, frames flagged falsely) by these suspects."""
    by_frame: dict[int, list[tuple]] = {}
    for frame, box in suspects:
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


def core_shares(src: Path, rel: Path, faces: list[Suspect], scale: float
                ) -> list[dict[float, float]]:
    """Per source face, the unchanged share of its core at each of CORES."""
    by_frame: dict[int, list[int]] = {}
    for i, (frame, _, _) in enumerate(faces):
        by_frame.setdefault(frame, []).append(i)
    out: list[dict[float, float]] = [{} for _ in faces]
    for t, (sf, rf) in enumerate(zip(iter_frames(src), iter_frames(rel), strict=False)):
        if t not in by_frame:
            continue
        source = sf.image
        if source.shape != rf.image.shape:  # as check_release compares them
            source = cv2.resize(source, rf.image.shape[1::-1], interpolation=cv2.INTER_AREA)
        d = diff(rf.image, source)
        changed = d > change_level(d)
        for i in by_frame[t]:
            inner = scale_box(faces[i][2], 1 / scale)
            out[i] = {k: 1.0 - changed_share(changed, scale_box(inner, k)) for k in CORES}
    return out


def rest(release: list[Suspect], faces: list[Suspect], frame_faces: float, scale: float,
         at: float) -> list[tuple[int, tuple]]:
    """Release suspects from `at` up on no source face scoring `frame_faces` or more."""
    out = []
    for frame, score, box in release:
        if score < at:
            continue
        judged = [detector_box_of(b, scale) for f, s, b in faces
                  if f == frame and s >= frame_faces]
        inner = detector_box_of(box, scale)
        if judged and inside_matrix([inner], judged).max() >= 0.5:
            continue
        out.append((frame, box))
    return out


def detector_box_of(box: tuple, scale: float) -> tuple:
    return scale_box(tuple(box), 1 / scale)


def source_suspects(run: dict, score: float, share: float, core: float) -> list[tuple[int, tuple]]:
    return [(f, b) for (f, s, b), sh in zip(run["faces"], run["shares"], strict=True)
            if s >= score and sh[core] >= share]


def tables(rows: dict[str, dict], rescan_at: float, core: float) -> str:
    lines = ["| release | method | source score | unchanged share | face-frames | leaked | "
             "flagged | flagged % | frames flagged falsely | check s/frame |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def add(tool: str, method: str, sc: str, sh: str, flagged: int, false: int, secs: float
            ) -> None:
        row = rows[tool]
        pct = f"{100 * flagged / row['leaked']:.0f}%" if row["leaked"] else "n/a"
        lines.append(f"| {tool} | {method} | {sc} | {sh} | {row['face_frames']} | "
                     f"{row['leaked']} | {flagged} | {pct} | {false} of {row['frames']} | "
                     f"{secs / max(row['frames'], 1):.2f} |")

    for tool in TOOLS:
        row = rows[tool]
        for th in THRESHOLDS:
            fl = fa = 0
            for run in row["runs"]:
                f, x = judge(run["leaks"], [(fr, b) for fr, s, b in run["release"] if s >= th])
                fl, fa = fl + f, fa + x
            add(tool, "release", f"{th} (release)", "-", fl, fa, row["seconds_release"])
        for sc in SOURCE_SCORES:
            for sh in SHARES:
                fl = fa = 0
                for run in row["runs"]:
                    f, x = judge(run["leaks"], source_suspects(run, sc, sh, core))
                    fl, fa = fl + f, fa + x
                add(tool, f"source (core {core})", str(sc), str(sh), fl, fa,
                    row["seconds_source"])
        fl = fa = 0
        for run in row["runs"]:
            sus = source_suspects(run, SOURCE_FLAG, LEAK, core)
            sus += rest(run["release"], run["faces"], SOURCE_FLAG, run["scale"], rescan_at)
            f, x = judge(run["leaks"], sus)
            fl, fa = fl + f, fa + x
        add(tool, f"source+release {rescan_at}", str(SOURCE_FLAG), str(LEAK), fl, fa,
            row["seconds_source"] + row["seconds_release"])
    return "\n".join(lines)


def core_table(rows: dict[str, dict]) -> str:
    lines = ["| release | core | flagged | flagged % | frames flagged falsely |",
             "|---|---|---|---|---|"]
    for tool in TOOLS:
        row = rows[tool]
        for core in CORES:
            fl = fa = 0
            for run in row["runs"]:
                f, x = judge(run["leaks"], source_suspects(run, SOURCE_FLAG, LEAK, core))
                fl, fa = fl + f, fa + x
            lines.append(f"| {tool} | {core} | {fl} | {100 * fl / max(row['leaked'], 1):.0f}% "
                         f"| {fa} of {row['frames']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--clips", default="shirt,plaza", help="temporal.py clip names")
    ap.add_argument("--work", type=Path, default=None,
                    help="keep clips and releases here (releases found there are reused)")
    ap.add_argument("--judge-level", type=int, default=8,
                    help="levels a pixel must move to count as hidden (default %(default)s)")
    ap.add_argument("--rescan-at", type=float, default=FLAG,
                    help="release re-scan threshold beside the source method (default "
                         "%(default)s)")
    ap.add_argument("--core", type=float, default=None,
                    help="core size for the main table (default: the check's own)")
    ap.add_argument("--json", type=Path, help="write every suspect and leak here")
    a = ap.parse_args()
    from faceless.check.compare import CORE
    core = a.core if a.core is not None else CORE
    work = a.work or Path(tempfile.mkdtemp(prefix="check-leaks-"))
    specs = select_clips(a.clips)
    analyzer = Analyzer(scan_options(frozenset({Kind.FACE}), FLOOR))
    analyzer.setup()
    charged = Charged(analyzer)
    scale = analyzer.options.mask_scale
    rows: dict[str, dict] = {t: {"face_frames": 0, "leaked": 0, "frames": 0, "runs": [],
                                 "seconds_release": 0.0, "seconds_source": 0.0} for t in TOOLS}
    for seed in a.seeds:
        out = work / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        for gt_path in generate(specs, a.frames, seed, out):
            gt = json.loads(gt_path.read_text())
            src = out / gt["video"]
            for tool in TOOLS:
                rel = out / f"{src.stem}.{tool}.mp4"
                if not (a.work and rel.is_file()):
                    run_tool(parse_tool(tool), src, rel)
                sc = score_pixels(gt, src, rel, gt["clip"], threshold=a.judge_level)
                check = partial(check_release, rel, source=src, hide="face", threshold=FLOOR,
                                analyzer=analyzer)
                new, t_new = timed(charged, partial(check, leak=0.0))
                old, t_old = timed(charged, partial(check, leak=None))
                faces = [(f.frame, f.score or 0.0, f.box) for f in new.of(SUSPECT)
                         if f.unchanged is not None]
                row = rows[tool]
                row["face_frames"] += sc.face_frames
                row["leaked"] += sc.leaked
                row["frames"] += new.frames
                row["seconds_source"] += t_new
                row["seconds_release"] += t_old
                row["runs"].append({
                    "seed": seed, "clip": gt["clip"], "leaks": sc.leaks, "scale": scale,
                    "release": [(f.frame, f.score or 0.0, f.box) for f in old.of(SUSPECT)],
                    "faces": faces, "shares": core_shares(src, rel, faces, scale)})
                print(f"seed {seed} {gt['clip']} {tool}: {sc.leaked}/{sc.face_frames} "
                      f"leaked face-frames, {len(faces)} source faces >= {FLOOR}, "
                      f"{t_new:.1f}s with the source method, {t_old:.1f}s release alone",
                      file=sys.stderr)
    print(f"\nCPU: {cpu_model()}; seeds {a.seeds}, {a.frames} frames, clips {a.clips}; "
          f"the check's defaults: release threshold {FLAG}, source score {SOURCE_FLAG}, "
          f"unchanged share {LEAK}, core {core}\n")
    print(tables(rows, a.rescan_at, core))
    print("\nAt the check's source score and share, by core size:\n")
    print(core_table(rows))
    if a.json:
        a.json.write_text(json.dumps(rows, default=list))
    print(f"\nclips and releases in {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
