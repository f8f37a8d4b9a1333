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
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
from PIL import Image

from faceless.analyze import Analyzer, VideoAnalysis
from faceless.anonymize import Redactor
from faceless.anonymize.operators import redaction_mask
from faceless.core.errors import ConfigError
from faceless.core.geometry import scale_box
from faceless.core.types import FrameRef, Kind, Region
from faceless.eval import metrics as M
from faceless.eval.loaders import WIDER_SUBSETS, Dataset, Obj, Sample
from faceless.media.video import VideoFrame
from faceless.options import Options
from faceless.track.tracker import Tracker, TrackOptions

log = logging.getLogger(__name__)

RegionSource = Callable[[Iterable[np.ndarray]], Iterator[list[Region]]]
"""Takes the frames of one sequence (or one image) in order; yields each frame's regions."""

Progress = Callable[[int, int], None]
ImageHook = Callable[[int, Sample, np.ndarray, list[Region]], None]

DEFAULT_SWEEP = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# A person box is mostly body: hiding its face covers a few percent of it. A person counts as
# hidden when this share of its box is hidden, i.e. something (its face) was found on it.
PERSON_COVER = 0.01


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


@dataclass(frozen=True)
class EvalConfig:
    """How a labelled set is judged."""

    cover: float = 0.7  # share of a box's pixels that must be hidden
    person_cover: float = PERSON_COVER
    thresholds: tuple[float, ...] = DEFAULT_SWEEP  # () turns the sweep off
    pixels: bool = False  # also judge rendered pixels (changed > 2 levels), as redaction_eval
    misses: int = 0  # keep crops of this many of the worst misses

    def __post_init__(self) -> None:
        for name in ("cover", "person_cover"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must lie in (0, 1], got {getattr(self, name)}")
        if any(not 0.0 < t < 1.0 for t in self.thresholds):
            raise ConfigError(f"sweep thresholds must lie in (0, 1), got {self.thresholds}")
        object.__setattr__(self, "thresholds", tuple(sorted(set(self.thresholds))))

    def cover_for(self, kind: str) -> float:
        return self.person_cover if kind == "person" else self.cover


@dataclass
class ObjResult:
    """How much of one labelled object ended up hidden."""

    kind: str
    side: float
    coverage: float
    hidden: bool
    sample: int  # index into the dataset's samples
    track_id: int | None = None
    pixel_coverage: float | None = None
    swept: list[bool] = field(default_factory=list)  # hidden at each sweep threshold


@dataclass
class ImageResult:
    """One judged image."""

    sample: int
    width: int
    height: int
    seconds: float
    regions: Counter[str]
    false_regions: Counter[str]
    over_redaction: float
    pixel_over_redaction: float | None = None
    objects: list[ObjResult] = field(default_factory=list)
    swept_over: list[float] = field(default_factory=list)
    swept_false: list[int] = field(default_factory=list)
    detections: tuple[np.ndarray, np.ndarray] | None = None  # unscaled face boxes, scores


@dataclass(order=True)
class Miss:
    """A missed object's crop, for the contact sheet (worst = largest)."""

    priority: float
    crop: np.ndarray = field(compare=False)
    caption: str = field(compare=False)


@dataclass
class EvalResult:
    """Everything measured; `summary()` turns it into plain data."""

    dataset: Dataset
    options: Options
    config: EvalConfig
    images: list[ImageResult]
    failures: list[tuple[str, str]]
    sweep: tuple[float, ...]
    misses: list[Miss]
    seconds: float
    tracked: bool = False

    def summary(self) -> dict[str, Any]:
        return summarize(self)


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


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None else round(float(v), nd)


def summarize(res: EvalResult) -> dict[str, Any]:
    """Plain data (JSON-ready) from an EvalResult."""
    ds, cfg, opts = res.dataset, res.config, res.options
    imgs = res.images
    n_img = len(imgs)
    objs = [o for im in imgs for o in im.objects]
    kinds = sorted({o.kind for o in objs} | set(ds.kinds()))
    seconds = sum(im.seconds for im in imgs)
    mpix = sum(im.width * im.height for im in imgs) / 1e6
    per_kind: dict[str, Any] = {}
    for k in kinds:
        ko = [o for o in objs if o.kind == k]
        entry: dict[str, Any] = {
            "objects": len(ko),
            "hidden": sum(o.hidden for o in ko),
            "recall": _r(M.recall(o.hidden for o in ko)),
            "cover": cfg.cover_for(k),
            "mean_coverage": _r(float(np.mean([o.coverage for o in ko])) if ko else None),
            "touched": _r(M.recall(o.coverage > 0 for o in ko)),
            "by_size": {b: {"n": v["n"], "recall": _r(v["recall"])}
                        for b, v in M.recall_by_size((o.side, o.hidden) for o in ko).items()},
        }
        if cfg.pixels:
            px = [(o.pixel_coverage or 0.0) >= cfg.cover_for(k) for o in ko]
            entry["recall_pixels"] = _r(M.recall(px))
            entry["by_size_pixels"] = {
                b: {"n": v["n"], "recall": _r(v["recall"])}
                for b, v in M.recall_by_size((o.side, p) for o, p in zip(ko, px, strict=True)
                                             ).items()}
        if ds.is_sequence:
            entry["leaks"] = _leaks(res, ko)
        per_kind[k] = entry
    region_kinds = sorted({k for im in imgs for k in im.regions})
    out: dict[str, Any] = {
        "dataset": {"format": ds.format, "root": str(ds.root), "images": len(ds.samples),
                    "judged": n_img, "failed": len(res.failures), "sequence": ds.is_sequence},
        "settings": {**opts.settings(), "threshold": opts.face.threshold, "cover": cfg.cover,
                     "person_cover": cfg.person_cover, "judge": "redaction mask",
                     "tracking": res.tracked},
        "kinds": per_kind,
        "over_redaction": _r(float(np.mean([im.over_redaction for im in imgs])) if imgs
                             else None, 5),
        "regions_per_image": {k: _r(sum(im.regions[k] for im in imgs) / max(1, n_img), 3)
                              for k in region_kinds},
        "false_regions_per_image": {k: _r(sum(im.false_regions[k] for im in imgs)
                                          / max(1, n_img), 3) for k in region_kinds},
        "time": {"detect_seconds": _r(seconds, 3),
                 "seconds_per_image": _r(seconds / n_img if n_img else None, 4),
                 "seconds_per_megapixel": _r(seconds / mpix if mpix else None, 4),
                 "megapixels": _r(mpix, 3), "wall_seconds": _r(res.seconds, 2),
                 "detect_threshold": min((opts.face.threshold, *res.sweep))},
        "failures": [{"input": p, "error": e} for p, e in res.failures],
    }
    if cfg.pixels:
        out["over_redaction_pixels"] = _r(float(np.mean([im.pixel_over_redaction or 0.0
                                                         for im in imgs])) if imgs else None, 5)
    if res.sweep:
        out["sweep"] = [
            {"threshold": t,
             "recall": {k: _r(M.recall(o.swept[j] for o in objs if o.kind == k))
                        for k in kinds},
             "over_redaction": _r(float(np.mean([im.swept_over[j] for im in imgs]))
                                  if imgs else None, 5),
             "false_regions_per_image": _r(sum(im.swept_false[j] for im in imgs)
                                           / max(1, n_img), 3)}
            for j, t in enumerate(res.sweep)]
    if any(o.subsets for s in ds.samples for o in s.objects):
        out["wider_ap"] = wider_ap(res)
    return out


def wider_ap(res: EvalResult) -> dict[str, Any]:
    """WIDER FACE AP (IoU 0.5) per subset from the detections found at the sweep's floor."""
    preds, judged = [], []
    for im in res.images:
        assert im.detections is not None
        preds.append(im.detections)
        judged.append(res.dataset.samples[im.sample])
    out: dict[str, Any] = {"iou": 0.5, "min_score": min((res.options.face.threshold,
                                                         *res.sweep))}
    for subset in WIDER_SUBSETS:
        gts = [(np.array([o.box for o in s.objects], np.float64).reshape(-1, 4),
                np.array([subset in o.subsets for o in s.objects], bool)) for s in judged]
        ap, _ = M.wider_ap(preds, gts)
        out[subset] = round(ap, 4)
    return out


def _leaks(res: EvalResult, objs: list[ObjResult]) -> dict[str, Any]:
    """Leaked object-frames and the longest run of them for one track."""
    samples = res.dataset.samples
    tracks: dict[tuple[str, int | None], list[tuple[int, bool]]] = {}
    for o in objs:
        s = samples[o.sample]
        tracks.setdefault((s.sequence, o.track_id), []).append((s.frame, not o.hidden))
    best: dict[str, Any] = {"frames": 0, "sequence": None, "track_id": None,
                            "first_frame": None, "seconds": None}
    for (seq, tid), items in tracks.items():
        n, start = M.longest_run([f for f, _ in items], [b for _, b in items])
        if n > best["frames"]:
            fps = next((samples[o.sample].fps for o in objs
                        if samples[o.sample].sequence == seq), None)
            best = {"frames": n, "sequence": seq, "track_id": tid, "first_frame": start,
                    "seconds": round(n / fps, 3) if fps else None}
    leaked = sum(not o.hidden for o in objs)
    return {"object_frames": len(objs), "leaked": leaked,
            "leaked_share": _r(leaked / len(objs) if objs else None),
            "tracks": len(tracks), "tracks_leaking": sum(
                any(b for _, b in v) for v in tracks.values()), "longest": best}


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
