"""Review edits of a plan: exempt, redact, approve, add, reshape, delete, split and merge
tracks, each kept in history, and the coverage warnings a reviewer should look at.

Edits act on whole tracks (one person or plate over the video), never on an identity. Every
edit appends one entry to `plan.history` saying who, when (UTC), what, which track and frames,
and why, so the exemption log and the audit can show how a release came to be.
"""

from __future__ import annotations

import math
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
from faceless.plan.model import Plan, audio_range

# The US FOIA exemptions a records officer cites most for faces and plates, and the two
# everyday reasons to leave someone visible. A case may bring its own list.
DEFAULT_REASONS = ("(b)(6)", "(b)(7)(C)", "requester", "public official")
REVIEWED, UNREVIEWED = "approved", "unreviewed"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(clock: Clock) -> str:
    return clock().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _record(plan: Plan, actor: str, action: str, track: int | None, frames: tuple[int, int] | None,
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


def _region_at(plan: Plan, index: int, n: int) -> tuple[int, Region]:
    frame = next((f for f in plan.frames if f.index == index), None)
    if frame is None:
        raise PlanError(f"no frame {index} in this plan")
    if not 0 <= n < len(frame.regions):
        raise PlanError(f"frame {index} has no region {n} (it has {len(frame.regions)})")
    return plan.frames.index(frame), frame.regions[n]


def decide_region(plan: Plan, index: int, n: int, decision: Decision, reason: str, actor: str,
                  clock: Clock = utc_now) -> dict[str, Any]:
    """Keep region `n` of frame `index` visible (`decision` KEEP, citing `reason`) or hide it
    again: one region, not its track (a photo's regions have none)."""
    at, region = _region_at(plan, index, n)
    if decision is Decision.KEEP and not reason.strip():
        raise PlanError("an exemption needs a reason code")
    why = reason.strip() if decision is Decision.KEEP else "redacted on review"
    regions = list(plan.frames[at].regions)
    regions[n] = replace(region, decision=decision, reason=why)
    plan.frames[at].regions = regions
    return _record(plan, actor, "exempt" if decision is Decision.KEEP else "redact",
                   region.track_id, (index, index), clock, region=n,
                   kind=str(region.kind), reason=why if decision is Decision.KEEP else None,
                   regions=1)


def reshape_region(plan: Plan, index: int, n: int, box: Box, actor: str,
                   clock: Clock = utc_now) -> dict[str, Any]:
    """Move or resize region `n` of frame `index` alone (a photo's region has no track)."""
    at, region = _region_at(plan, index, n)
    w, h = plan.source.width, plan.source.height
    new = _clip(tuple(float(v) for v in box), w, h)  # type: ignore[arg-type]
    if new[2] - new[0] < 1 or new[3] - new[1] < 1:
        raise PlanError(f"the box at frame {index} is empty once clipped to the frame")
    regions = list(plan.frames[at].regions)
    regions[n] = replace(region, box=new)
    plan.frames[at].regions = regions
    return _record(plan, actor, "reshape", region.track_id, (index, index), clock, region=n,
                   box=[round(v, 2) for v in new], regions=1)


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
    keys = _key_list(boxes)
    plan.tracks.append({"id": track, "kind": str(Kind(kind)), "first_frame": first,
                        "last_frame": last, "detected": 0, "added": 0, "manual": n,
                        "review": REVIEWED, "keyframes": keys})
    return _record(plan, actor, "add", track, (first, last), clock, kind=str(Kind(kind)),
                   reason=why, regions=n, keyframes=keys)


def dismiss(plan: Plan, first: int, last: int, kind: str, reason: str, actor: str,
            clock: Clock = utc_now) -> dict[str, Any]:
    """Record that a person looked at frames [first, last] and chose to hide nothing there;
    the plan's regions are untouched, only its history says so (and why)."""
    why = reason.strip()
    if not why:
        raise PlanError("a dismissal needs a reason")
    return _record(plan, actor, "dismiss", None, (min(first, last), max(first, last)), clock,
                   kind=kind, reason=why)


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
    if n == 0:
        raise PlanError(f"track {track} has no regions in frames {lo} to {hi}")
    entry = track_entry(plan, track)
    if entry is not None:
        if track_frames(plan, track):
            _refresh(plan, track)
        else:
            plan.tracks.remove(entry)
    span = (max(lo, 0), min(hi, plan.frames[-1].index if plan.frames else 0))
    return _record(plan, actor, "delete", track, span, clock, regions=n)


# reshaping, splitting and merging tracks ------------------------------------------------------
def _regions(plan: Plan, track: int) -> list[tuple[int, Region]]:
    return [(f.index, r) for f in plan.frames for r in f.regions if r.track_id == track]


def _refresh(plan: Plan, track: int) -> dict[str, Any]:
    """Bring the summary of `track` in `plan.tracks` up to date with its regions (made if
    missing), keeping its review state and keyframes."""
    found = _regions(plan, track)
    entry = track_entry(plan, track)
    if entry is None:
        entry = {"id": track, "kind": str(found[0][1].kind), "review": UNREVIEWED}
        plan.tracks.append(entry)
    entry.update(first_frame=found[0][0], last_frame=found[-1][0],
                 detected=sum(r.origin is Origin.DETECTED for _, r in found),
                 added=sum(r.origin is Origin.TRACKED for _, r in found),
                 manual=sum(r.origin is Origin.MANUAL for _, r in found))
    return entry


def _key_list(boxes: Mapping[int, Box]) -> list[dict[str, Any]]:
    return [{"frame": k, "box": [round(v, 2) for v in b]} for k, b in sorted(boxes.items())]


def keyframes_of(plan: Plan, track: int) -> dict[int, Box]:
    """The keyframes of a manual track (frame index -> box): those recorded when it was drawn
    and reshaped or, for a track without any, every frame's box (so a reshape changes only
    the frames it must)."""
    entry = track_entry(plan, track) or {}
    keys = entry.get("keyframes")
    if keys:
        return {int(k["frame"]): tuple(float(v) for v in k["box"])  # type: ignore[misc]
                for k in keys}
    return {i: r.box for i, r in _regions(plan, track)}


def _pinned(plan: Plan, track: int, lo: int, hi: int) -> dict[int, Box]:
    """The keyframes of `track` within [lo, hi], plus its boxes at the first and last of its
    frames there, so re-interpolating that part alone gives the same boxes."""
    found = [(i, r) for i, r in _regions(plan, track) if lo <= i <= hi]
    keys = {k: b for k, b in keyframes_of(plan, track).items() if lo <= k <= hi}
    for i, r in (found[0], found[-1]):
        keys.setdefault(i, r.box)
    return keys


def _manual_only(plan: Plan, track: int, what: str) -> list[tuple[int, Region]]:
    found = _regions(plan, track)
    if not found:
        raise PlanError(f"track {track} has no regions in this plan")
    if any(r.origin is not Origin.MANUAL for _, r in found):
        raise PlanError(f"track {track} was found by the machine; only a track drawn by hand "
                        f"can be {what}")
    return found


def set_keyframe(plan: Plan, track: int, index: int, box: Box, actor: str,
                 clock: Clock = utc_now) -> dict[str, Any]:
    """Move or resize the box of manual `track` at frame `index`, which becomes a keyframe;
    its other frames are interpolated again between its keyframes."""
    found = _manual_only(plan, track, "reshaped")
    if index not in {i for i, _ in found}:
        raise PlanError(f"track {track} has no region at frame {index}")
    w, h = plan.source.width, plan.source.height
    new = _clip(tuple(float(v) for v in box), w, h)  # type: ignore[arg-type]
    if new[2] - new[0] < 1 or new[3] - new[1] < 1:
        raise PlanError(f"the box at frame {index} is empty once clipped to the frame")
    keys = keyframes_of(plan, track)
    keys[index] = new
    changed = 0
    for f in plan.frames:
        regions = []
        for r in f.regions:
            if r.track_id == track:
                b = interpolate(keys, f.index)
                if b != r.box:
                    r = replace(r, box=b)
                    changed += 1
            regions.append(r)
        f.regions = regions
    entry = _refresh(plan, track)
    entry["keyframes"] = _key_list(keys)
    entry["review"] = REVIEWED
    return _record(plan, actor, "keyframe", track, (index, index), clock,
                   box=[round(v, 2) for v in new], regions=changed)


def reshape_track(plan: Plan, track: int, index: int, box: Box, actor: str,
                  first: int | None = None, last: int | None = None,
                  clock: Clock = utc_now) -> dict[str, Any]:
    """Move or resize the box of `track` at frame `index` to `box`, and every box of the
    track in frames [first, last] (default: that frame alone) the same way: each keeps its
    own centre moved by the same offset and its size scaled by the same factors, so a box
    that follows a face keeps following it. Any track, found by the machine or drawn."""
    found = _regions(plan, track)
    if not found:
        raise PlanError(f"track {track} has no regions in this plan")
    at = {i: r for i, r in found}
    if index not in at:
        raise PlanError(f"track {track} has no region at frame {index}")
    lo = index if first is None else first
    hi = (index if first is None else lo) if last is None else last
    lo, hi = min(lo, hi), max(lo, hi)
    if not lo <= index <= hi:
        raise PlanError(f"frame {index} is not in frames {lo} to {hi}")
    w, h = plan.source.width, plan.source.height
    new = _clip(tuple(float(v) for v in box), w, h)  # type: ignore[arg-type]
    if new[2] - new[0] < 1 or new[3] - new[1] < 1:
        raise PlanError(f"the box at frame {index} is empty once clipped to the frame")
    old = at[index].box
    sx = (new[2] - new[0]) / max(old[2] - old[0], 1e-6)
    sy = (new[3] - new[1]) / max(old[3] - old[1], 1e-6)
    dx = (new[0] + new[2] - old[0] - old[2]) / 2
    dy = (new[1] + new[3] - old[1] - old[3]) / 2

    def moved(b: Box) -> Box:
        cx, cy = (b[0] + b[2]) / 2 + dx, (b[1] + b[3]) / 2 + dy
        hw, hh = (b[2] - b[0]) * sx / 2, (b[3] - b[1]) * sy / 2
        return _clip((cx - hw, cy - hh, cx + hw, cy + hh), w, h)

    boxes = {i: (new if i == index else moved(r.box)) for i, r in found if lo <= i <= hi}
    for i, b in boxes.items():
        if b[2] - b[0] < 1 or b[3] - b[1] < 1:
            raise PlanError(f"the box at frame {i} would leave the frame; reshape fewer frames")
    manual = all(r.origin is Origin.MANUAL for _, r in found)
    if manual:
        # Keyframes that give these boxes again: the old ones moved inside the range, the
        # new boxes at its ends, and the old boxes just beside it (so frames outside stay).
        inside = sorted(boxes)
        keys = {k: (moved(b) if lo <= k <= hi else b)
                for k, b in keyframes_of(plan, track).items()}
        keys.update({inside[0]: boxes[inside[0]], inside[-1]: boxes[inside[-1]], index: new})
        beside = [i for i, _ in found if i < lo][-1:] + [i for i, _ in found if i > hi][:1]
        keys.update({i: at[i].box for i in beside})
    for f in plan.frames:
        if f.index in boxes:
            f.regions = [replace(r, box=boxes[f.index]) if r.track_id == track else r
                         for r in f.regions]
    entry = _refresh(plan, track)
    if manual:
        entry["keyframes"] = _key_list(keys)
    entry["review"] = REVIEWED
    return _record(plan, actor, "reshape", track, (min(boxes), max(boxes)), clock,
                   box=[round(v, 2) for v in new], at=index, regions=len(boxes))


def split_track(plan: Plan, track: int, at: int, actor: str,
                clock: Clock = utc_now) -> dict[str, Any]:
    """Cut `track` before frame `at`: its regions from `at` on become a new track (new id).

    Tracks group regions of one object over time, never an identity: splitting fixes a
    tracker that carried one box over onto someone else."""
    found = _regions(plan, track)
    if not found:
        raise PlanError(f"track {track} has no regions in this plan")
    before = [i for i, _ in found if i < at]
    after = [i for i, _ in found if i >= at]
    if not before or not after:
        raise PlanError(f"track {track} has no regions on both sides of frame {at}; nothing "
                        "to split")
    manual = all(r.origin is Origin.MANUAL for _, r in found)
    if manual:
        head, tail = _pinned(plan, track, -1, at - 1), _pinned(plan, track, at, 1 << 62)
    new = next_track_id(plan)
    for f in plan.frames:
        if f.index >= at:
            f.regions = [replace(r, track_id=new) if r.track_id == track else r
                         for r in f.regions]
    old = _refresh(plan, track)
    entry = _refresh(plan, new)
    entry["review"] = old.get("review", UNREVIEWED)
    if manual:
        old["keyframes"], entry["keyframes"] = _key_list(head), _key_list(tail)
    else:
        old.pop("keyframes", None)
    return _record(plan, actor, "split", track, (after[0], after[-1]), clock, new_track=new,
                   regions=len(after))


def merge_tracks(plan: Plan, track: int, other: int, actor: str,
                 clock: Clock = utc_now) -> dict[str, Any]:
    """Give the regions of `other` the id of `track`: two pieces of one object's path that
    the tracker lost in between. Both must be of one kind and apart in time."""
    if track == other:
        raise PlanError("a track cannot be merged with itself")
    a, b = _regions(plan, track), _regions(plan, other)
    for t, found in ((track, a), (other, b)):
        if not found:
            raise PlanError(f"track {t} has no regions in this plan")
    kinds = {r.kind for _, r in a + b}
    if len(kinds) > 1:
        raise PlanError(f"tracks {track} and {other} are of different kinds; only tracks of "
                        "one kind can be merged")
    if not (a[-1][0] < b[0][0] or b[-1][0] < a[0][0]):
        raise PlanError(f"tracks {track} ({a[0][0]}–{a[-1][0]}) and {other} "
                        f"({b[0][0]}–{b[-1][0]}) overlap in time; split one first")
    manual = all(r.origin is Origin.MANUAL for _, r in a + b)
    if manual:
        keys = {**_pinned(plan, track, -1, 1 << 62), **_pinned(plan, other, -1, 1 << 62)}
    entry_a, entry_b = track_entry(plan, track) or {}, track_entry(plan, other) or {}
    review = (REVIEWED if entry_a.get("review") == entry_b.get("review") == REVIEWED
              else UNREVIEWED)
    for f in plan.frames:
        f.regions = [replace(r, track_id=track) if r.track_id == other else r
                     for r in f.regions]
    if entry_b:
        plan.tracks.remove(entry_b)
    entry = _refresh(plan, track)
    entry["review"] = review
    if manual:
        entry["keyframes"] = _key_list(keys)
    else:
        entry.pop("keyframes", None)
    span = (min(a[0][0], b[0][0]), max(a[-1][0], b[-1][0]))
    return _record(plan, actor, "merge", track, span, clock, merged=other, regions=len(b))


# audio -------------------------------------------------------------------------------------
def add_audio(plan: Plan, start: float, end: float, action: str, actor: str, reason: str = "",
              clock: Clock = utc_now) -> dict[str, Any]:
    """Silence ("mute") or bleep the audio from `start` to `end` seconds (the frames' clock)
    in the release; `render` applies it when the release keeps its audio."""
    if plan.source.media != "video":
        raise PlanError("only a video has audio to mute")
    if start > end:
        start, end = end, start
    # Whole microseconds, rounded outwards: the range never loses a sample it was given.
    why = reason.strip() or ("bleeped" if action == "bleep" else "muted") + " on review"
    try:
        entry = audio_range({"id": max((int(a.get("id", 0)) for a in plan.audio), default=0)
                             + 1, "start": math.floor(float(start) * 1e6) / 1e6,
                             "end": math.ceil(float(end) * 1e6) / 1e6,
                             "action": action, "reason": why})
    except ValueError as err:
        raise PlanError(str(err)) from err
    plan.audio.append(entry)
    plan.audio.sort(key=lambda a: (a["start"], a["end"]))
    return _record(plan, actor, action, None, None, clock, audio=entry["id"],
                   seconds=[entry["start"], entry["end"]], reason=why)


def remove_audio(plan: Plan, audio_id: int, actor: str, clock: Clock = utc_now
                 ) -> dict[str, Any]:
    """Take audio range `audio_id` out again: its sound is released as it is."""
    entry = next((a for a in plan.audio if a.get("id") == audio_id), None)
    if entry is None:
        raise PlanError(f"no audio range {audio_id} in this plan")
    plan.audio.remove(entry)
    return _record(plan, actor, "unmute", None, None, clock, audio=audio_id,
                   seconds=[entry["start"], entry["end"]])


# coverage warnings ------------------------------------------------------------------------
def _touch(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def coverage_warnings(plan: Plan) -> list[dict[str, Any]]:
    """Where a leak may hide, in frame order: frames inside a track with no region of it
    ("gap"), and face regions that neither neighbouring frame has ("lone": a detection that
    flickered on for one frame, so the face is likely unhidden next to it). A region with
    no track counts as lone when no face region of either neighbour overlaps it."""
    out: list[dict[str, Any]] = []
    order = [f.index for f in plan.frames]
    pos = {index: p for p, index in enumerate(order)}
    spans: dict[int, list[int]] = {}
    kinds: dict[int, str] = {}
    for f in plan.frames:
        for r in f.regions:
            if r.track_id is not None:
                spans.setdefault(r.track_id, []).append(pos[f.index])
                kinds.setdefault(r.track_id, str(r.kind))
    for track, ps in spans.items():
        have, top = set(ps), max(ps)
        run: list[int] = []
        for p in range(min(ps), top + 2):
            if p <= top and p not in have:
                run.append(p)
            elif run:
                first, last = order[run[0]], order[run[-1]]
                where = f"frame {first}" if first == last else f"frames {first}–{last}"
                out.append({"type": "gap", "track": track, "kind": kinds[track],
                            "first": first, "last": last, "frames": len(run),
                            "message": f"track #{track} ({kinds[track]}) has no region in "
                                       f"{where}"})
                run = []
    if len(plan.frames) > 1:
        for p, f in enumerate(plan.frames):
            near = [plan.frames[q] for q in (p - 1, p + 1) if 0 <= q < len(plan.frames)]
            for r in f.regions:
                if r.kind is not Kind.FACE:
                    continue
                if r.track_id is not None:
                    alone = not any(n.track_id == r.track_id for g in near for n in g.regions)
                else:
                    alone = not any(n.kind is Kind.FACE and _touch(n.box, r.box)
                                    for g in near for n in g.regions)
                if alone:
                    who = "a face with no track" if r.track_id is None else \
                        f"face track #{r.track_id}"
                    out.append({"type": "lone", "track": r.track_id, "kind": str(r.kind),
                                "first": f.index, "last": f.index, "frames": 1,
                                "box": [round(v, 2) for v in r.box],
                                "message": f"{who} appears in frame {f.index} only, not in "
                                           "the frames beside it"})
    out.sort(key=lambda w: (w["first"], w["type"], w["track"] if w["track"] is not None
                            else -1))
    return out


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


__all__ = ["DEFAULT_REASONS", "REVIEWED", "UNREVIEWED", "add_audio", "add_manual",
           "approve_track", "coverage_warnings", "decide_region", "delete_manual", "dismiss",
           "exempt_track", "interpolate", "keep_original", "keyframes_of", "merge_tracks",
           "next_track_id", "original_path", "redact_track", "remove_audio", "reshape_region",
           "reshape_track",
           "save_reviewed", "set_keyframe", "split_track", "track_entry", "track_frames"]
