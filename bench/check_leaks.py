"""How many real leaks `faceless check` flags: clips with known faces, released by faceless and
deface and checked with their source, each release's leaked face-frames judged from the labels.

The clips are bench/temporal.py's (real faces moving over real footage, exact per-frame boxes),
made with its helpers. A labelled face leaks in a frame when under 70% of its box changed by
more than --judge-level levels from the source (temporal.py's pixel judge at 8 levels, the
level the check itself calls changed; its own 24 counts faceless's blur of low-contrast faces
as leaks). Each release is checked by `check_release` with its defaults and the source, faces
only; the labels are used to judge the check, never by it.

A leaked face-frame is flagged when a suspect of that frame overlaps the face's box; a frame is
flagged falsely when it has a suspect that overlaps no leaked face. Three releases per clip:
faceless's, deface's, and a clean one (a plan of the labels rendered by faceless, each face's
box filled), which leaks no labelled face: every flag on it is false, or a real passer-by of
the background footage (they are not labelled).

Detections depend on the pixels alone: they are cached by frame (the releases share their
source's frames, and --detections keeps them across runs, so held-out seeds can be prepared
while the check is still being tuned); seconds per frame are charged as when first computed.

    python bench/check_leaks.py --seeds 1 2 --work /tmp/leaks                  # tuning
    python bench/check_leaks.py --seeds $(seq 11 18) --work /tmp/leaks --prepare
    python bench/check_leaks.py --seeds $(seq 11 18) --work /tmp/leaks         # held out
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal import cpu_model, generate, parse_tool, run_tool, score_pixels, select_clips

from faceless.analyze.analyzer import Analyzer
from faceless.anonymize.operators import Operator, OperatorSpec, Shape
from faceless.api import render_plan
from faceless.check import SUSPECT, check_release
from faceless.check.scan import SCAN_FLOOR, scan_options
from faceless.core.digest import sha256_file
from faceless.core.geometry import intersection_matrix, scale_box
from faceless.core.types import Kind, Origin, Region
from faceless.media.video import iter_frames, probe_video
from faceless.options import Options
from faceless.plan.model import FramePlan, Plan, SourceInfo

TOOLS = ("faceless", "deface", "clean")
# The clean release hides each labelled box grown this much (the whole head), as a box filled
# with a colour no face has: every pixel of every labelled face changes.
CLEAN_GROW = 2.0
CLEAN_FILL = OperatorSpec(Operator.FILL, Shape.BOX, color=(255, 0, 255))


class Charged:
    """analyzer.regions memoized by frame (and kept in a file), charging every call what
    the first one took."""

    def __init__(self, analyzer: Analyzer, store: Path | None) -> None:
        self.regions_of: Callable[..., Any] = analyzer.regions
        self.store = store
        self.memo: dict[bytes, tuple[Any, float]] = {}
        if store is not None and store.is_file():
            self.memo = pickle.loads(store.read_bytes())
        self.fresh = 0
        self.charged = 0.0
        self.spent = 0.0
        analyzer.regions = self  # type: ignore[method-assign]

    def __call__(self, image: np.ndarray, video: bool = False) -> Any:
        key = hashlib.sha1(np.ascontiguousarray(image).data).digest()
        if key not in self.memo:
            t0 = time.monotonic()
            found = self.regions_of(image, video)
            self.memo[key] = (found, time.monotonic() - t0)
            self.spent += self.memo[key][1]
            self.fresh += 1
        found, took = self.memo[key]
        self.charged += took
        return found

    def save(self) -> None:
        if self.store is not None and self.fresh:
            tmp = self.store.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(self.memo))
            tmp.replace(self.store)
            self.fresh = 0


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


def clean_release(gt: dict[str, Any], src: Path, dst: Path) -> None:
    """Render `src` with every labelled face hidden: a plan of the labels, faceless's render."""
    info = probe_video(src)
    by_frame: dict[int, list[Region]] = {}
    for r in gt["boxes"]:
        if r["visible"]:
            box = scale_box((r["x1"], r["y1"], r["x2"], r["y2"]), CLEAN_GROW)
            by_frame.setdefault(r["frame"], []).append(Region(box, Kind.FACE,
                                                              origin=Origin.MANUAL))
    frames = [FramePlan(vf.ref.index, vf.ref.pts, by_frame.get(vf.ref.index, []))
              for vf in iter_frames(src)]
    source = SourceInfo(str(src), sha256_file(src), "video", info.width, info.height,
                        info.time_base, len(frames))
    opts = Options(overwrite=True, operator=CLEAN_FILL)
    render_plan(Plan(source, frames, opts.settings()), dst, options=opts)


@dataclass
class Row:
    """One release tool's results on one seed."""

    face_frames: int = 0
    leaked: int = 0
    flagged: int = 0
    false: int = 0
    frames: int = 0
    seconds: float = 0.0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Row) -> None:
        for k in ("face_frames", "leaked", "flagged", "false", "frames"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.seconds += other.seconds
        self.misses += other.misses

    @property
    def pct(self) -> float | None:
        return 100 * self.flagged / self.leaked if self.leaked else None


def check_one(gt: dict[str, Any], src: Path, rel: Path, analyzer: Analyzer, charged: Charged,
              level: int) -> Row:
    sc = score_pixels(gt, src, rel, gt["clip"], threshold=level)
    c0, s0, t0 = charged.charged, charged.spent, time.monotonic()
    res = check_release(rel, source=src, hide="face", analyzer=analyzer)
    # As if uncached: wall time less the detections computed now, plus all detections charged.
    secs = time.monotonic() - t0 - (charged.spent - s0) + (charged.charged - c0)
    sus = [(f.frame, tuple(f.box)) for f in res.of(SUSPECT)
           if f.frame is not None and f.box is not None]
    flagged, false = judge(sc.leaks, sus)
    misses = [lk for lk in sc.leaks
              if not any(f == lk["frame"] and intersection_matrix([lk["box"]], [b]).max() > 0
                         for f, b in sus)]
    return Row(sc.face_frames, sc.leaked, flagged, false, res.frames, secs, misses)


def fmt_pct(r: Row) -> str:
    return "n/a" if r.pct is None else f"{r.pct:.0f}%"


def spread(rows: list[Row]) -> str:
    pcts = [r.pct for r in rows if r.pct is not None]
    if len(pcts) < 2:
        return "-"
    return (f"{statistics.mean(pcts):.0f}% ± {statistics.stdev(pcts):.0f} "
            f"(min {min(pcts):.0f}%, max {max(pcts):.0f}%)")


def report(per: dict[str, dict[int, Row]], seeds: list[int]) -> str:
    lines = ["| release | seed | face-frames | leaked | flagged | flagged % | frames flagged "
             "falsely |", "|---|---|---|---|---|---|---|"]
    for tool in TOOLS:
        for seed in seeds:
            r = per[tool][seed]
            lines.append(f"| {tool} | {seed} | {r.face_frames} | {r.leaked} | {r.flagged} | "
                         f"{fmt_pct(r)} | {r.false} of {r.frames} |")
    lines += ["", "| release | seeds | leaked face-frames | flagged | per-seed mean ± sd | "
              "frames flagged falsely | check s/frame |", "|---|---|---|---|---|---|---|"]
    for tool in TOOLS:
        total = Row()
        for seed in seeds:
            total.add(per[tool][seed])
        lines.append(f"| {tool} | {len(seeds)} | {total.leaked} | {total.flagged} "
                     f"({fmt_pct(total)}) | {spread([per[tool][s] for s in seeds])} | "
                     f"{total.false} of {total.frames} | "
                     f"{total.seconds / max(total.frames, 1):.2f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--clips", default="shirt,plaza", help="temporal.py clip names")
    ap.add_argument("--work", type=Path, default=None,
                    help="keep clips, releases and detections here (reused when found)")
    ap.add_argument("--detections", type=Path, default=None,
                    help="detection cache (default WORK/detections.pkl)")
    ap.add_argument("--prepare", action="store_true",
                    help="only make clips and releases and detect on the sources")
    ap.add_argument("--judge-level", type=int, default=8,
                    help="levels a pixel must move to count as hidden (default %(default)s)")
    ap.add_argument("--json", type=Path, help="write per-seed rows and every missed leak here")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="check-leaks-"))
    specs = select_clips(a.clips)
    analyzer = Analyzer(scan_options(frozenset({Kind.FACE}), SCAN_FLOOR))
    analyzer.setup()
    store = a.detections or work / f"detections-{SCAN_FLOOR}.pkl"
    work.mkdir(parents=True, exist_ok=True)
    charged = Charged(analyzer, store)
    per: dict[str, dict[int, Row]] = {t: {} for t in TOOLS}
    for seed in a.seeds:
        out = work / f"seed{seed}-{a.frames}"
        out.mkdir(parents=True, exist_ok=True)
        names = [out / f"{s.name}.json" for s in specs]
        gts = names if all(p.is_file() for p in names) else generate(specs, a.frames, seed, out)
        for tool in TOOLS:
            per[tool][seed] = Row()
        for gt_path in gts:
            gt = json.loads(gt_path.read_text())
            src = out / gt["video"]
            for tool in TOOLS:
                rel = out / f"{src.stem}.{tool}.mp4"
                if not rel.is_file():
                    if tool == "clean":
                        clean_release(gt, src, rel)
                    else:
                        run_tool(parse_tool(tool), src, rel)
            if a.prepare:
                for vf in iter_frames(src):
                    charged(vf.image)
                charged.save()
                print(f"seed {seed} {gt['clip']}: prepared", file=sys.stderr)
                continue
            for tool in TOOLS:
                rel = out / f"{src.stem}.{tool}.mp4"
                row = check_one(gt, src, rel, analyzer, charged, a.judge_level)
                for m in row.misses:
                    m["seed"], m["tool"] = seed, tool
                per[tool][seed].add(row)
                charged.save()
                print(f"seed {seed} {gt['clip']} {tool}: {row.flagged}/{row.leaked} leaked "
                      f"face-frames flagged, {row.false} of {row.frames} frames falsely",
                      file=sys.stderr)
    if a.prepare:
        return 0
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nCPU: {cpu_model()}; load average {load}; seeds {a.seeds}, {a.frames} frames, "
          f"clips {a.clips}; judged at {a.judge_level} levels\n")
    print(report(per, a.seeds))
    if a.json:
        a.json.write_text(json.dumps({t: {s: r.__dict__ for s, r in rows.items()}
                                      for t, rows in per.items()}, default=list))
    print(f"\nclips and releases in {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
