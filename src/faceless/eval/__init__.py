"""Measure how well a configuration hides what is labelled in image sets and frame sequences."""

from faceless.eval.evaluate import (
    EvalConfig,
    EvalResult,
    RegionSource,
    analyzer_source,
    evaluate,
    make_analyzer,
    tracked_source,
    uses_tracking,
)
from faceless.eval.loaders import FORMATS, Dataset, DatasetError, Obj, Sample, load

__all__ = [
    "FORMATS",
    "Dataset",
    "DatasetError",
    "EvalConfig",
    "EvalResult",
    "Obj",
    "RegionSource",
    "Sample",
    "analyzer_source",
    "evaluate",
    "load",
    "make_analyzer",
    "tracked_source",
    "uses_tracking",
]
