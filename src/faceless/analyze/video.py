"""A video's analysis: each frame's own searches ahead, then closer looks and tracking, in order.

Each frame's own searches (the face pass its schedule gives it, a plate search) depend on its
pixels alone, so they may run in a pool of workers ahead of the tracking. Closer looks need
the tracks of the frames before, so they run in frame order in the analysing thread, then
the tracker adds what single frames miss. With or without workers the regions are the same.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from faceless.analyze.analyzer import Analyzer, Found, Slot
from faceless.analyze.concurrency import Ahead, Submit
from faceless.core.geometry import scale_box
from faceless.core.types import Detections, FrameRef, Kind, Region
from faceless.detect.base import ScaledDetector
from faceless.detect.guided import GuidedFaces, Look, OwnPass, takes_turns
from faceless.detect.onnx import single_threaded_lane
from faceless.detect.sparse import closer_looks
from faceless.media.video import VideoFrame, VideoInfo, Yuv, rgb_of
from faceless.options import Options
from faceless.track.cuts import CutDetector
from faceless.track.tracker import Tracker

T = TypeVar("T")

Analysed = tuple[FrameRef, list[Region], VideoFrame | None]
"""One frame's result: its reference, its regions, and the frame itself when kept."""

# The tracker holds a window of frames (25 by default) until their regions are final. Frames
# of this many pixels and more (1080p and up) wait there as the decoder's planes alone, a
# third of the memory of planes and RGB, and get their RGB back, the same bytes, when they
# leave (docs/decisions: memory bound, and 0038).
COMPACT_PIXELS = 2_000_000


@dataclass(frozen=True)
class _Planes:
    """A frame waiting in the tracker's window as its planes alone (see COMPACT_PIXELS)."""

    ref: FrameRef
    yuv: Yuv


def _held(vf: VideoFrame) -> VideoFrame | _Planes:
    h, w = vf.image.shape[:2]
    return _Planes(vf.ref, vf.yuv) if vf.yuv is not None and h * w >= COMPACT_PIXELS else vf


def _released(out: list[Analysed]) -> Iterator[Analysed]:
    """Frames leaving the window, each with its RGB picture again, made as each is taken: the
    window's last frames all leave at once at the end, and their RGB would then all be held
    together."""
    for ref, regions, p in out:
        yield ref, regions, (VideoFrame(rgb_of(p.yuv), p.ref, p.yuv) if isinstance(p, _Planes)
                             else p)


@dataclass(frozen=True)
class FrameJob:
    """One frame on its way through the analysis, with its own searches already started.

    `passes` and `searches` have one entry per analyzer slot: the frame's own pass of a
    scheduled face detector, or the whole-frame search of any other detector that searches
    this frame, running in a worker; None elsewhere.
    """

    frame: VideoFrame
    cut: bool  # a new shot starts here
    passes: tuple[Future[OwnPass] | None, ...]
    searches: tuple[Future[Found] | None, ...]


def lookahead(options: Options, info: VideoInfo) -> tuple[int, int]:
    """(workers, depth) of a video's look-ahead searches: none unless pipelined.

    One worker a CPU core this process may use (fewer when `options.face.threads` caps
    them, for a caller running several processes side by side), at most 4, and at most 2
    where every frame runs every pass (no face schedule, or no tracking: each worker then
    holds a whole frame's passes at once); enough frames ahead for the others to go on while
    one worker runs a full look, two more than the workers from 1080p up (their large passes
    take turns). Frames ahead are bounded to ~256 MB (on huge frames: one worker, two frames
    ahead).
    """
    if not options.pipelined:
        return 0, 0
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    every_pass = options.schedule is None or options.track is None
    workers = min(2 if every_pass else 4, cores, options.face.threads or cores)
    frame_bytes = max(1, info.width * info.height * 9 // 2)  # RGB and the decoder's planes
    fit = 256_000_000 // frame_bytes
    workers = max(1, min(workers, fit - 1))
    depth = max(workers + 1, min(workers + 8, fit))
    if takes_turns(info.width, info.height):
        # Large frames' whole-frame passes take turns, so frames further ahead would only
        # wait, each holding a large frame (docs/decisions/0044).
        depth = min(depth, workers + 2)
    return workers, depth


def tracker_for(options: Options) -> Tracker | None:
    """The video tracker for these options (None: frame by frame)."""
    if options.track is None:
        return None
    track = options.track
    if Kind.PLATE not in options.hide and track.back_hold:
        # back_hold follows plates backwards; faces have their own face_back_hold.
        track = replace(track, back_hold=0)
    if not options.hide & {Kind.PLATE, Kind.TEXT, Kind.HEAD, Kind.PERSON}:
        track = replace(track, sparse_gap=0)  # its longer window would hold frames for nothing
    return Tracker(track)


def blind_frames(look: Look | None, index: int, text_every: int) -> dict[Kind, int]:
    """Frames before frame `index` in which each kind went unsearched (see Tracker.push)."""
    sparse = text_every - 1 if index % text_every == 0 else 0
    return {Kind.FACE: look.blind if look is not None else 0,
            Kind.PLATE: sparse, Kind.TEXT: sparse, Kind.HEAD: sparse, Kind.PERSON: sparse}


class VideoAnalysis:
    """The regions of one video's frames, in order, tracked when a tracker is given.

    Make one per video: the cut detector, the face schedule and the tracker keep state from
    frame to frame. `keep_images` yields each VideoFrame with its regions (for writing it);
    `workers` and `depth` size the look-ahead (see `lookahead`; 0 workers: all in this
    thread). The tracker holds a bounded window of frames, so memory does not grow with the
    video.
    """

    def __init__(self, analyzer: Analyzer, tracker: Tracker | None, keep_images: bool,
                 workers: int = 0, depth: int = 4) -> None:
        self.analyzer = analyzer
        self.tracker = tracker
        self.keep_images = keep_images
        self.workers, self.depth = workers, depth
        options = analyzer.options
        # Whole-frame passes on large frames (a full face look, a plate or text search) run
        # one at a time (detect.guided.takes_turns).
        self._large = threading.Lock()
        # One face schedule per scheduled face slot, aligned with the analyzer's slots.
        self._guided: tuple[GuidedFaces | None, ...] = tuple(
            GuidedFaces(s.guided, options.schedule, self._large)
            if s.guided is not None and options.schedule is not None else None
            for s in analyzer.slots)
        self._cuts = (CutDetector(tracker.options.cut_threshold) if tracker is not None
                      else None)
        # Tracks hold head-sized boxes; the detector's are not grown.
        self._shrink = 1.0 / options.mask_scale
        # The frame being analysed, which the closer looks read.
        self._job: FrameJob | None = None
        self._look: Look | None = None
        # Set to {} to collect each frame's strongest low-score candidates (frame index ->
        # regions), accepted or not, for a plan to note the few that nothing hides.
        self.candidates: dict[int, list[Region]] | None = None

    def run(self, frames: Iterator[VideoFrame]) -> Generator[Analysed, None, None]:
        """(ref, regions, the VideoFrame or None) for each frame, in order.

        With workers, close the iterator (or exhaust it) to stop their threads.
        """
        if self.tracker is None:
            yield from self._frame_by_frame(frames)
            return
        tracker = self.tracker
        text_every = self.analyzer.options.text_every
        with self._ahead(frames, self._start) as jobs:
            for job in jobs:
                self._job, self._look = job, None
                vf = job.frame
                regions, candidates = self.analyzer.analyse(
                    vf.image, video=True, frame_index=vf.ref.index,
                    faces=self._faces if any(self._guided) else None,
                    between=None if job.cut else self._closer,
                    started=[None if f is None else f.result for f in job.searches])
                if self.candidates is not None and candidates:
                    self.candidates[vf.ref.index] = sorted(
                        candidates, key=lambda r: -r.score)[:16]
                # The pixels go to the tracker in every path (run and detect alike, so both
                # give the same regions) for its visual hold; it keeps only small patches.
                yield from _released(tracker.push(
                    vf.ref, regions, candidates, cut=job.cut,
                    payload=_held(vf) if self.keep_images else None,
                    blind=blind_frames(self._look, vf.ref.index, text_every),
                    image=vf.image))
        yield from _released(tracker.flush())

    def _frame_by_frame(self, frames: Iterator[VideoFrame]) -> Iterator[Analysed]:
        def start(vf: VideoFrame, submit: Submit) -> tuple[VideoFrame, Future[list[Region]]]:
            return vf, submit(self.analyzer.regions, vf.image, True)

        with self._ahead(frames, start) as items:
            for vf, regions in items:
                yield vf.ref, regions.result(), vf if self.keep_images else None

    def _start(self, vf: VideoFrame, submit: Submit) -> FrameJob:
        """Start a frame's own searches; runs in frame order (the cut detector and the face
        schedule keep state), ahead of the tracking."""
        assert self._cuts is not None
        cut, (h, w) = self._cuts(vf.image), vf.image.shape[:2]
        passes: list[Future[OwnPass] | None] = []
        searches: list[Future[Found] | None] = []
        for slot, guided in zip(self.analyzer.slots, self._guided, strict=True):
            own = guided is None and self.analyzer.searches(slot, vf.ref.index)
            passes.append(None if guided is None
                          else submit(guided.own_pass, vf.image, guided.step(w, h, cut)))
            searches.append(submit(self._search, slot, vf.image) if own else None)
        return FrameJob(vf, cut, tuple(passes), tuple(searches))

    def _search(self, slot: Slot, image: np.ndarray) -> Found:
        h, w = image.shape[:2]
        with self._large if takes_turns(w, h) else contextlib.nullcontext():
            return Analyzer.search(slot, image, candidates=True, video=True)

    def _faces(self, slot: Slot, image: np.ndarray) -> tuple[Detections, Detections]:
        """The face search of the frame being analysed: its own pass, started ahead, and
        closer looks where the tracks expect faces."""
        assert self._job is not None and self.tracker is not None
        guided, own = self._guided[slot.index], self._job.passes[slot.index]
        assert guided is not None and own is not None
        expected = [scale_box(b, self._shrink)
                    for b in self.tracker.expected(self._job.frame.ref.seconds, Kind.FACE)]
        sure, maybe, self._look = guided.finish(image, np.array(expected).reshape(-1, 4),
                                                own.result())
        return sure, maybe

    def _closer(self, slot: Slot, det: ScaledDetector, image: np.ndarray) -> Detections:
        """Closer looks for plates and text around their tracks, on a frame they do not
        search whole (every `sparse.every`-th such frame)."""
        assert self._job is not None and self.tracker is not None
        sparse, ref = self.analyzer.options.sparse, self._job.frame.ref
        if not sparse.every or ref.index % sparse.every:
            return Detections.empty(det.kind)
        expected = np.array(self.tracker.expected(ref.seconds, det.kind)).reshape(-1, 4)
        if not len(expected):
            return Detections.empty(det.kind)
        h, w = image.shape[:2]
        return closer_looks(det.detect, image, expected, det.kind, [det.main_pass(w, h)],
                            sparse)

    def _ahead(self, frames: Iterator[VideoFrame],
               start: Callable[[VideoFrame, Submit], T]) -> Ahead[VideoFrame, T]:
        """Frames' own searches started `depth` frames ahead in `workers` threads, each
        running its passes on one thread (see detect.onnx.single_threaded_lane)."""
        return Ahead(frames, start, self.workers, self.depth, name="faceless-search",
                     initializer=single_threaded_lane)
