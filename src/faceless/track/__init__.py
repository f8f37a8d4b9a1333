"""Temporal tracking: link detections over time and add what the detector missed."""

from faceless.track.tracker import Tracker, TrackOptions, TrackSummary

__all__ = ["TrackOptions", "TrackSummary", "Tracker"]
