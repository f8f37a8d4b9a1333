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
    keep = Decision.KEEP
    # One pass with plain comparisons: a long video's plan holds hundreds of thousands of
    # regions, and the studio's track list is built from this on every edit.
    for f in plan.frames:
        if not f.regions:
            continue
        t = round(float(f.pts * tb), 3)
        index = f.index
        for i, r in enumerate(f.regions):
            key: tuple[object, ...] = ((r.kind, r.track_id) if r.track_id is not None
                                       else (r.kind, None, index, i))
            row = rows.get(key)
            if row is None:
                row = rows[key] = TrackStats(str(r.kind), r.track_id, t, t, index, index)
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
            row.decisions.add(r.decision)
            if r.decision is keep:
                row.keep_reasons.add(r.reason)
            origins = row.origins
            origins[r.origin] = origins.get(r.origin, 0) + 1
    for row in rows.values():
        # Members were counted as themselves (str enums: equal to their names) for speed.
        row.decisions = {str(d) for d in row.decisions}
    return sorted(rows.values(), key=lambda r: (r.first, r.kind, r.track or 0))
