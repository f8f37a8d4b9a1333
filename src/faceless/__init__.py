"""faceless: find every face, plate and piece of text in photos and videos in order to hide it.

Importing the package loads no model and no codec: the API functions and options below are
imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

# name -> the module it is imported from on first use
_LAZY = {
    "anonymize_file": "faceless.api",
    "anonymize_image": "faceless.api",
    "detect_file": "faceless.api",
    "render_plan": "faceless.api",
    "Result": "faceless.api",
    "Options": "faceless.options",
    "mode_options": "faceless.options",
    "MODES": "faceless.options",
    "Plan": "faceless.plan.model",
    "anonymize_images": "faceless.batch.dataset",
    "DatasetItem": "faceless.batch.dataset",
}

if TYPE_CHECKING:
    from faceless.api import Result, anonymize_file, anonymize_image, detect_file, render_plan
    from faceless.batch.dataset import DatasetItem, anonymize_images
    from faceless.options import MODES, Options, mode_options
    from faceless.plan.model import Plan


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faceless' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "MODES",
    "AnalysisError",
    "ConfigError",
    "DatasetItem",
    "Decision",
    "Detections",
    "FacelessError",
    "ImageTooLargeError",
    "Kind",
    "MediaError",
    "MediaReadError",
    "MediaWriteError",
    "ModelError",
    "Options",
    "Origin",
    "OutputExistsError",
    "Plan",
    "PlanError",
    "Region",
    "Result",
    "UnsupportedFormatError",
    "__version__",
    "anonymize_file",
    "anonymize_image",
    "anonymize_images",
    "detect_file",
    "mode_options",
    "render_plan",
]
