"""Analysis: the per-frame analyzer, and the analysis of a video over time."""

from faceless.analyze.analyzer import Analyzer, AnalyzerCache, Slot, build_detectors
from faceless.analyze.video import FrameJob, VideoAnalysis, lookahead, tracker_for

__all__ = ["Analyzer", "AnalyzerCache", "FrameJob", "Slot", "VideoAnalysis", "build_detectors",
           "lookahead", "tracker_for"]
