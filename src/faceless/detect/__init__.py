"""Detectors: find what is sensitive in one frame, behind one protocol."""

from faceless.detect.base import Detector, ModelCard

__all__ = ["Detector", "ModelCard"]
