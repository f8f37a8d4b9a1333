"""The one-call API: detect, plan and render images and videos, failing closed."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from faceless import __version__
from faceless.analyze.analyzer import Analyzer, AnalyzerCache
from faceless.analyze.concurrency import stages
from faceless.analyze.video import VideoAnalysis, lookahead, tracker_for
from faceless.anonymize.operators import OperatorSpec
from faceless.anonymize.redactor import Redactor
from faceless.core.digest import sha256_file
from faceless.core.errors import ConfigError, PlanError, UnsupportedFormatError
from faceless.core.types import Decision, Region
from faceless.media.files import atomic_output, check_paths, default_output
from faceless.media.image import IMAGE_EXTENSIONS, read_image, write_image
from faceless.media.video import (
    VIDEO_EXTENSIONS,
    VideoFrame,
    VideoInfo,
    VideoWriter,
    iter_frames,
    probe_video,
)
from faceless.media.video.audio import AudioCut
from faceless.options import Options, plan_specs
from faceless.plan.candidates import note_candidates
from faceless.plan.model import FramePlan, Plan, SourceInfo
from faceless.track.tracker import Tracker

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]
"""Called as progress(done, total) after each frame; total is None when unknown."""

_analyzers = AnalyzerCache()


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


def write_frame(writer: VideoWriter, frame: VideoFrame, redactor: Redactor,
                regions: list[Region]) -> None:
    """Hide one decoded video frame's regions and encode it: only the hidden spans are
    converted back from RGB, the rest of the picture passes through as decoded."""
    image, spans = redactor.redact(frame.image, regions)
    writer.write(image, frame.ref, source=frame.yuv, changed=spans)


def anonymize_image(image: np.ndarray, options: Options | None = None) -> np.ndarray:
    """Return a copy of an upright RGB uint8 image with everything found hidden."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ConfigError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    analyzer = _analyzers.get(options)
    return Redactor(analyzer.options.specs()).hide(image, analyzer.regions(image))


@dataclass
class _Record:
    """What a run keeps of each frame: counts always, the frames only when a plan is asked
    for (so memory stays flat on long videos)."""

    keep_frames: bool
    frames: list[FramePlan] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    n: int = 0

    def add(self, index: int, pts: int, regions: list[Region]) -> None:
        self.n += 1
        self.counts.update(str(r.kind) for r in regions if r.decision is Decision.REDACT)
        if self.keep_frames:
            self.frames.append(FramePlan(index, pts, regions))


def _tracks(tracker: Tracker | None) -> list[dict[str, Any]]:
    return [] if tracker is None else [t.to_dict() for t in tracker.summaries.values()]


def _plan(source: SourceInfo, record: _Record, analyzer: Analyzer,
          tracks: list[dict[str, Any]]) -> Plan:
    return Plan(source, record.frames, analyzer.options.settings(), analyzer.model_cards(),
                f"faceless {__version__}", tracks)


def _video_source(src: Path, info: VideoInfo, digest: str = "") -> SourceInfo:
    return SourceInfo(str(src), digest, "video", info.width, info.height, info.time_base,
                      info.frame_count)


def detect_file(src: Path, options: Options | None = None, progress: Progress | None = None,
                analyzer: Analyzer | None = None) -> Plan:
    """Analyse one image or video and return its plan; nothing is written."""
    src = Path(src)
    analyzer = analyzer or _analyzers.get(options)
    opts = analyzer.options
    kind = media_kind(src)
    digest = sha256_file(src)
    record = _Record(keep_frames=True)
    if kind == "image":
        img = read_image(src, opts.image)
        h, w = img.pixels.shape[:2]
        record.add(0, 0, analyzer.regions(img.pixels))
        if progress:
            progress(1, 1)
        return _plan(SourceInfo(str(src), digest, "image", w, h), record, analyzer, [])
    info = probe_video(src)
    tracker = tracker_for(opts)
    analysis = VideoAnalysis(analyzer, tracker, False, *lookahead(opts, info))
    analysis.candidates = {}
    with contextlib.closing(analysis.run(iter_frames(src))) as found:
        for ref, regions, _ in found:
            record.add(ref.index, ref.pts, regions)
            if progress:
                progress(record.n, info.frame_count)
    plan = _plan(_video_source(src, info, digest), record, analyzer, _tracks(tracker))
    note_candidates(plan, analysis.candidates)  # the few low scores nothing hides
    plan.warnings = _short_warnings(src, info, record.n)
    return plan


def _short_warnings(src: Path, info: VideoInfo, decoded: int) -> list[str]:
    """A warning when fewer frames decoded than the container declares."""
    if not info.frame_count or decoded >= info.frame_count:
        return []
    # Every frame that was decoded is hidden, so nothing leaks; but a release that is
    # silently shorter than its source would mislead whoever receives it.
    return [f"{src}: decoded {decoded} of the {info.frame_count} frames the container "
            "declares; the file may be truncated, and the output ends where decoding stopped"]


def anonymize_file(src: Path, dst: Path | None = None, options: Options | None = None,
                   *, plan_path: Path | None = None, progress: Progress | None = None,
                   analyzer: Analyzer | None = None) -> Result:
    """Detect and hide in one streaming pass; write `dst` (default `NAME.faceless.EXT`).

    Fails closed: if any frame cannot be analysed or hidden, no output is left behind.
    `plan_path`, when given, receives the plan that was applied.
    """
    t0 = time.monotonic()
    src = Path(src)
    dst = Path(dst) if dst is not None else default_output(src)
    analyzer = analyzer or _analyzers.get(options)
    opts = analyzer.options
    redactor = Redactor(opts.specs())
    kind = media_kind(src)
    check_paths(src, dst, opts.overwrite)
    record = _Record(keep_frames=plan_path is not None)
    warnings: list[str] = []
    tracks: list[dict[str, Any]] = []
    if kind == "image":
        img = read_image(src, opts.image)
        regions = analyzer.regions(img.pixels)
        with atomic_output(dst) as tmp:
            write_image(tmp, redactor.hide(img.pixels, regions), img, opts.image)
        record.add(0, 0, regions)
        source = SourceInfo(str(src), "", kind, img.pixels.shape[1], img.pixels.shape[0])
        if progress:
            progress(1, 1)
    else:
        info = probe_video(src)
        tracker = tracker_for(opts)
        with atomic_output(dst) as tmp, VideoWriter(tmp, info, opts.video, audio_source=src) as w:

            def encode(item: tuple[VideoFrame, list[Region]]) -> None:
                write_frame(w, item[0], redactor, item[1])

            with stages(iter_frames(src, yuv=True), encode, opts.pipelined) as (
                    decoded, submit, finish):
                analysis = VideoAnalysis(analyzer, tracker, True, *lookahead(opts, info))
                if plan_path is not None:  # a saved plan keeps its low-score candidates
                    analysis.candidates = {}
                with contextlib.closing(analysis.run(decoded)) as found:
                    for ref, regions, vf in found:
                        assert vf is not None
                        submit((vf, regions))
                        record.add(ref.index, ref.pts, regions)
                        if progress:
                            progress(record.n, info.frame_count)
                finish()
        tracks = _tracks(tracker)
        source = _video_source(src, info)
        warnings += _short_warnings(src, info, record.n)
    if plan_path is not None:
        source = replace(source, sha256=sha256_file(src))
        plan = _plan(source, record, analyzer, tracks)
        plan.warnings = list(warnings)
        if kind != "image":
            note_candidates(plan, analysis.candidates or {})
        plan.save(Path(plan_path))
    for text in warnings:
        log.info("%s", text)
    return Result(src, dst, kind, record.n, dict(record.counts), time.monotonic() - t0,
                  tuple(warnings))


def render_plan(plan: Plan, dst: Path, *, source: Path | None = None,
                options: Options | None = None, operator: OperatorSpec | None = None,
                progress: Progress | None = None) -> Result:
    """Apply a (possibly edited) plan to its source media and write `dst` atomically.

    The source must be the very file the plan was made for (same sha256). The plan's own
    operators are used unless `operator` overrides the face operator.
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
    redactor = Redactor(plan_specs(plan.settings, opts, operator))
    if plan.source.media == "image":
        img = read_image(src, opts.image)
        regions = plan.frames[0].regions if plan.frames else []
        with atomic_output(dst) as tmp:
            write_image(tmp, redactor.hide(img.pixels, regions), img, opts.image)
        if progress:
            progress(1, 1)
        return Result(src, dst, "image", 1, plan.counts(), time.monotonic() - t0)
    by_pts = {f.pts: f for f in plan.frames}
    n = 0
    info = probe_video(src)
    # Ranges a review muted: silence or a tone in a kept audio track (nothing when dropped).
    cuts = [AudioCut(a["start"], a["end"], a["action"] == "bleep") for a in plan.audio]
    with atomic_output(dst) as tmp, VideoWriter(tmp, info, opts.video, audio_source=src,
                                                audio_cuts=cuts) as w:
        for vf in iter_frames(src, yuv=True):
            fp = by_pts.get(vf.ref.pts)
            if fp is None:  # fail closed: a frame the plan never saw is never written
                raise PlanError(f"{src}: the plan has no entry for the frame at "
                                f"{vf.ref.seconds:.3f}s (pts {vf.ref.pts})")
            write_frame(w, vf, redactor, fp.regions)
            n += 1
            if progress:
                progress(n, info.frame_count)
    return Result(src, dst, "video", n, plan.counts(), time.monotonic() - t0)


__all__ = ["Progress", "Result", "anonymize_file", "anonymize_image", "detect_file",
           "media_kind", "render_plan", "write_frame"]
