"""Pixel comparisons of a release with its source: what changed, and regions left unapplied."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceless.anonymize.operators import OperatorSpec, redaction_mask
from faceless.anonymize.redactor import Redactor
from faceless.check.model import UNAPPLIED, Finding
from faceless.core.geometry import pixel_span
from faceless.core.types import Box, Decision, Kind, Region

# A pixel counts as changed when a channel moved by more than this many levels, or by more
# than NOISE_K times the median move of the area outside the plan's regions, whichever is
# more: lossy re-encoding moves every pixel a little (median 0 for faceless, which passes
# untouched pixels through, 1-2 levels for deface's re-encode in bench/check_leaks.py), a blur
# or fill moves a face's pixels by tens of levels. The median, not a high percentile: without
# a plan the hidden areas are part of the sample, and on small frames they are over 10% of it.
MIN_LEVEL = 8
NOISE_K = 4.0
# A suspect counts as already hidden when this share of its detector box changed (the
# 70% cover rule of bench/temporal.py and ../shared/tools/redaction_eval.py).
COVER = 0.7
# A region marked redact counts as unapplied when at least this share of the pixels its
# operator should have changed still look like the source (closer to the source than to the
# redaction). faceless's own releases measure 0-2%; a region restored from the source ~100%.
UNAPPLIED_SHARE = 0.5
# Where the operator would change fewer pixels than this (a blur over a flat wall), the
# region cannot be told from its source and hides nothing anyway: it is not judged.
MIN_NEEDED = 16

Diff = npt.NDArray[np.int16]


def diff(a: np.ndarray, b: np.ndarray) -> Diff:
    """Per pixel, the largest absolute channel difference of two RGB images."""
    d: Diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)
    return d


def change_level(d: Diff, hidden: npt.NDArray[np.bool_] | None = None) -> int:
    """Levels above which a pixel counts as changed in this frame (see MIN_LEVEL)."""
    rest = d[~hidden] if hidden is not None and (~hidden).any() else d.reshape(-1)
    median = float(np.median(rest)) if rest.size else 0.0
    return max(MIN_LEVEL, int(np.ceil(NOISE_K * median)))


def changed_share(changed: npt.NDArray[np.bool_], box: Box) -> float:
    """Share of the box's pixels that changed (0 for a box off the frame)."""
    h, w = changed.shape
    span = pixel_span(box, w, h)
    if span is None:
        return 0.0
    x1, y1, x2, y2 = span
    return float(changed[y1:y2, x1:x2].mean())


def unapplied(source: np.ndarray, release: np.ndarray, regions: list[Region],
              specs: dict[Kind, OperatorSpec], level: int, frame: int, time: float
              ) -> list[Finding]:
    """Regions marked redact whose pixels in the release still look like the source."""
    redact = [r for r in regions if r.decision is Decision.REDACT]
    if not redact:
        return []
    h, w = source.shape[:2]
    expected = Redactor(specs).hide(source, redact)
    need_all = diff(expected, source) > level
    restored = diff(release, source) < diff(release, expected)
    out = []
    for r in redact:
        need = redaction_mask(h, w, [r], specs) & need_all
        n = int(need.sum())
        if n < MIN_NEEDED:
            continue
        share = float((restored & need).sum()) / n
        if share >= UNAPPLIED_SHARE:
            out.append(Finding(UNAPPLIED, str(r.kind), f"region marked redact is not hidden: "
                               f"{share:.0%} of its pixels look like the source",
                               frame, time, r.box, r.score))
    return out
