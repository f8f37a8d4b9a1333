"""What a plan withheld, per track: the rows of the exemptions table and the report."""

from faceless.plan.tracks import TrackStats as TrackRow
from faceless.plan.tracks import track_stats as track_rows

__all__ = ["TrackRow", "track_rows"]
