"""Detectors: find what is sensitive in one frame, behind one protocol."""

from faceless.detect.base import CandidateDetector, Detector, ModelCard, ScaledDetector

__all__ = ["CandidateDetector", "Detector", "ModelCard", "ScaledDetector"]
