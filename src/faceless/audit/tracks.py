"""What a plan withheld, per track: the rows of the exemptions table and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

from faceless.core.types import Decision, Origin
from faceless.plan.model import Plan


@dataclass
class TrackRow:
    """One track of a plan (or one region without a track) over the whole media."""

    kind: str
    track: int | None
    first: float  # seconds
    last: float
    decisions: set[str] = field(default_factory=set)
    keep_reasons: set[str] = field(default_factory=set)
    origins: dict[str, int] = field(default_factory=lambda: {str(o): 0 for o in Origin})

    @property
    def decision(self) -> str:
        return next(iter(self.decisions)) if len(self.decisions) == 1 else "mixed"

    @property
    def reason(self) -> str:
        """The reasons given for keeping regions visible (exemptions); empty if all hidden."""
        return "; ".join(sorted(self.keep_reasons))


def track_rows(plan: Plan) -> list[TrackRow]:
    """Regions grouped by (kind, track id); a region without a track is a row of its own."""
    rows: dict[tuple[object, ...], TrackRow] = {}
    tb = plan.source.time_base
    for f in plan.frames:
        t = round(float(f.pts * tb), 3)
        for i, r in enumerate(f.regions):
            key: tuple[object, ...] = ((str(r.kind), r.track_id) if r.track_id is not None
                                       else (str(r.kind), None, f.index, i))
            row = rows.get(key)
            if row is None:
                row = rows[key] = TrackRow(str(r.kind), r.track_id, t, t)
            row.first, row.last = min(row.first, t), max(row.last, t)
            row.decisions.add(str(r.decision))
            if r.decision is Decision.KEEP and r.reason:
                row.keep_reasons.add(r.reason)
            row.origins[str(r.origin)] = row.origins.get(str(r.origin), 0) + 1
    return sorted(rows.values(), key=lambda r: (r.first, r.kind, r.track or 0))
