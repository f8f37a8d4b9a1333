"""What a plan holds per track: frames and times covered, origins, decisions and reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faceless.core.types import Decision, Origin
from faceless.plan.model import FramePlan, Plan


@dataclass
class TrackStats:
    """One track of a plan (or one region without a track) over the whole media."""

    kind: str
    track: int | None
    first: float  # seconds, to the millisecond
    last: float
    first_frame: int
    last_frame: int
    regions: int = 0
    decisions: set[str] = field(default_factory=set)
    keep_reasons: set[str] = field(default_factory=set)  # of the regions kept visible
    origins: dict[str, int] = field(default_factory=lambda: {str(o): 0 for o in Origin})

    @property
    def decision(self) -> str:
        """redact, keep, or mixed when some regions are kept and others hidden."""
        return next(iter(self.decisions)) if len(self.decisions) == 1 else "mixed"

    @property
    def reason(self) -> str:
        """The reasons given for keeping regions visible (exemptions); empty if all hidden."""
        return "; ".join(sorted(r for r in self.keep_reasons if r))


def _fields(frame: FramePlan) -> list[tuple[Any, int | None, Any, Any, Any]]:
    """(kind, track, decision, origin, reason) of each region of `frame`. A frame whose
    Region objects are not built yet (a plan read lazily) is read from its regions as the
    file gave them, with the file's defaults: building them all would cost more than the
    count. Names and members compare and hash alike (str enums)."""
    raw = frame.raw_regions
    if raw is not None:
        try:
            return [(d.get("kind", "face"),
                     None if (t := d.get("track")) is None else int(t),
                     d.get("decision", "redact"), d.get("origin", "manual"),
                     d.get("reason", "")) for d in raw]
        except (AttributeError, TypeError, ValueError):
            pass  # a malformed region: building the frame says which, and how
    return [(r.kind, r.track_id, r.decision, r.origin, r.reason) for r in frame.regions]


def track_stats(plan: Plan) -> list[TrackStats]:
    """Regions grouped by (kind, track id), in order of first appearance; a region without a
    track is a row of its own."""
    try:
        return _count(plan)
    except TypeError:  # a region read with a name that is not one: building says which
        plan.build()
        return _count(plan)


def _count(plan: Plan) -> list[TrackStats]:
    rows: dict[tuple[object, ...], TrackStats] = {}
    tb = plan.source.time_base
    num, den = tb.numerator, tb.denominator
    keep = Decision.KEEP
    # One pass with plain comparisons: a long video's plan holds hundreds of thousands of
    # regions, and the studio's track list is built from this on every edit.
    for f in plan.frames:
        found = _fields(f)
        if not found:
            continue
        # Seconds as float(pts * time_base) gives them (an int division rounds alike).
        t = round(f.pts * num / den, 3)
        index = f.index
        for i, (kind, track, decision, origin, reason) in enumerate(found):
            key: tuple[object, ...] = ((kind, track) if track is not None
                                       else (kind, None, index, i))
            row = rows.get(key)
            if row is None:
                row = rows[key] = TrackStats(str(kind), track, t, t, index, index)
            else:
                if t < row.first:
                    row.first = t
                elif t > row.last:
                    row.last = t
                if index < row.first_frame:
                    row.first_frame = index
                elif index > row.last_frame:
                    row.last_frame = index
            row.regions += 1
            row.decisions.add(decision)
            if decision == keep:
                row.keep_reasons.add(str(reason))
            origins = row.origins
            origins[origin] = origins.get(origin, 0) + 1
    for row in rows.values():
        # Members were counted as themselves (str enums: equal to their names) for speed.
        row.decisions = {str(d) for d in row.decisions}
    return sorted(rows.values(), key=lambda r: (r.first, r.kind, r.track or 0))
