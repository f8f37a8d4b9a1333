"""Faces on the source over time: a faint find counts where links from frame to frame tie it
to a confident find of the same face a few frames away.

A face the search scores low in one frame (turned, blurred by motion, small, half hidden) is
usually scored high a few frames before or after. Alone, faint finds are mostly texture and
body parts, which come and go; tied by overlapping boxes through consecutive frames to a
confident find they are the face itself. A face the search never scores confidently (small,
far, turned) is still followed the same way: faint finds linked over TRACK frames or more,
one of them from TRACK_SCORE up, count too, marked ALONE, where their box is shaped like the
detector's face boxes (TRACK_SIDE, TRACK_ASPECT): texture forms such tracks as well, mostly in
boxes smaller or squatter or taller than a face's, and a face is judged leaked only where the
release left most of it whole (compare.TRACK_LEAK). Findings are decided
REACH scanned frames late, once the frames after them are known; the window holds
2 * REACH + 1 frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from faceless.core.geometry import iou_matrix, scale_box
from faceless.core.types import Box, Kind, Region

REACH = 8  # scanned frames, each way, over which a faint find may be tied to a confident one
LINK = 0.2  # IoU of two detector boxes in consecutive scanned frames that ties them
WEAK = 0.05  # faint finds from this score up are considered (scan.SCAN_FLOOR)
TRACK = 4  # scanned frames a faint face tied to no confident find must be followed over
TRACK_SCORE = 0.1  # ... with one of its finds from this score up
TRACK_SIDE = 20.0  # ... and a detector box at least this many pixels on its short side
TRACK_ASPECT = (0.9, 1.9)  # ... and a height over width within these
ALONE = "faint face followed over frames, never scored confidently near them"

T = TypeVar("T")
_NONE, _TIED, _ALONE = 0, 1, 2  # what ties a faint find (Linker._tied)


@dataclass
class _Frame(Generic[T]):
    item: T
    regions: list[Region]
    boxes: list[Box]  # detector boxes of the face regions (by position in `regions`)
    faces: list[int]  # positions of the face regions in `regions`
    nxt: list[list[int]] = field(default_factory=list)  # links into the next frame's faces
    prv: list[list[int]] = field(default_factory=list)  # links into the previous frame's


def face_shaped(box: Box, side: float = TRACK_SIDE,
                aspect: tuple[float, float] = TRACK_ASPECT) -> bool:
    """Whether a detector box is large enough and shaped like a face's."""
    w, h = box[2] - box[0], box[3] - box[1]
    return min(w, h) >= side and aspect[0] * w <= h <= aspect[1] * w


def _links(a: list[Box], b: list[Box], link: float) -> list[list[int]]:
    if not a or not b:
        return [[] for _ in a]
    m = iou_matrix(a, b)
    return [[j for j in range(len(b)) if m[i, j] >= link] for i in range(len(a))]


class Linker(Generic[T]):
    """Takes each scanned frame's source regions in order; gives back, REACH frames later,
    the regions that count: non-face regions, faces from `strong` up, faces from `weak` up
    tied to one from `strong` up within REACH frames, and face-shaped faint faces followed
    over `track` frames (one of them from `track_score` up) with their reason set to ALONE."""

    def __init__(self, strong: float, weak: float = WEAK, reach: int = REACH,
                 link: float = LINK, mask_scale: float = 1.0, track: int = TRACK,
                 track_score: float = TRACK_SCORE, track_side: float = TRACK_SIDE,
                 track_aspect: tuple[float, float] = TRACK_ASPECT) -> None:
        self.strong = strong
        self.weak = min(weak, strong)
        self.reach = reach
        self.link = link
        self.mask_scale = mask_scale
        self.track = track
        self.track_score = track_score
        self.track_side = track_side
        self.track_aspect = track_aspect
        self.window: deque[_Frame[T]] = deque()
        self.decided = 0  # frames of the window already given back

    def push(self, item: T, regions: list[Region]) -> list[tuple[T, list[Region]]]:
        """Add one frame; return the frames now decided (oldest first)."""
        kept = [r for r in regions if r.kind is not Kind.FACE or r.score >= self.weak]
        faces = [i for i, r in enumerate(kept) if r.kind is Kind.FACE]
        boxes = [scale_box(kept[i].box, 1 / self.mask_scale) for i in faces]
        fr: _Frame[T] = _Frame(item, kept, boxes, faces)
        if self.window:
            last = self.window[-1]
            last.nxt = _links(last.boxes, boxes, self.link)
            fr.prv = _links(boxes, last.boxes, self.link)
        else:
            fr.prv = [[] for _ in boxes]
        fr.nxt = [[] for _ in boxes]
        self.window.append(fr)
        out = []
        while len(self.window) - self.decided > self.reach:
            out.append(self._decide(self.decided))
        return out

    def finish(self) -> list[tuple[T, list[Region]]]:
        """Decide the frames still waiting for frames after them (at the end of a video)."""
        out = []
        while self.decided < len(self.window):
            out.append(self._decide(self.decided))
        return out

    def _decide(self, t: int) -> tuple[T, list[Region]]:
        fr = self.window[t]
        position = {k: i for i, k in enumerate(fr.faces)}  # region index -> face index
        regions = []
        for k, r in enumerate(fr.regions):
            tie = self._tied(t, position[k]) if r.kind is Kind.FACE else _TIED
            if tie == _ALONE:
                r = replace(r, reason=ALONE)
            if tie != _NONE:
                regions.append(r)
        self.decided += 1
        # Frames more than `reach` before the next one to decide are no longer needed.
        while self.decided > self.reach:
            self.window.popleft()
            self.decided -= 1
        return fr.item, regions

    def _tied(self, t: int, i: int) -> int:
        """Whether face i of window frame t is confident or linked to a confident face
        (_TIED), only followed over frames by faint finds in a face-shaped box (_ALONE), or
        neither (_NONE)."""
        win = self.window
        best = win[t].regions[win[t].faces[i]].score
        if best >= self.strong:
            return _TIED
        seen = {(t, i)}
        first = last = t
        front = [(t, i)]
        while front:
            step = []
            for u, k in front:
                near = [(u + 1, j) for j in win[u].nxt[k]] if u + 1 < len(win) else []
                near += [(u - 1, j) for j in win[u].prv[k]] if u > 0 else []
                for v in near:
                    if v in seen or abs(v[0] - t) > self.reach:
                        continue
                    score = win[v[0]].regions[win[v[0]].faces[v[1]]].score
                    if score >= self.strong:
                        return _TIED
                    best = max(best, score)
                    first, last = min(first, v[0]), max(last, v[0])
                    seen.add(v)
                    step.append(v)
            front = step
        if (last - first + 1 >= self.track and best >= self.track_score
                and face_shaped(win[t].boxes[i], self.track_side, self.track_aspect)):
            return _ALONE
        return _NONE
