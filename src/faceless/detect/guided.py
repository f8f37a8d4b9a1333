"""Video face search on a budget: full passes on a schedule, a cheap pass between, closer looks.

A full-resolution pass on a large frame costs many times one at low resolution, and most of a
video's frames add nothing a neighbouring frame did not show. So for video:

- a **full look** (every pass of `FaceOptions`, full resolution) runs on the first frame, on
  every `full_every`-th frame and after every scene cut; small frames get it on every frame;
- between full looks a **low-resolution pass** of the whole frame finds medium and large
  faces (on every frame by default; `low_every` thins it out, at a recall cost);
- **closer looks**: a crop around each face that tracking expects (its predicted box) is run
  at a scale that makes the face at least `closer_face` px, at the candidate threshold. Tracks
  carry small faces between full looks, and a face that blurs, turns or darkens is searched
  at the scale where the detector is most sure of it.

A face too small for the low pass that appears between two full looks is found by the next
full look; `blind` then says how many frames before it went unsearched at that size, and the
tracker hides the new track back over them (recall first). docs/decisions holds the
measurements behind the defaults.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from faceless.core.errors import ConfigError
from faceless.core.geometry import inside_matrix, iou_matrix
from faceless.core.types import Detections, Kind
from faceless.detect.base import CandidateDetector
from faceless.detect.faces import FaceOptions, merge_split

# Whole-frame passes on frames of this many pixels and more (1080p and up) run one at a time
# when frames are searched side by side: each holds a full-resolution network's buffers, and
# two at once add their peaks. Below it the buffers are small and waiting only costs time
# (docs/decisions/0038, 0044).
LARGE_PASS_PIXELS = 2_000_000


def takes_turns(width: int, height: int) -> bool:
    """Whether whole-frame passes on frames of this size run one at a time."""
    return width * height >= LARGE_PASS_PIXELS


@runtime_checkable
class PassDetector(CandidateDetector, Protocol):
    """A face detector that also runs one pass at a given scale, as the schedule needs
    (CenterFaceDetector does)."""

    options: FaceOptions

    def detect_at(self, image: np.ndarray, scale: float,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """One pass at `scale`: xyxy boxes in image pixels, and their scores."""
        ...


@dataclass(frozen=True)
class ScheduleOptions:
    """When video frames get the full look, and how the frames between are searched."""

    full_every: int = 8  # a full look at least this often (1: every frame, no schedule)
    # Frames up to this many pixels get the full look on every frame (it is cheap there).
    full_pixels: int = 640 * 480
    low_side: int = 640  # long side of the low-resolution pass between full looks
    # The low pass runs on every Nth frame between full looks; tracking fills the frames
    # between, and small faces still get their closer look on every frame. 2 hides less
    # background, but leaks more faces, for longer, and saves no CPU: the closer looks on
    # the skipped frames cost what the low pass did (docs/decisions). So 1.
    low_every: int = 1
    # On the frames the low pass skips, still look closer at faces too small for it.
    closer_when_skipped: bool = True
    closer: bool = True  # look closer around the faces that tracking expects
    closer_face: float = 48.0  # a closer look scales the crop so the face is about this big
    closer_max_scale: float = 4.0
    # On a full-look frame a closer look runs only where it upscales at least this much.
    closer_min_gain: float = 1.5
    closer_context: float = 0.75  # the crop reaches this many face sides beyond the face
    closer_min_crop: int = 96  # px of the crop's side at the detector's input, at least
    max_closer: int = 20  # closer looks per frame at most (the smallest faces first)
    found_iou: float = 0.3  # an expected face that overlaps a confident detection this much
    # ... or lies this much (share of its area) inside one needs no closer look either: a
    # small track inside a found face is part of it (an eye, the hair line), and a closer
    # look around it would cut the real face at the crop's edge, a partial box that can win
    # the merge and leave the mouth uncovered. 0 turns it off.
    found_inside: float = 0.7

    def __post_init__(self) -> None:
        if not 1 <= self.full_every <= 60:
            raise ConfigError(f"full_every must lie in [1, 60], got {self.full_every}")
        if not 1 <= self.low_every <= 8:
            raise ConfigError(f"low_every must lie in [1, 8], got {self.low_every}")
        if self.low_side < 160:
            raise ConfigError(f"low_side must be at least 160 px, got {self.low_side}")
        if not 1.0 <= self.closer_max_scale <= 8.0:
            raise ConfigError(f"closer_max_scale must lie in [1, 8], got {self.closer_max_scale}")
        if self.max_closer < 0:
            raise ConfigError(f"max_closer must be >= 0, got {self.max_closer}")
        if not 0.0 <= self.found_inside <= 1.0:
            raise ConfigError(f"found_inside must lie in [0, 1], got {self.found_inside}")

    def always_full(self, width: int, height: int) -> bool:
        return self.full_every == 1 or width * height <= self.full_pixels

    def low_scale(self, width: int, height: int) -> float:
        """The scale of the low-resolution pass over a frame of this size."""
        return min(1.0, self.low_side / max(width, height))


@dataclass(frozen=True)
class Look:
    """What one frame's search did: a full look or not, and frames unsearched before it."""

    full: bool
    blind: int  # frames before this one in which small faces were not searched for
    passes: int  # detector runs, closer looks included


@dataclass(frozen=True)
class Step:
    """Which pass the schedule gives one frame (GuidedFaces.step)."""

    full: bool  # the full look
    blind: int  # on a full look: frames before it in which small faces went unsearched
    low: bool  # not full: the low-resolution pass (else tracking alone, and closer looks)


@dataclass(frozen=True)
class OwnPass:
    """What a frame's own pass found (GuidedFaces.own_pass): boxes and scores per run."""

    step: Step
    boxes: list[np.ndarray]
    scores: list[np.ndarray]
    passes: int


class GuidedFaces:
    """Per-video search state around one CenterFace detector (make one per video)."""

    kind = Kind.FACE

    def __init__(self, detector: PassDetector, schedule: ScheduleOptions | None = None,
                 large: threading.Lock | None = None) -> None:
        """`large`: the lock that whole-frame passes on large frames take, shared with the
        video's other whole-frame searches (one such pass at a time); default its own."""
        self.detector = detector
        self.schedule = schedule or ScheduleOptions()
        self._since_full: int | None = None  # frames since the last full look
        # One full look on a large frame at a time (takes_turns).
        self._full = large or threading.Lock()

    def detect_all(self, image: np.ndarray, expected: np.ndarray | None = None,
                   cut: bool = False) -> tuple[Detections, Detections, Look]:
        """Confident faces and candidates in one frame, given the face boxes tracks expect.

        `expected` holds detector-sized xyxy boxes (N, 4) where tracking predicts a face in
        this frame; `cut` forces a full look (a new shot has no tracks to carry faces).
        Equivalent to `finish(image, expected, own_pass(image, step(w, h, cut)))`.
        """
        h, w = image.shape[:2]
        return self.finish(image, expected, self.own_pass(image, self.step(w, h, cut)))

    def step(self, width: int, height: int, cut: bool = False) -> Step:
        """Advance the schedule by one frame: which pass this frame gets. Call once a frame,
        in order (it needs no pixels, so a look-ahead can run the pass before tracking)."""
        s = self.schedule
        full = (self._since_full is None or cut or s.always_full(width, height)
                or self._since_full + 1 >= s.full_every)
        if full:
            blind = 0 if self._since_full is None or cut else self._since_full
            self._since_full = 0
            return Step(True, blind, low=False)
        self._since_full = (self._since_full or 0) + 1
        return Step(False, 0, low=self._since_full % s.low_every == 0)

    def own_pass(self, image: np.ndarray, step: Step) -> OwnPass:
        """The frame's own pass that `step` asks for (the full look, the low pass or none):
        it depends on the pixels alone, so it may run in another thread, ahead of tracking."""
        fo = self.detector.options
        h, w = image.shape[:2]
        if step.full:
            with self._full if takes_turns(w, h) else contextlib.nullcontext():
                sure, maybe = self.detector.detect_all(image, candidates=True, video=True)
            return OwnPass(step, [sure.xyxy, maybe.xyxy], [sure.score, maybe.score],
                           len(fo.passes(w, h, video=True)))
        if step.low:
            b, sc = self.detector.detect_at(image, self.schedule.low_scale(w, h),
                                            fo.candidate_threshold)
            return OwnPass(step, [b], [sc], 1)
        return OwnPass(step, [], [], 0)

    def finish(self, image: np.ndarray, expected: np.ndarray | None,
               own: OwnPass) -> tuple[Detections, Detections, Look]:
        """Closer looks where tracking expects faces that the frame's own pass did not find
        with confidence, merged with that pass into confident faces and candidates."""
        s = self.schedule
        fo = self.detector.options
        h, w = image.shape[:2]
        full = own.step.full
        boxes, scores, passes = list(own.boxes), list(own.scores), own.passes
        skipped = not boxes
        if skipped:
            boxes, scores = [np.zeros((0, 4), np.float32)], [np.zeros((0,), np.float32)]
        own_scale = 1.0 if full else s.low_scale(w, h)  # the scale of the frame's own pass
        if s.closer and expected is not None and len(expected):
            expected = np.asarray(expected, np.float64).reshape(-1, 4)
            # A face the frame's own pass found with confidence needs no closer look.
            found = np.concatenate(boxes)[np.concatenate(scores) >= fo.threshold]
            if len(found):
                seen = iou_matrix(expected, found).max(axis=1) >= s.found_iou
                if s.found_inside:
                    seen |= inside_matrix(expected, found).max(axis=1) >= s.found_inside
                expected = expected[~seen]
            if skipped and not s.closer_when_skipped:
                expected = expected[:0]  # the whole frame is left to tracking
            elif skipped:
                # Faces the low pass sees are interpolated by tracking on the frames it skips;
                # only those too small for it need a look here.
                side = np.maximum(expected[:, 2] - expected[:, 0], expected[:, 3] - expected[:, 1])
                expected = expected[side * own_scale < s.closer_face / 4]
            for crop, scale in self._closer_looks(expected, w, h, own_scale):
                x1, y1, x2, y2 = crop
                b, sc = self.detector.detect_at(image[y1:y2, x1:x2], scale,
                                                fo.candidate_threshold)
                b[:, [0, 2]] += x1
                b[:, [1, 3]] += y1
                boxes.append(b)
                scores.append(sc)
                passes += 1
        xyxy = np.concatenate(boxes).reshape(-1, 4).astype(np.float32)
        score = np.concatenate(scores).astype(np.float32)
        sure, maybe = merge_split(xyxy, score, score >= fo.threshold, fo, w, h)
        return sure, maybe, Look(full, own.step.blind, passes)

    def _closer_looks(self, expected: np.ndarray, w: int, h: int,
                      own_scale: float) -> list[tuple[tuple[int, int, int, int], float]]:
        """(crop x1, y1, x2, y2; scale) for each expected face worth a closer look."""
        s = self.schedule
        side = np.maximum(expected[:, 2] - expected[:, 0], expected[:, 3] - expected[:, 1])
        looks = []
        for i in np.argsort(side, kind="stable"):
            face = max(float(side[i]), 4.0)
            scale = float(np.clip(s.closer_face / face, 1.0, s.closer_max_scale))
            # Only where the closer look sees the face much larger than the frame's own pass.
            if scale < own_scale * s.closer_min_gain:
                continue
            cx = (expected[i, 0] + expected[i, 2]) / 2
            cy = (expected[i, 1] + expected[i, 3]) / 2
            half = max(face * (0.5 + s.closer_context), s.closer_min_crop / scale / 2)
            x1, x2 = int(max(0, np.floor(cx - half))), int(min(w, np.ceil(cx + half)))
            y1, y2 = int(max(0, np.floor(cy - half))), int(min(h, np.ceil(cy + half)))
            if x2 - x1 < 8 or y2 - y1 < 8:
                continue  # the expected face has left the frame
            looks.append(((x1, y1, x2, y2), scale))
            if len(looks) >= s.max_closer:
                break
        return looks

