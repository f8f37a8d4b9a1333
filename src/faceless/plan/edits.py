"""Review edits of a plan: exempt, redact, approve, add and delete tracks, each kept in history.

Edits act on whole tracks (one person or plate over the video), never on an identity. Every
edit appends one entry to `plan.history` saying who, when (UTC), what, which track and frames,
and why, so the exemption log and the audit can show how a release came to be.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceless.core.errors import PlanError
from faceless.core.types import Box, Decision, Kind, Origin, Region
from faceless.plan.model import Plan

# The US FOIA exemptions a records officer cites most for faces and plates, and the two
# everyday reasons to leave someone visible. A case may bring its own list.
DEFAULT_REASONS = ("(b)(6)", "(b)(7)(C)", "requester", "public official")
REVIEWED, UNREVIEWED = "approved", "unreviewed"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(clock: Clock) -> str:
    return clock().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _record(plan: Plan, actor: str, action: str, track: int, frames: tuple[int, int] | None,
            clock: Clock, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"time": _stamp(clock), "actor": actor, "action": action,
                             "track": track,
                             "frames": None if frames is None else [frames[0], frames[1]]}
    entry.update({k: v for k, v in extra.items() if v is not None})
    plan.history.append(entry)
    return entry


def track_entry(plan: Plan, track: int) -> dict[str, Any] | None:
    """The summary dict of a track in `plan.tracks`, or None."""
    return next((t for t in plan.tracks if t.get("id") == track), None)


def track_frames(plan: Plan, track: int) -> list[int]:
    """Indices of the frames that hold a region of `track`, in order."""
    return [f.index for f in plan.frames if any(r.track_id == track for r in f.regions)]


def _span(plan: Plan, track: int) -> tuple[int, int]:
    frames = track_frames(plan, track)
    if not frames:
        raise PlanError(f"track {track} has no regions in this plan")
    return frames[0], frames[-1]


def _set_review(plan: Plan, track: int, state: str) -> None:
    entry = track_entry(plan, track)
    if entry is not None:
        entry["review"] = state


def _decide(plan: Plan, track: int, decision: Decision, reason: str) -> int:
    n = 0
    for f in plan.frames:
        new = []
        for r in f.regions:
            if r.track_id == track:
                r = replace(r, decision=decision, reason=reason)
                n += 1
            new.append(r)
        f.regions = new
    return n


def exempt_track(plan: Plan, track: int, reason: str, actor: str,
                 clock: Clock = utc_now) -> dict[str, Any]:
    """Keep every region of `track` visible, citing `reason`; returns the history entry."""
    if not reason.strip():
        raise PlanError("an exemption needs a reason code")
    span = _span(plan, track)
    n = _decide(plan, track, Decision.KEEP, reason.strip())
    _set_review(plan, track, REVIEWED)
    return _record(plan, actor, "exempt", track, span, clock, reason=reason.strip(), regions=n)


def redact_track(plan: Plan, track: int, actor: str, clock: Clock = utc_now) -> dict[str, Any]:
    """Hide every region of `track` again (undoes an exemption)."""
    span = _span(plan, track)
    n = _decide(plan, track, Decision.REDACT, "redacted on review")
    _set_review(plan, track, REVIEWED)
    return _record(plan, actor, "redact", track, span, clock, regions=n)


def approve_track(plan: Plan, track: int, actor: str, clock: Clock = utc_now) -> dict[str, Any]:
    """Mark `track` as checked by a person, its decisions unchanged."""
    span = _span(plan, track)
    _set_review(plan, track, REVIEWED)
    return _record(plan, actor, "approve", track, span, clock)


def next_track_id(plan: Plan) -> int:
    ids = {int(t["id"]) for t in plan.tracks if "id" in t}
    ids |= {r.track_id for f in plan.frames for r in f.regions if r.track_id is not None}
    return max(ids, default=0) + 1


def interpolate(keyframes: Mapping[int, Box], index: int) -> Box:
    """The box at frame `index`: linear between keyframes, held before the first and after
    the last (CVAT's rule, so a reviewer marks only where the motion changes)."""
    if not keyframes:
        raise PlanError("a manual region needs at least one box")
    keys = sorted(keyframes)
    if index <= keys[0]:
        return keyframes[keys[0]]
    if index >= keys[-1]:
        return keyframes[keys[-1]]
    after = next(k for k in keys if k >= index)
    before = max(k for k in keys if k <= index)
    if after == before:
        return keyframes[before]
    t = (index - before) / (after - before)
    a, b = keyframes[before], keyframes[after]
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t,
            a[2] + (b[2] - a[2]) * t, a[3] + (b[3] - a[3]) * t)


def _clip(box: Box, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
    y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
    return (x1, y1, x2, y2)


def add_manual(plan: Plan, keyframes: Mapping[int, Box], first: int, last: int, actor: str,
               kind: Kind = Kind.FACE, reason: str = "", clock: Clock = utc_now
               ) -> dict[str, Any]:
    """Add a region the detector missed as a new manual track over frames [first, last].

    Boxes are interpolated between keyframes (frame index -> box) and held beyond them.
    """
    if first > last:
        first, last = last, first
    indices = {f.index for f in plan.frames}
    if first not in indices or last not in indices:
        raise PlanError(f"frames {first} to {last} are not all in this plan")
    w, h = plan.source.width, plan.source.height
    boxes = {int(k): _clip(tuple(float(v) for v in b), w, h)  # type: ignore[arg-type]
             for k, b in keyframes.items()}
    for k, b in boxes.items():
        if b[2] - b[0] < 1 or b[3] - b[1] < 1:
            raise PlanError(f"the box at frame {k} is empty once clipped to the frame")
    track = next_track_id(plan)
    why = reason.strip() or "added on review"
    n = 0
    for f in plan.frames:
        if first <= f.index <= last:
            region = Region(interpolate(boxes, f.index), Kind(kind), 1.0, Origin.MANUAL,
                            Decision.REDACT, track, why)
            f.regions = [*f.regions, region]
            n += 1
    plan.tracks.append({"id": track, "kind": str(Kind(kind)), "first_frame": first,
                        "last_frame": last, "detected": 0, "added": 0, "manual": n,
                        "review": REVIEWED})
    keys = [{"frame": k, "box": [round(v, 2) for v in b]} for k, b in sorted(boxes.items())]
    return _record(plan, actor, "add", track, (first, last), clock, kind=str(Kind(kind)),
                   reason=why, regions=n, keyframes=keys)


def delete_manual(plan: Plan, track: int, actor: str, first: int | None = None,
                  last: int | None = None, clock: Clock = utc_now) -> dict[str, Any]:
    """Remove the manual regions of `track` (in [first, last] when given).

    Only regions a person added can be deleted: a detection is exempted, never removed, so
    the plan always shows what the machine found.
    """
    lo = first if first is not None else -1
    hi = last if last is not None else 1 << 62
    regions = [r for f in plan.frames for r in f.regions if r.track_id == track]
    if not regions:
        raise PlanError(f"track {track} has no regions in this plan")
    if any(r.origin is not Origin.MANUAL for r in regions):
        raise PlanError(f"track {track} was found by the machine; exempt it instead of "
                        "deleting it")
    n = 0
    for f in plan.frames:
        if lo <= f.index <= hi:
            kept = [r for r in f.regions if r.track_id != track]
            n += len(f.regions) - len(kept)
            f.regions = kept
    left = track_frames(plan, track)
    entry = track_entry(plan, track)
    if entry is not None:
        if left:
            entry.update(first_frame=left[0], last_frame=left[-1], manual=len(left))
        else:
            plan.tracks.remove(entry)
    span = (max(lo, 0), min(hi, plan.frames[-1].index if plan.frames else 0))
    return _record(plan, actor, "delete", track, span, clock, regions=n)


def original_path(plan_path: Path) -> Path:
    """`clip.plan.json` -> `clip.plan.orig.json`: the machine's plan, kept before any edit."""
    name = plan_path.name
    stem = name[:-len(".json")] if name.endswith(".json") else name
    return plan_path.with_name(f"{stem}.orig.json")


def keep_original(plan_path: Path) -> Path:
    """Copy the plan file to its original's name once; never overwrite an existing one."""
    orig = original_path(plan_path)
    if orig.exists():
        return orig
    fd, tmp = tempfile.mkstemp(prefix=f".{orig.name}.", suffix=".tmp", dir=plan_path.parent)
    os.close(fd)
    try:
        shutil.copyfile(plan_path, tmp)
        # A hard link fails if the name exists, so a copy made meanwhile is never replaced.
        os.link(tmp, orig)
    except FileExistsError:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    return orig


def save_reviewed(plan: Plan, plan_path: Path) -> None:
    """Keep the machine's plan once beside it, then write the edited plan atomically."""
    plan_path = Path(plan_path)
    if plan_path.exists():
        keep_original(plan_path)
    plan.save(plan_path)


__all__ = ["DEFAULT_REASONS", "REVIEWED", "UNREVIEWED", "add_manual", "approve_track",
           "delete_manual", "exempt_track", "interpolate", "keep_original", "next_track_id",
           "original_path", "redact_track", "save_reviewed", "track_entry", "track_frames"]
