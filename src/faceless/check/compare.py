"""Leaks judged against the source: how much of each face found there the release left as it was.

A face the anonymizer had to hide is found on the source at full contrast, whole, before any
blur or partial cover lowered its score. Whether the release hid it is then a matter of pixels,
not of scores: the share of the face's detector box that still has the source's pixels, within
the codec noise that pixels.change_level allows for.

Thresholds, decided on bench/check_leaks.py's tuning seeds and checked on held-out ones:

- SOURCE_FLAG: faces found on the source from this score up are judged on their own. Below
  it the search finds mostly texture and body parts (foliage, fabric, signs, passers-by), each
  unchanged in a correct release and each a false alarm; a fainter find is judged only where
  faceless.check.temporal ties it to one from this score up in nearby frames.
- LEAK: a face whose box is unchanged from this share up is a suspect: the complement of the
  70% cover rule that bench/temporal.py and the evaluation tools judge a hidden face by.
- FAINT_LEAK: the unchanged share that makes a suspect of a faint face (below SOURCE_FLAG,
  tied to a confident one): its box is looser, often on the edge of a face the release hid
  (about two thirds unchanged), while the faint faces a release leaks are mostly left whole
  (about nine tenths unchanged), so most of it must be unchanged.
- TRACK_LEAK: the unchanged share that makes a suspect of a faint face tied to no confident
  one, only followed over frames (faceless.check.temporal.ALONE): texture forms such tracks
  too, and a release leaves it untouched, so only a face left mostly whole counts.
- CHIN: a confident face is judged over its detector box and over the same box moved down by
  this share of its height, the higher unchanged share of the two: the detector's box ends
  above the chin, where a mask that hid the eyes and brow may leave the mouth and chin as
  they were (bench/check_leaks.py's labelled boxes reach that much lower).
- CORE: the part of the detector box measured; the whole box, since inner cores flagged no
  more leaks and flagged more clean frames (a mask that lags a moving face uncovers an edge).
- VISIBLE: from this share up the face is said to be still visible, below it partly covered.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceless.check.pixels import changed_share
from faceless.core.geometry import scale_box
from faceless.core.types import Box

SOURCE_FLAG = 0.3
CORE = 1.0
LEAK = 0.3
FAINT_LEAK = 0.75
TRACK_LEAK = 0.85
CHIN = 0.15
VISIBLE = 0.8


def unchanged_share(changed: npt.NDArray[np.bool_], detector_box: Box) -> float:
    """Share of the box (its CORE) whose pixels the release left as in the source."""
    return 1.0 - changed_share(changed, scale_box(detector_box, CORE))


def lowered(detector_box: Box, share: float = CHIN) -> Box:
    """The box moved down by `share` of its height (over the chin)."""
    x1, y1, x2, y2 = detector_box
    dy = share * (y2 - y1)
    return (x1, y1 + dy, x2, y2 + dy)


def confident_unchanged(changed: npt.NDArray[np.bool_], detector_box: Box) -> float:
    """Share of a confident face left unchanged: over its box or its box moved over the chin,
    whichever is higher."""
    return max(unchanged_share(changed, detector_box),
               unchanged_share(changed, lowered(detector_box)))


def verdict(kind: str, unchanged: float) -> str:
    """The reason a person reads: visible, or partly covered with the share left."""
    how = "still visible" if unchanged >= VISIBLE else "partly covered"
    return f"{kind} {how}: {unchanged:.0%} of it unchanged from the source"
