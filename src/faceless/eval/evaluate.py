"""Run a configuration over a labelled set and judge the pixels it would hide.

Recall is judged on the very mask the renderer uses (`redaction_mask`), so a blur that leaves
a flat patch looking unchanged still counts as hidden (it is: those pixels were replaced).
`EvalConfig.pixels` also renders each image and judges changed pixels the way
../shared/tools/redaction_eval.py does, to show where the two disagree.

Frames reach the detector through a RegionSource, a function from an iterator of frames to an
iterator of per-frame regions: `Analyzer.regions` frame by frame for images, the video analysis's
tracker over each frame sequence (as `faceless run` over a video). A threshold sweep (for the
recall / over-redaction curve and WIDER AP) comes from one detection pass at the lowest
threshold, filtered by score: greedy NMS keeps the same boxes above a score whatever
lower-scored boxes exist, so the filtered sets are what a run at each threshold finds (exactly
so for thresholds up to the extra passes' own, 0.3 by default).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from fractions import Fraction

import numpy as np
from PIL import Image

from faceless.analyze import Analyzer, VideoAnalysis
from faceless.anonymize import Redactor
from faceless.anonymize.operators import redaction_mask
from faceless.core.errors import ConfigError
from faceless.core.geometry import scale_box
from faceless.core.types import FrameRef, Kind, Region
from faceless.eval import metrics as M
from faceless.eval.loaders import Dataset, Obj, Sample
from faceless.eval.results import (
    DEFAULT_SWEEP,
    EvalConfig,
    EvalResult,
    ImageResult,
    Miss,
    ObjResult,
    summarize,
)
from faceless.media.video import VideoFrame
from faceless.options import Options
from faceless.track.tracker import Tracker, TrackOptions

log = logging.getLogger(__name__)

RegionSource = Callable[[Iterable[np.ndarray]], Iterator[list[Region]]]
"""Takes the frames of one sequence (or one image) in order; yields each frame's regions."""

Progress = Callable[[int, int], None]
ImageHook = Callable[[int, Sample, np.ndarray, list[Region]], None]

def analyzer_source(analyzer: Analyzer) -> RegionSource:
    """The frame-by-frame RegionSource: `analyzer.regions` on each frame."""

    def source(frames: Iterable[np.ndarray]) -> Iterator[list[Region]]:
        for frame in frames:
            yield analyzer.regions(frame)

    return source


def tracked_source(analyzer: Analyzer, track: TrackOptions, fps: float = 30.0) -> RegionSource:
    """A RegionSource that tracks over each sequence as `faceless run` does over a video.

    Mirrors a video's analysis: raw detections and low-score candidates go to a fresh
    Tracker per sequence, scene cuts end tracks; frame k gets the time k / fps.
    """
    time_base = Fraction(1) / Fraction(fps).limit_denominator(1001)

    def source(frames: Iterable[np.ndarray]) -> Iterator[list[Region]]:
        video = (VideoFrame(f, FrameRef(k, k, time_base)) for k, f in enumerate(frames))
        for _, final, _ in VideoAnalysis(analyzer, Tracker(track), keep_images=False).run(video):
            yield final

    return source


def _keep(regions: list[Region], threshold: float) -> list[Region]:
    """The regions a run at `threshold` would find (face scores are strictly above it)."""
    return [r for r in regions if r.kind is not Kind.FACE or r.score > threshold]


def load_rgb(sample: Sample) -> np.ndarray:
    """An image's pixels as stored (no EXIF rotation: labels use the stored pixel grid)."""
    with Image.open(sample.image) as im:
        return np.asarray(im.convert("RGB"))


def uses_tracking(dataset: Dataset, options: Options) -> bool:
    """Whether evaluate() tracks over this set: frame sequences, when tracking is on."""
    return dataset.is_sequence and options.track is not None


def make_analyzer(options: Options, config: EvalConfig, dataset: Dataset | None = None
                ) -> Analyzer:
    """The analyzer evaluate() uses: for a sweep, one that finds faces down to its lowest
    threshold; for a tracked sequence, exactly the configured one."""
    if dataset is not None and uses_tracking(dataset, options):
        return Analyzer(options)
    floor = min((options.face.threshold, *config.thresholds))
    return Analyzer(replace(options, face=replace(options.face, threshold=floor)))


def evaluate(dataset: Dataset, options: Options | None = None,
             config: EvalConfig | None = None, *, source: RegionSource | None = None,
             analyzer: Analyzer | None = None, progress: Progress | None = None,
             on_image: ImageHook | None = None) -> EvalResult:
    """Detect on every sample (sequences in frame order) and judge what would be hidden.

    `analyzer` defaults to make_analyzer(options, config); `source` to analyzer_source(analyzer).
    `on_image(index, sample, image, regions)` sees each image with the regions the
    configured threshold keeps (to save the rendered result, say).
    """
    options = options or Options()
    config = config or EvalConfig()
    sweep = tuple(config.thresholds)
    tracked = source is None and uses_tracking(dataset, options)
    if tracked:
        # The tracker must see what the configured threshold finds (and its low-score
        # candidates), so a tracked sequence is judged at that threshold only: no sweep.
        sweep = ()
        analyzer = analyzer or make_analyzer(options, config, dataset)
        if analyzer.options.face.threshold != options.face.threshold:
            raise ConfigError("a tracked sequence needs an analyzer at the configured threshold "
                              "(make_analyzer(options, config, dataset))")
        fps = next((s.fps for s in dataset.samples if s.fps), None) or 30.0
        assert options.track is not None
        source = tracked_source(analyzer, options.track, fps)
    analyzer = analyzer or make_analyzer(options, replace(config, thresholds=sweep))
    source = source or analyzer_source(analyzer)
    groups: list[list[int]] = []
    if dataset.is_sequence:
        by_seq: dict[str, list[int]] = {}
        for i, s in enumerate(dataset.samples):
            by_seq.setdefault(s.sequence, []).append(i)
        groups = [sorted(v, key=lambda i: dataset.samples[i].frame) for v in by_seq.values()]
    else:
        groups = [[i] for i in range(len(dataset.samples))]
    results: list[ImageResult] = []
    failures: list[tuple[str, str]] = []
    misses: list[Miss] = []
    done = 0
    t_start = time.monotonic()
    for group in groups:
        loaded: deque[tuple[int, np.ndarray]] = deque()
        load_s = [0.0]  # time spent reading frames, which is not the detector's

        def frames(group: list[int] = group, loaded: deque[tuple[int, np.ndarray]] = loaded,
                   load_s: list[float] = load_s) -> Iterator[np.ndarray]:
            for i in group:
                t0 = time.perf_counter()
                try:
                    img = load_rgb(dataset.samples[i])
                except (OSError, ValueError, Image.DecompressionBombError) as err:
                    failures.append((str(dataset.samples[i].image), f"cannot read it: {err}"))
                    continue
                finally:
                    load_s[0] += time.perf_counter() - t0
                loaded.append((i, img))
                yield img

        it = source(frames())
        while True:
            t0, l0 = time.perf_counter(), load_s[0]
            try:
                regions = next(it)
            except StopIteration:
                break
            except Exception as err:  # a detector failure ends this group, not the run
                failures.append((str(dataset.samples[group[0]].image),
                                 f"analysis failed: {err}"))
                log.info("analysis failed on %s", dataset.samples[group[0]].image, exc_info=True)
                break
            spent = time.perf_counter() - t0 - (load_s[0] - l0)
            i, img = loaded.popleft()
            res = judge_image(i, dataset.samples[i], img, list(regions), options, config,
                              analyzer, max(0.0, spent), sweep, misses)
            results.append(res)
            if on_image is not None:
                on_image(i, dataset.samples[i], img,
                         _keep(list(regions), options.face.threshold) if sweep else regions)
            done += 1
            if progress:
                progress(done, len(dataset.samples))
        for i, _ in loaded:  # frames the source read but never answered for
            failures.append((str(dataset.samples[i].image), "no regions came back for it"))
    misses.sort(reverse=True)
    return EvalResult(dataset, options, config, results, failures, sweep, misses,
                      time.monotonic() - t_start, tracked)


def judge_image(index: int, sample: Sample, image: np.ndarray, regions: list[Region],
                options: Options, config: EvalConfig, analyzer: Analyzer, seconds: float,
                sweep: tuple[float, ...], misses: list[Miss]) -> ImageResult:
    """Judge one image's regions (found at the sweep's floor) against its labels."""
    h, w = image.shape[:2]
    spec = options.operator
    # With a sweep, detection ran at its lowest threshold: keep what the configured one finds.
    op = _keep(regions, options.face.threshold) if sweep else regions
    hidden = redaction_mask(h, w, op, spec)
    labelled = [o.box for o in sample.objects]
    outside = M.outside_mask(h, w, labelled)
    changed = None
    if config.pixels:
        changed = M.changed_pixels(image, Redactor(options.specs(spec)).hide(image, op))
    res = ImageResult(
        index, w, h, seconds, Counter(str(r.kind) for r in op),
        Counter(str(r.kind) for r in op if not M.overlaps_any(r.box, labelled)),
        M.over_redaction(hidden, outside),
        M.over_redaction(changed, outside) if changed is not None else None)
    counted: list[Obj] = []
    for o in sample.objects:
        if o.ignore:
            continue
        cov = M.coverage(hidden, o.box)
        if cov is None:  # entirely off the frame: nothing to hide, nothing to judge
            continue
        counted.append(o)
        hid = cov >= config.cover_for(o.kind)
        r = ObjResult(o.kind, o.short_side, cov, hid, index, o.track_id,
                      M.coverage(changed, o.box) if changed is not None else None)
        res.objects.append(r)
        if not hid and config.misses:
            _keep_miss(misses, config.misses, image, hidden, o, cov, sample)
    if sweep:
        masks = _sweep_masks(h, w, regions, sweep, spec)
        for t, m in zip(sweep, masks, strict=True):
            for o, r in zip(counted, res.objects, strict=True):
                r.swept.append((M.coverage(m, o.box) or 0.0) >= config.cover_for(o.kind))
            res.swept_over.append(M.over_redaction(m, outside))
            res.swept_false.append(M.false_regions(
                (r.box for r in _keep(regions, t)), labelled))
    faces = [r for r in regions if r.kind is Kind.FACE]
    res.detections = (
        np.array([scale_box(r.box, 1.0 / options.mask_scale) for r in faces],
                 np.float64).reshape(-1, 4),
        np.array([r.score for r in faces], np.float64))
    return res


def _sweep_masks(h: int, w: int, regions: list[Region], sweep: tuple[float, ...],
                 spec: object) -> list[np.ndarray]:
    """Redaction masks at each threshold (ascending), built from high to low threshold."""
    out: list[np.ndarray] = []
    mask = np.zeros((h, w), bool)
    upper = None
    for t in sorted(sweep, reverse=True):
        new = [r for r in regions if (r.kind is not Kind.FACE and upper is None)
               or (r.kind is Kind.FACE and r.score > t and (upper is None or r.score <= upper))]
        if new:
            mask = mask | redaction_mask(h, w, new, spec)  # type: ignore[arg-type]
        out.append(mask)
        upper = t
    return out[::-1]


def _keep_miss(misses: list[Miss], limit: int, image: np.ndarray, hidden: np.ndarray,
               o: Obj, cov: float, sample: Sample) -> None:
    side = o.short_side
    if len(misses) >= limit and side <= misses[0].priority:
        return
    from faceless.eval.report import miss_crop

    item = Miss(side, miss_crop(image, hidden, o.box),
                f"{side:.0f}px {cov:.0%} {sample.image.stem}")
    if len(misses) >= limit:
        heapq.heapreplace(misses, item)
    else:
        heapq.heappush(misses, item)


# --------------------------------------------------------------------------- summary


__all__ = [
    "DEFAULT_SWEEP",
    "EvalConfig",
    "EvalResult",
    "RegionSource",
    "analyzer_source",
    "evaluate",
    "judge_image",
    "load_rgb",
    "make_analyzer",
    "summarize",
    "tracked_source",
    "uses_tracking",
]
