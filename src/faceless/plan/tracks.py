"""What a plan holds per track: frames and times covered, origins, decisions and reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

from faceless.core.types import Decision, Origin
from faceless.plan.model import Plan


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


def track_stats(plan: Plan) -> list[TrackStats]:
    """Regions grouped by (kind, track id), in order of first appearance; a region without a
    track is a row of its own."""
    rows: dict[tuple[object, ...], TrackStats] = {}
    tb = plan.source.time_base
    for f in plan.frames:
        t = round(float(f.pts * tb), 3)
        for i, r in enumerate(f.regions):
            key: tuple[object, ...] = ((str(r.kind), r.track_id) if r.track_id is not None
                                       else (str(r.kind), None, f.index, i))
            row = rows.get(key)
            if row is None:
                row = rows[key] = TrackStats(str(r.kind), r.track_id, t, t, f.index, f.index)
            row.first, row.last = min(row.first, t), max(row.last, t)
            row.first_frame = min(row.first_frame, f.index)
            row.last_frame = max(row.last_frame, f.index)
            row.regions += 1
            row.decisions.add(str(r.decision))
            if r.decision is Decision.KEEP:
                row.keep_reasons.add(r.reason)
            row.origins[str(r.origin)] = row.origins.get(str(r.origin), 0) + 1
    return sorted(rows.values(), key=lambda r: (r.first, r.kind, r.track or 0))
