"""Low-score candidates a run did not accept: noted in the plan, shown as warnings, and
promoted to a hidden region by a reviewer.

A detector's candidates (scores between its candidate threshold and its threshold) are kept
only where they continue a track; the rest hide nothing. A face the detector barely saw is
where a leak hides, so the plan keeps the strongest few per frame that no region covers, and
the studio shows runs of them on the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from faceless.core.errors import PlanError
from faceless.core.types import Box, Kind, Region
from faceless.plan.edits import Clock, add_manual, utc_now
from faceless.plan.model import Plan

# Per frame: a few is enough to point a reviewer at a face; all of them would bloat a plan.
KEEP_PER_FRAME = 2
# A candidate this much inside a region (of its own area) is covered: nothing to warn about.
COVERED = 0.5
# Runs shorter than this are not shown: on street footage most candidates flicker for a
# frame or two, and a list of hundreds is one nobody reads (docs/decisions/0022).
MIN_RUN = 3


def _inside(a: Box, b: Box) -> float:
    """The share of box `a`'s area that lies inside box `b`."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = (a[2] - a[0]) * (a[3] - a[1])
    return max(w, 0.0) * max(h, 0.0) / area if area > 0 else 1.0


def uncovered(candidates: Iterable[Region], regions: Iterable[Region]) -> list[Region]:
    """The candidates that no region (hidden or kept) covers, strongest first."""
    boxes = [r.box for r in regions]
    return sorted((c for c in candidates if not any(_inside(c.box, b) >= COVERED
                                                    for b in boxes)),
                  key=lambda c: -c.score)


def note_candidates(plan: Plan, found: Mapping[int, Iterable[Region]],
                    keep: int = KEEP_PER_FRAME) -> int:
    """Keep in each frame of `plan` its strongest `keep` candidates from `found` (frame index
    -> candidates) that no region of the frame covers; returns how many were kept."""
    n = 0
    for f in plan.frames:
        if f.index in found:
            f.candidates = uncovered(found[f.index], f.regions)[:keep]
            n += len(f.candidates)
    return n


def _overlap(a: Box, b: Box) -> bool:
    return max(_inside(a, b), _inside(b, a)) >= COVERED


def candidate_runs(plan: Plan) -> list[dict[str, Any]]:
    """Uncovered candidates joined over consecutive frames where they overlap: one entry per
    run with its first and last frame, best score and box per frame."""
    runs: list[dict[str, Any]] = []
    open_runs: list[dict[str, Any]] = []
    for f in plan.frames:
        here = uncovered(f.candidates, f.regions)
        still: list[dict[str, Any]] = []
        for c in here:
            run = next((r for r in open_runs if r["kind"] == str(c.kind)
                        and _overlap(r["last_box"], c.box)), None)
            if run is None:
                run = {"kind": str(c.kind), "first": f.index, "boxes": {}, "score": 0.0}
                runs.append(run)
            else:
                open_runs.remove(run)
            run["last"], run["last_box"] = f.index, c.box
            run["boxes"][f.index] = [round(v, 1) for v in c.box]
            run["score"] = max(run["score"], round(c.score, 3))
            still.append(run)
        open_runs = still
    for run in runs:
        del run["last_box"]
    return runs


def candidate_warnings(plan: Plan, min_run: int = MIN_RUN) -> list[dict[str, Any]]:
    """Coverage warnings ("low") for the runs of candidates nothing hides, over at least
    `min_run` frames."""
    out = []
    for run in candidate_runs(plan):
        if len(run["boxes"]) < min_run:
            continue
        first, last = run["first"], run["last"]
        where = f"frame {first}" if first == last else f"frames {first}–{last}"
        out.append({"type": "low", "track": None, "kind": run["kind"], "first": first,
                    "last": last, "frames": len(run["boxes"]), "score": run["score"],
                    "boxes": run["boxes"],
                    "message": f"a {run['kind']} the detector scored only {run['score']:.2f} "
                               f"in {where} is not hidden"})
    return out


def promote(plan: Plan, index: int, actor: str, clock: Clock = utc_now,
            min_run: int = MIN_RUN) -> dict[str, Any]:
    """Hide the strongest unhidden candidate of frame `index` that a warning shows, over its
    whole run, as a new manual track (its boxes as keyframes); returns the history entry."""
    run = next((r for r in candidate_runs(plan)
                if index in r["boxes"] and len(r["boxes"]) >= min_run), None)
    if run is None:
        raise PlanError(f"frame {index} has no low-score candidate left to hide")
    keys = {int(k): tuple(b) for k, b in run["boxes"].items()}
    why = f"low-score {run['kind']} ({run['score']:.2f}) hidden on review"
    return add_manual(plan, keys, run["first"], run["last"], actor,
                      kind=Kind(run["kind"]), reason=why, clock=clock)


__all__ = ["KEEP_PER_FRAME", "MIN_RUN", "candidate_runs", "candidate_warnings", "note_candidates",
           "promote", "uncovered"]
