"""The data of an evaluation: how it is judged, what it found, and its plain-data summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceless.core.errors import ConfigError
from faceless.eval import metrics as M
from faceless.eval.loaders import WIDER_SUBSETS, Dataset
from faceless.options import Options

DEFAULT_SWEEP = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# A person box is mostly body: hiding its face covers a few percent of it. A person counts as
# hidden when this share of its box is hidden, i.e. something (its face) was found on it.
PERSON_COVER = 0.01


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
