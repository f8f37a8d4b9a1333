"""faceless: find every face in photos and videos in order to hide it, never to identify anyone."""

from faceless.core.errors import (
    AnalysisError,
    ConfigError,
    FacelessError,
    ImageTooLargeError,
    MediaError,
    MediaReadError,
    MediaWriteError,
    ModelError,
    OutputExistsError,
    PlanError,
    UnsupportedFormatError,
)
from faceless.core.types import Decision, Detections, Kind, Origin, Region

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "ConfigError",
    "Decision",
    "Detections",
    "FacelessError",
    "ImageTooLargeError",
    "Kind",
    "MediaError",
    "MediaReadError",
    "MediaWriteError",
    "ModelError",
    "Origin",
    "OutputExistsError",
    "PlanError",
    "Region",
    "UnsupportedFormatError",
    "__version__",
]
