"""Streaming tracker that only adds regions: fills gaps, extends track ends, continues tracks.

Frames go in with their raw detections; they come out a bounded number of frames later with
the regions tracking added. A raw detection is never removed or moved (it may gain a track
id). Everything added carries `origin=tracked`, the track id and a reason. Given the frames'
pixels, a face track whose detector falls silent is held by its own look for a bounded time,
and a new track is followed back by it over the frames still held (track.hold): tracking of
one object, never identification.

One module, over the usual size: matching, holding, bridging gaps, the backward hold and
emitting frames are one algorithm over the same track state, read together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from faceless.core.errors import ConfigError
from faceless.core.geometry import iou_matrix
from faceless.core.types import Box, FrameRef, Kind, Origin, Region
from faceless.track.hold import Patch, cut, follow


@dataclass(frozen=True)
class TrackOptions:
    """How far tracking may reach; every number is in frames unless it says otherwise."""

    max_gap: int = 15  # undetected frames a face track may bridge (filled when found again)
    pre_extend: int = 3  # frames hidden before a track's first detection (a face fading in)
    post_extend: int = 5  # frames hidden after its last detection, by the motion model
    confirm_hits: int = 2  # detections before a track is trusted to add anything
    min_iou: float = 0.2  # prediction-to-detection overlap that links a detection to a track
    candidate_iou: float = 0.3  # a low-score candidate continues a confirmed track above this
    # Plates and text only: a detection within this many box sizes of a track's prediction,
    # per frame since the track was last found, continues it even without overlap (they are
    # searched every few frames; 0 turns it off). Per frame, because a new track has no
    # velocity yet: the longer since it was found, the further the plate has moved.
    sparse_link: float = 0.5
    # Plates and text: undetected frames a track may bridge. Searched every few frames, they
    # are missed a whole search at a time, so they need a longer bridge than faces (the
    # faces' 15 is only two missed searches at every 6th frame). Lengthens the window.
    sparse_gap: int = 24
    smooth: float = 0.6  # weight of the newest box in the smoothed box of a track
    # Add a smoothed, motion-grown box beside every detection so the mask does not jitter.
    # Off by default: it adds a lot of over-redaction and hides no face the raw boxes miss.
    stabilize: bool = False
    speed_margin: float = 1.0  # grow added boxes by this many frames of motion on each side
    cut_threshold: float = 35.0  # see track.cuts.CutDetector
    # Visual hold (faces, when the tracker is given the frames' pixels; see track.hold): a
    # confirmed track whose detector falls silent follows its own look from frame to frame
    # for up to `hold` frames, while the match stays at least `hold_min_match` (normalised
    # cross-correlation), searched `hold_reach` box sides around its motion prediction.
    hold: int = 45
    hold_min_match: float = 0.7
    hold_reach: float = 0.5
    # A held box overlapping a region of the frame this much (IoU) is redundant: that object
    # is hidden already. IoU, not containment: ending holds half inside a box loses more.
    hold_iou: float = 0.5
    hold_core: float = 0.85  # the look is the central part of the box (less background)
    hold_margin: float = 0.5  # grow held boxes by this many frames of motion on each side
    # Plates only (searched every few frames, and often readable only once close): a confirmed
    # plate track is followed by its look backwards from its first detection, over up to this
    # many earlier frames that the window still holds, while the match stays at least
    # `back_hold_min_match`. Needs the frames' pixels and `hold` > 0; 0 turns it off.
    # Its threshold is below the faces': a plate's right place matches less strongly from
    # frame to frame, least near the frame's edge.
    back_hold: int = 12
    back_hold_min_match: float = 0.6
    # Faces: when a confirmed track's look no longer matches (a post or another person in
    # front, a blur), the look it had last is searched for again in the next frames, wider
    # each frame, while the track lives (`max_gap`), and the hold resumes where it matches
    # well. Off: the hold ends until the detector finds the object again.
    relook: bool = True
    # The match a hold needs where it is less sure of its object: a track found only once
    # (`hold_unconfirmed`), or one whose look matched weakly in an earlier frame (`relook`).
    # Above `hold_min_match`: a false detection or a lost face must not be followed long.
    sure_match: float = 0.8
    # Faces: a track found once (not yet confirmed) is held by its look for up to this many
    # frames: a small or blurred face the detector finds once is often not found again
    # soon. Its first detection hid it already; this holds it while it still looks the same.
    hold_unconfirmed: int = 10
    # Faces: a confirmed track is followed back by its look from its first detection over up
    # to this many earlier frames that the window still holds, as plates are (`back_hold`),
    # at the faces' `hold_min_match`: a face lost and found again by a new track, or found
    # late, is hidden over the frames before. 0 turns it off.
    face_back_hold: int = 12

    def __post_init__(self) -> None:
        for name in ("max_gap", "sparse_gap", "pre_extend", "post_extend", "hold",
                     "back_hold", "hold_unconfirmed", "face_back_hold"):
            if not 0 <= getattr(self, name) <= 300:
                raise ConfigError(f"{name} must lie in [0, 300] frames, got {getattr(self, name)}")
        if self.confirm_hits < 1:
            raise ConfigError(f"confirm_hits must be at least 1, got {self.confirm_hits}")
        for name in ("min_iou", "candidate_iou", "smooth"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must lie in (0, 1], got {getattr(self, name)}")
        for name in ("hold_min_match", "back_hold_min_match", "sure_match"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must lie in [-1, 1], got {getattr(self, name)}")
        if not 0.0 < self.hold_core <= 1.0:
            raise ConfigError(f"hold_core must lie in (0, 1], got {self.hold_core}")
        if not 0.0 < self.hold_iou <= 1.0:
            raise ConfigError(f"hold_iou must lie in (0, 1], got {self.hold_iou}")
        if not 0.0 <= self.hold_reach <= 4.0:
            raise ConfigError(f"hold_reach must lie in [0, 4] box sides, got {self.hold_reach}")

    @property
    def window(self) -> int:
        """Frames held back before a frame's regions are final (bounds memory)."""
        return max(self.max_gap, self.sparse_gap, self.pre_extend) + 1


@dataclass
class TrackSummary:
    """One track as a reviewer sees it: which frames, how many regions of each origin."""

    id: int
    kind: Kind
    first_frame: int
    last_frame: int
    detected: int = 0
    added: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": str(self.kind), "first_frame": self.first_frame,
                "last_frame": self.last_frame, "detected": self.detected, "added": self.added}


@dataclass
class _Frame:
    seq: int
    ref: FrameRef
    t: float
    raw: list[Region]
    payload: Any
    cut: bool = False
    added: dict[int, Region] = field(default_factory=dict)  # track id -> added region
    # Reduced grey copy of the frame, for following plates backwards (dropped with the frame)
    thumb: npt.NDArray[np.uint8] | None = None
    thumb_scale: float = 1.0


def _cxcywh(b: Box) -> npt.NDArray[np.float64]:
    x1, y1, x2, y2 = b
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], np.float64)


# Long side of the grey copy each frame keeps for the backward plate hold: bounds its memory
# (at most 1.2 MB a frame, over the window's frames) while a plate stays >= ~30 px in it.
THUMB_SIDE = 1280


def _thumb(image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], float]:
    """A grey copy of an RGB frame with its long side at most THUMB_SIDE, and its scale."""
    h, w = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    k = min(1.0, THUMB_SIDE / max(h, w))
    if k < 1.0:
        grey = cv2.resize(grey, (max(1, round(w * k)), max(1, round(h * k))),
                          interpolation=cv2.INTER_AREA)
    # OpenCV's stubs drop the dtype; grey conversion and resizing keep uint8.
    return cast(npt.NDArray[np.uint8], grey), k


def _xyxy(v: npt.NDArray[np.float64], margin: float = 0.0) -> Box:
    cx, cy, w, h = v
    w, h = max(w, 1.0), max(h, 1.0)
    return (cx - w / 2 - margin, cy - h / 2 - margin, cx + w / 2 + margin, cy + h / 2 + margin)


@dataclass
class _Track:
    id: int
    kind: Kind
    state: npt.NDArray[np.float64]  # cx, cy, w, h of the last detection
    smooth: npt.NDArray[np.float64]  # smoothed cx, cy, w, h
    velocity: npt.NDArray[np.float64]  # per second
    last_seq: int
    last_t: float
    first_seq: int
    score: float
    frame_dt: float = 1 / 30
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    pre_extend: int = 0  # frames to hide before the first detection once confirmed
    patch: Patch | None = None  # its look in its latest frame (visual hold), nothing older
    held: int = 0  # frames followed by look alone since the detector last found it

    def predict(self, t: float) -> npt.NDArray[np.float64]:
        p = self.state + self.velocity * (t - self.last_t)
        p[2:] = np.maximum(p[2:], self.state[2:] * 0.5)  # sizes never collapse
        return p

    def margin(self) -> float:
        """Distance the object moves in one frame: fast motion keeps a wider border."""
        return float(np.hypot(*self.velocity[:2]) * self.frame_dt)


class Tracker:
    """Feed frames in order with `push`; take finished frames from its return and `flush`."""

    def __init__(self, options: TrackOptions | None = None) -> None:
        self.options = options or TrackOptions()
        self._frames: deque[_Frame] = deque()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._seq = 0
        self._blind: Mapping[Kind, int] = {}
        self._image: npt.NDArray[np.uint8] | None = None  # the frame being pushed, never kept
        self.summaries: dict[int, TrackSummary] = {}

    # ---------------------------------------------------------------- public

    def push(self, ref: FrameRef, detections: Iterable[Region],
             candidates: Iterable[Region] = (), *, cut: bool = False,
             payload: Any = None, blind: int | Mapping[Kind, int] = 0,
             image: npt.NDArray[np.uint8] | None = None
             ) -> list[tuple[FrameRef, list[Region], Any]]:
        """Add one frame; returns the frames (ref, regions, payload) whose regions are final.

        `blind`: in this many frames before this one, objects of the sizes found here were
        not searched for (a scheduled search); a track that starts here is hidden back over
        them as well as over `pre_extend` frames. One number for every kind, or one per kind
        (plates searched every few frames, faces on their own schedule). `image`: the frame's
        RGB pixels, for the visual hold (without them tracks are held by the motion model
        alone); only patches of the live tracks' boxes are kept from it.
        """
        o = self.options
        frame = _Frame(self._seq, ref, ref.seconds, list(detections), payload, cut)
        self._blind = blind if isinstance(blind, Mapping) else {k: blind for k in Kind}
        self._seq += 1
        if cut:
            self._tracks = []  # a new shot: nothing may be dragged across the cut
        self._frames.append(frame)
        by_kind: dict[Kind, list[int]] = {}
        for i, r in enumerate(frame.raw):
            by_kind.setdefault(r.kind, []).append(i)
        cands = list(candidates)
        self._image = image if self.options.hold > 0 else None
        if self._image is not None and (o.back_hold > 0 or o.face_back_hold > 0):
            frame.thumb, frame.thumb_scale = _thumb(self._image)
        try:
            # Kinds in a fixed order, so track ids (and so plans) are the same in every
            # process: a set's order would follow Python's hash seed.
            present = {*by_kind, *(t.kind for t in self._tracks)}
            for kind in (k for k in Kind if k in present):
                self._step_kind(frame, kind, by_kind.get(kind, []),
                                [c for c in cands if c.kind == kind])
        finally:
            self._image = None
        out = []
        while self._frames and self._frames[0].seq <= frame.seq - o.window:
            out.append(self._emit(self._frames.popleft()))
        return out

    def expected(self, t: float, kind: Kind) -> list[Box]:
        """Where each live track of `kind` expects its object at time `t` (seconds).

        Boxes are grown by a frame of motion; a detector can look closer there.
        """
        return [_xyxy(tr.predict(t), tr.margin()) for tr in self._tracks if tr.kind == kind]

    def flush(self) -> list[tuple[FrameRef, list[Region], Any]]:
        """Finish: every held frame, with its final regions."""
        out = [self._emit(f) for f in self._frames]
        self._frames.clear()
        self._tracks = []
        return out

    # ---------------------------------------------------------------- internals

    def _emit(self, f: _Frame) -> tuple[FrameRef, list[Region], Any]:
        for tid in f.added:
            self.summaries[tid].added += 1
        return f.ref, f.raw + list(f.added.values()), f.payload

    def _frame(self, seq: int) -> _Frame | None:
        if not self._frames:
            return None
        i = seq - self._frames[0].seq
        return self._frames[i] if 0 <= i < len(self._frames) else None

    def _add(self, seq: int, tr: _Track, box: Box, reason: str) -> None:
        f = self._frame(seq)
        if f is None:
            return
        f.added[tr.id] = Region(box, tr.kind, min(1.0, tr.score), Origin.TRACKED,
                                track_id=tr.id, reason=reason)

    def _scene_start(self, seq: int) -> int:
        """The first frame of the shot that frame `seq` belongs to (within the buffer)."""
        start = self._frames[0].seq if self._frames else seq
        for f in self._frames:
            if f.seq > seq:
                break
            if f.cut:
                start = f.seq
        return start

    def _step_kind(self, frame: _Frame, kind: Kind, det_idx: list[int],
                   candidates: list[Region]) -> None:
        o = self.options
        tracks = [t for t in self._tracks if t.kind == kind]
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()

        def link(ti: int, di: int) -> None:
            matched_tracks.add(ti)
            matched_dets.add(di)
            i = det_idx[di]
            frame.raw[i] = replace(frame.raw[i], track_id=tracks[ti].id)
            self._update(tracks[ti], frame, frame.raw[i], detected=True)

        if tracks and det_idx:
            preds = np.array([_xyxy(t.predict(frame.t)) for t in tracks])
            boxes = np.array([frame.raw[i].box for i in det_idx])
            ious = iou_matrix(preds, boxes)
            # Greedy by overlap: enough for faces, which rarely cross at equal size.
            for ti, di in zip(*np.unravel_index(np.argsort(-ious, axis=None), ious.shape),
                              strict=True):
                if ious[ti, di] < o.min_iou:
                    break
                if ti in matched_tracks or di in matched_dets:
                    continue
                link(ti, di)
            if kind is not Kind.FACE and o.sparse_link > 0:
                # Plates and text are searched every few frames, so they move further between
                # detections than overlap can follow: link by centre distance as well.
                since = np.array([frame.seq - t.last_seq for t in tracks], np.float64)
                for ti, di in self._near(preds, boxes, since, matched_tracks, matched_dets):
                    link(ti, di)
        for ti, tr in enumerate(tracks):
            if ti in matched_tracks:
                continue
            cand = self._continuation(tr, frame, candidates) if tr.confirmed else None
            if cand is not None:
                self._add(frame.seq, tr, cand.box, f"low-score continuation ({cand.score:.2f})")
                self._update(tr, frame, cand, detected=False)
                continue
            held = self._hold(tr, frame, kind)
            if held is not None:
                box, match = held
                # Grown for the hidden region only: the track goes on from the matched box.
                self._add(frame.seq, tr, _xyxy(_cxcywh(box), o.hold_margin * tr.margin()),
                          f"held by its look ({match:.2f})")
                self._update(tr, frame, Region(box, kind, tr.score), detected=False, held=True)
                continue
            tr.misses += 1
            if tr.misses > (o.max_gap if kind is Kind.FACE else o.sparse_gap):
                self._tracks.remove(tr)
                continue
            if tr.confirmed and tr.misses <= o.post_extend:
                self._add(frame.seq, tr, _xyxy(tr.predict(frame.t), tr.margin()),
                          "held after the last detection")
        for di, i in enumerate(det_idx):
            if di in matched_dets:
                continue
            r = frame.raw[i]
            v = _cxcywh(r.box)
            tr = _Track(self._next_id, kind, v, v.copy(), np.zeros(4), frame.seq, frame.t,
                        frame.seq, r.score,
                        pre_extend=min(max(o.pre_extend, self._blind.get(kind, 0)),
                                       o.window - 1))
            self._next_id += 1
            self._tracks.append(tr)
            frame.raw[i] = replace(r, track_id=tr.id)
            tr.patch = self._cut(tr, r.box)
            self.summaries[tr.id] = TrackSummary(tr.id, kind, frame.ref.index, frame.ref.index, 1)
            if o.confirm_hits <= 1:
                self._confirm(tr)

    def _near(self, preds: npt.NDArray[np.float64], boxes: npt.NDArray[np.float64],
              since: npt.NDArray[np.float64], used_t: set[int], used_d: set[int]
              ) -> list[tuple[int, int]]:
        """Unmatched (track, detection) pairs whose centres lie close, nearest first.

        Close: within `sparse_link` times the larger side of the predicted box for each of the
        `since` frames since the track was last found, and sizes within a factor of 2.
        """
        pc = (preds[:, None, :2] + preds[:, None, 2:]) / 2
        bc = (boxes[None, :, :2] + boxes[None, :, 2:]) / 2
        dist = np.hypot(*(pc - bc).transpose(2, 0, 1))
        pside = np.maximum(preds[:, 2] - preds[:, 0], preds[:, 3] - preds[:, 1])[:, None]
        bside = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[None, :]
        ratio = np.maximum(pside, bside) / np.maximum(np.minimum(pside, bside), 1e-6)
        reach = self.options.sparse_link * pside * np.maximum(since, 1.0)[:, None]
        ok = (dist <= reach) & (ratio <= 2.0)
        out = []
        for ti, di in zip(*np.unravel_index(np.argsort(dist, axis=None), dist.shape),
                          strict=True):
            if not ok[ti, di] or ti in used_t or di in used_d:
                continue
            out.append((int(ti), int(di)))
            used_t, used_d = used_t | {ti}, used_d | {di}
        return out

    def _continuation(self, tr: _Track, frame: _Frame,
                      candidates: list[Region]) -> Region | None:
        if not candidates:
            return None
        pred = np.array([_xyxy(tr.predict(frame.t))])
        ious = iou_matrix(pred, np.array([c.box for c in candidates]))[0]
        best = int(np.argmax(ious))
        if ious[best] < self.options.candidate_iou:
            return None
        return candidates.pop(best)

    def _cut(self, tr: _Track, box: Box) -> Patch | None:
        """The track's look in the frame being pushed (faces only; None without pixels)."""
        if self._image is None or tr.kind is not Kind.FACE:
            return None
        return cut(self._image, box, self.options.hold_core)

    def _hold(self, tr: _Track, frame: _Frame, kind: Kind) -> tuple[Box, float] | None:
        """Where a track silent in this frame is, found by its look; None to fall back.

        Bounded: at most `hold` frames in a row (`hold_unconfirmed` before the track is
        confirmed). A weak match is never followed (a patch that matched badly once would
        drift off the object): with `relook` the look a confirmed track had last is searched
        for again in the next frames, wider each frame, else the hold ends until the
        detector finds the object again. A match on a box that a detection or another track
        already covers in this frame ends it too: that object is hidden already, and a
        second track held there only drifts off it.
        """
        o = self.options
        limit = o.hold if tr.confirmed else o.hold_unconfirmed
        if self._image is None or tr.patch is None or tr.held >= limit:
            return None
        pred = _xyxy(tr.predict(frame.t))
        side = max(pred[2] - pred[0], pred[3] - pred[1])
        # Each frame without a match widens the search by a frame of motion.
        reach = o.hold_reach * side + tr.margin() * (1 + tr.misses)
        found = follow(self._image, tr.patch, pred, reach)
        need = o.hold_min_match if tr.confirmed and not tr.misses else o.sure_match
        if found is None or found[1] < need:
            if not (o.relook and tr.confirmed):
                tr.patch = None
            return None
        taken = [r.box for r in frame.raw if r.kind is kind]
        taken += [r.box for r in frame.added.values() if r.kind is kind]
        if taken and iou_matrix(np.array([found[0]]), np.array(taken)).max() >= o.hold_iou:
            tr.patch = None
            return None
        return found

    def _update(self, tr: _Track, frame: _Frame, r: Region, detected: bool,
                held: bool = False) -> None:
        o = self.options
        new = _cxcywh(r.box)
        dt = frame.t - tr.last_t
        gap = frame.seq - tr.last_seq - 1
        if gap > 0 and tr.hits >= 1:
            # Found again after a gap: the frames in between get the box interpolated in time
            # (this replaces any boxes that were held by the motion model).
            for k in range(1, gap + 1):
                mid = self._frame(tr.last_seq + k)
                if mid is None or mid.seq < self._scene_start(frame.seq):
                    continue
                a = (mid.t - tr.last_t) / dt if dt > 0 else k / (gap + 1)
                box = tr.state + (new - tr.state) * a
                self._add(mid.seq, tr, _xyxy(box, tr.margin()), "gap filled between detections")
        if dt > 0:
            v = (new - tr.state) / dt
            tr.velocity = v if tr.hits == 1 else 0.5 * v + 0.5 * tr.velocity
            tr.frame_dt = dt / (gap + 1)
        s = o.smooth
        grown = np.maximum(new[2:], tr.smooth[2:])  # grow at once, shrink slowly
        tr.smooth = np.concatenate([s * new[:2] + (1 - s) * tr.smooth[:2],
                                    s * new[2:] + (1 - s) * grown])
        tr.state, tr.last_seq, tr.last_t = new, frame.seq, frame.t
        tr.score, tr.misses = max(r.score, 0.0), 0
        tr.held = tr.held + 1 if held else 0
        tr.patch = self._cut(tr, r.box)  # frame to frame: the look may change slowly
        if not held:
            tr.hits += 1
        summ = self.summaries[tr.id]
        summ.last_frame = frame.ref.index
        if detected:
            summ.detected += 1
        if not tr.confirmed and tr.hits >= o.confirm_hits:
            self._confirm(tr)
        if tr.confirmed and detected and o.stabilize:
            # A steadier, motion-grown box beside the raw one keeps the mask from jittering.
            self._add(frame.seq, tr, _xyxy(tr.smooth, tr.margin()), "smoothed track box")

    def _confirm(self, tr: _Track) -> None:
        o = self.options
        tr.confirmed = True
        start = self._scene_start(tr.first_seq)
        f0 = self._frame(tr.first_seq)
        if f0 is None:
            return
        box0 = next((r.box for r in f0.raw if r.track_id == tr.id), None)
        if box0 is None:
            return
        # Back along the track's motion: a face that walked in was elsewhere before.
        v0 = _cxcywh(box0)
        step = tr.velocity * tr.frame_dt
        step[2:] = 0.0
        for k in range(1, tr.pre_extend + 1):
            seq = tr.first_seq - k
            if seq < start:
                break
            self._add(seq, tr, _xyxy(v0 - step * k, tr.margin()),
                      "hidden before the first detection")
        if tr.kind is Kind.PLATE and o.back_hold:
            self._hold_back(tr, box0, start, o.back_hold, o.back_hold_min_match)
        elif tr.kind is Kind.FACE and o.face_back_hold:
            self._hold_back(tr, box0, start, o.face_back_hold, o.hold_min_match)

    def _hold_back(self, tr: _Track, box0: Box, start: int, frames: int, min_match: float
                   ) -> None:
        """Follow a track's look backwards from its first detection over up to `frames`
        frames while the match stays at `min_match` (see `back_hold`, `face_back_hold`).

        A plate is often found only once it is near enough to read, and searched only every
        few frames; before that it was in view, unreadable. Frame by frame backwards, its
        patch is matched near where the latest backward step predicts (the camera may turn,
        so the step is re-measured at every frame); a weak match, or a frame where a plate
        already covers the place, ends it. Held boxes replace those of the motion model.
        """
        o = self.options
        f = self._frame(tr.first_seq)
        if f is None or f.thumb is None or o.hold <= 0:
            return
        s = f.thumb_scale
        box = np.array(box0, np.float64)
        patch = cut(f.thumb, tuple(box * s), o.hold_core)
        step = -(tr.velocity[:2] * tr.frame_dt)  # backwards in time: against the motion
        for k in range(1, frames + 1):
            prev = self._frame(tr.first_seq - k)
            if patch is None or prev is None or prev.seq < start or prev.thumb is None:
                return
            pred = box + np.tile(step, 2)
            side = max(box[2] - box[0], box[3] - box[1])
            reach = o.hold_reach * side + float(np.hypot(*step))
            found = follow(prev.thumb, patch, tuple(pred * s), reach * s)
            if found is None or found[1] < min_match:
                return
            new = np.array(found[0], np.float64) / s
            taken = [r.box for r in prev.raw if r.kind is tr.kind]
            if taken and iou_matrix(new[None], np.array(taken)).max() >= o.hold_iou:
                return  # a detection hides it there already
            step, box = new[:2] - box[:2], new
            # grown by its motion, but a jittery match must not balloon the box
            m = o.hold_margin * min(float(np.hypot(*step)), 0.5 * side)
            self._add(prev.seq, tr, (box[0] - m, box[1] - m, box[2] + m, box[3] + m),
                      f"held by its look before the first detection ({found[1]:.2f})")
            patch = cut(prev.thumb, tuple(box * s), o.hold_core)

