"""The leak check of a release: what still looks like a face, plate or text, regions of the
plan left unapplied, frames that do not match the plan, and metadata that should be gone."""

from faceless.check.metadata import HARMLESS_TAGS, image_metadata, video_metadata
from faceless.check.model import FRAMES, METADATA, SUSPECT, UNAPPLIED, CheckResult, Finding
from faceless.check.release import check_release
from faceless.check.scan import BLIND, FLAG
from faceless.check.sheet import write_sheet

__all__ = ["BLIND", "FLAG", "FRAMES", "HARMLESS_TAGS", "METADATA", "SUSPECT", "UNAPPLIED",
           "CheckResult", "Finding", "check_release", "image_metadata", "video_metadata",
           "write_sheet"]
