"""What the commands share: option parsing into Options, input discovery, progress, summary."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from faceless.anonymize.operators import Operator, OperatorSpec, Shape
from faceless.audit import AuditLog
from faceless.core.errors import ConfigError, FacelessError
from faceless.core.types import Kind
from faceless.detect.faces import FaceOptions
from faceless.detect.guided import ScheduleOptions
from faceless.detect.onnx import PRECISIONS, device
from faceless.media.files import format_change
from faceless.media.image import ImageOptions
from faceless.media.video import AudioMode, VideoOptions
from faceless.options import FAST_PRESET, Options, mode_options, with_precision
from faceless.track.tracker import TrackOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


class UsageError(FacelessError, ValueError):
    """The command line asks for something impossible (exit 2)."""


@dataclass
class Outcome:
    src: Path
    dst: Path | None
    ok: bool
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def add_detect_options(p: argparse.ArgumentParser, encodes: bool = True) -> None:
    """Detection options; `encodes`: the command writes video (so --fast's preset applies)."""
    g = p.add_argument_group("detection")
    m = g.add_mutually_exclusive_group()
    encoding = f"; x264 {FAST_PRESET} (larger files)" if encodes else ""
    m.add_argument("--fast", dest="mode", action="store_const", const="fast",
                   help="bulk mode for video: full face looks every 30th frame, tracking "
                        f"carries faces between{encoding}; see docs/benchmarks.md for what "
                        "it costs")
    m.add_argument("--thorough", dest="mode", action="store_const", const="thorough",
                   help="recall over time: every pass on every frame, an upscaled pass for "
                        "tiny faces, plates and text searched on every frame")
    m.add_argument("--bodycam", dest="mode", action="store_const", const="bodycam",
                   help="body-worn and CCTV footage: the default, and whole heads hidden "
                        "too (people turned away; same as adding head to --hide)")
    g.add_argument("--full-every", type=int, default=None, metavar="N",
                   help="video: a full-resolution face look at least every N frames, a "
                        f"low-resolution pass between (default {ScheduleOptions.full_every}; "
                        "1 looks at every frame in full)")
    g.add_argument("--text-every", type=int, default=None, metavar="N",
                   help="video: search for plates and text on every Nth frame, tracking "
                        f"carries them between and looks closer at tracked ones (default "
                        f"{Options.text_every}; --fast 12; the plate search is most of the "
                        "default mode's time)")
    g.add_argument("--hide", default="face,plate",
                   help="what to hide, comma-separated from face, plate, text, head, person "
                        "(default %(default)s; text hides all legible text, plates included; "
                        "head hides whole heads, turned away or not; person whole bodies)")
    g.add_argument("--threshold", type=float, default=FaceOptions.threshold,
                   help="face score threshold; lower finds more faces and more false ones "
                        "(default %(default)s)")
    g.add_argument("--scales", default="1",
                   help="comma-separated scales of the frame to run the detector at, e.g. "
                        "'1,2' adds an upscaled pass for tiny faces (default %(default)s)")
    g.add_argument("--coarse-side", type=int, default=FaceOptions.coarse_side,
                   help="extra pass with the long side at this many pixels for very large "
                        "faces; 0 turns it off (default %(default)s)")
    g.add_argument("--mask-scale", type=float, default=Options.mask_scale,
                   help="grow each face box by this factor so hairline, ears and chin are "
                        "covered (default %(default)s)")
    g.add_argument("--model", type=Path, help="a CenterFace-compatible ONNX file to use "
                   "instead of the shipped one")
    g.add_argument("--precision", choices=list(PRECISIONS), default=None,
                   help="face and text models: int8 (default; the shipped quantized "
                        "CenterFace and PP-OCRv4 detection, each about 1.8x less CPU) or fp32 "
                        "(the original weights; --thorough uses them)")
    g = p.add_argument_group("video tracking")
    g.add_argument("--no-track", action="store_true",
                   help="frame by frame only: no gap filling, track extension or low-score "
                        "continuation (for comparison; faces can flash into view)")
    g.add_argument("--track-gap", type=int, default=TrackOptions.max_gap,
                   help="frames a face may go undetected and still be hidden between two "
                        "detections (default %(default)s)")
    g.add_argument("--track-hold", type=int, default=TrackOptions.hold,
                   help="frames a face the detector loses is followed by its own look "
                        "(a head turning away, a hand in front); 0 turns this off "
                        "(default %(default)s)")


def add_render_options(p: argparse.ArgumentParser, defaults: bool = True,
                       modes: bool = True) -> None:
    """Hiding and output options; `modes`: the command also takes --fast / --thorough."""
    g = p.add_argument_group("hiding")
    g.add_argument("--operator", choices=[o.value for o in Operator],
                   default=Operator.BLUR.value if defaults else None,
                   help="blur (size-relative, strong), pixelate or fill (solid colour)"
                        + (" (default %(default)s)" if defaults else " (default: the plan's)"))
    g.add_argument("--shape", choices=[s.value for s in Shape],
                   default=Shape.ELLIPSE.value if defaults else None,
                   help="mask shape" + (" (default %(default)s)" if defaults else ""))
    g.add_argument("--color", default="0,0,0", help="fill colour as R,G,B (default %(default)s)")
    g = p.add_argument_group("output")
    # Kept as text: a trailing "/" means a folder, and Path() would drop it.
    g.add_argument("-o", "--output",
                   help="output file, or folder (mirrors input folders; end it with / to "
                        "make a new one); default: "
                        "NAME.faceless.EXT beside each input file, FOLDER.faceless/ for a folder")
    g.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    g.add_argument("--strict", action="store_true",
                   help="fail a video that is damaged part-way (fewer frames decode than its "
                        "container declares) instead of writing the frames that decode with "
                        "a warning")
    g.add_argument("--crf", type=int, default=VideoOptions.crf,
                   help="video quality, lower is better (H.264 CRF, default %(default)s)")
    fast = (f"; --fast {FAST_PRESET}: a quarter less encoding CPU, larger files"
            if modes else "")
    g.add_argument("--preset", default=None,
                   help=f"x264 speed preset (default {VideoOptions.preset} without B-frames"
                        f"{fast}); a preset named here keeps all of its own settings")
    g.add_argument("--audio", choices=[a.value for a in AudioMode], default=AudioMode.DROP.value,
                   help="drop (default) or keep the audio track")
    g.add_argument("--keep-metadata", action="store_true",
                   help="keep safe metadata (never GPS/location, device serials or thumbnails)")
    g.add_argument("--quality", type=int, default=ImageOptions.quality,
                   help="JPEG/WebP quality (default %(default)s)")


def add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reporting")
    g.add_argument("--json", action="store_true", help="print a machine-readable summary")
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def add_audit_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("audit")
    g.add_argument("--audit", type=Path, metavar="LOG",
                   help="append a hash-chained record of each finished item (files and "
                        "their sha256, settings, model cards) to LOG; check it with "
                        "`faceless audit verify LOG`")
    g.add_argument("--actor", metavar="NAME",
                   help="who ran it, for the audit log (default: the OS user)")


def open_audit(a: argparse.Namespace) -> AuditLog | None:
    """The audit log asked for with --audit, checked writable before any input is processed."""
    if getattr(a, "audit", None) is None:
        if getattr(a, "actor", None):
            raise UsageError("--actor is recorded in the audit log: give --audit LOG too")
        return None
    log = AuditLog(a.audit, a.actor)
    # Create nothing yet (a run where every item fails leaves no empty log behind), but
    # refuse now rather than after hours of video: the log or its nearest folder is writable.
    probe = log.path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe == log.path.absolute():
        writable = probe.is_file() and os.access(probe, os.W_OK)
    else:
        writable = probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
    if not writable:
        raise UsageError(f"--audit {a.audit}: cannot write the audit log there")
    return log


def audit_failed(outcome: Outcome, err: FacelessError) -> Outcome:
    """An item whose output was written but could not be recorded counts as failed."""
    outcome.ok = False
    outcome.error = f"{outcome.src}: done, but not recorded in the audit log: {err}"
    return outcome


def _floats(text: str, name: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise UsageError(f"--{name}: expected comma-separated numbers, got {text!r}") from err


def _kinds(text: str) -> frozenset[Kind]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    allowed = ("face", "plate", "text", "head", "person")
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise UsageError(f"--hide: expected a comma-separated list of {', '.join(allowed)}, "
                         f"got {text!r}")
    return frozenset(Kind(n) for n in names)


def _color(text: str) -> tuple[int, int, int]:
    try:
        r, g, b = (int(v) for v in text.split(","))
    except ValueError as err:
        raise UsageError(f"--color: expected R,G,B like 0,0,0, got {text!r}") from err
    return (r, g, b)


def build_options(a: argparse.Namespace) -> Options:
    """Options from parsed arguments; invalid values become ConfigError (exit 2)."""
    face = FaceOptions()
    if hasattr(a, "threshold"):
        face = FaceOptions(threshold=a.threshold, scales=_floats(a.scales, "scales"),
                           coarse_side=a.coarse_side, model_path=a.model,
                           precision=a.precision or FaceOptions.precision)
    kw: dict[str, Any] = {"face": face}
    if hasattr(a, "hide"):
        kw["hide"] = _kinds(a.hide)
    if hasattr(a, "no_track"):
        kw["track"] = (None if a.no_track
                       else TrackOptions(max_gap=a.track_gap, hold=a.track_hold))
    if hasattr(a, "mask_scale"):
        kw["mask_scale"] = a.mask_scale
    if hasattr(a, "operator"):
        op = Operator(a.operator or Operator.BLUR)
        shape = Shape(a.shape or Shape.ELLIPSE)
        kw["operator"] = OperatorSpec(op, shape, color=_color(a.color))
        preset = VideoOptions.preset if a.preset is None else a.preset
        kw["video"] = VideoOptions(crf=a.crf, preset=preset,
                                   audio=AudioMode(a.audio),
                                   keep_metadata=a.keep_metadata)
        kw["image"] = ImageOptions(quality=a.quality, keep_metadata=a.keep_metadata)
        kw["overwrite"] = a.overwrite
        kw["strict"] = getattr(a, "strict", False)
    if getattr(a, "model", None) is not None and not a.model.is_file():
        raise ConfigError(f"--model {a.model}: no such file")
    opts = mode_options(getattr(a, "mode", None) or "default", Options(**kw))
    if getattr(a, "preset", None) is not None:
        # An explicit --preset wins over the mode's, with all of its settings (B-frames too).
        opts = replace(opts, video=replace(opts.video, preset=a.preset, bframes=None))
    if getattr(a, "precision", None):  # an explicit --precision wins over the mode's
        opts = with_precision(opts, a.precision)
    if getattr(a, "full_every", None) is not None:
        if opts.schedule is None:
            raise UsageError("--full-every cannot be combined with --thorough (which looks at "
                             "every frame in full)")
        opts = replace(opts, schedule=replace(opts.schedule, full_every=a.full_every))
    if getattr(a, "text_every", None) is not None:  # an explicit value wins over the mode's
        opts = replace(opts, text_every=a.text_every)
    return opts


class Reporter:
    """Progress bars, per-item error lines and the closing summary (rich, to stderr)."""

    def __init__(self, quiet: bool = False, as_json: bool = False,
                 console: Console | None = None) -> None:
        self.quiet, self.as_json = quiet, as_json
        self.err = console or Console(stderr=True, highlight=False)
        self.outcomes: list[Outcome] = []
        self.t0 = time.monotonic()
        self._progress: Progress | None = None
        self._batch: Any = None  # the whole batch's bar (see batch)

    def __enter__(self) -> Reporter:
        if not self.quiet and self.err.is_terminal:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=self.err, transient=True)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def item(self, label: str) -> Callable[[int, int | None], None]:
        """A progress callback for one item; shows frames per second."""
        if self._progress is None:
            return lambda done, total: None
        # File names are shown as they are: rich would read brackets in them as markup.
        task = self._progress.add_task(escape(label), total=None, rate="")
        t0 = time.monotonic()
        prog = self._progress

        def update(done: int, total: int | None) -> None:
            dt = time.monotonic() - t0
            rate = f"{done / dt:.1f} fps" if dt > 0 and done > 1 else ""
            prog.update(task, completed=done, total=total, rate=rate)
        return update

    def batch(self, total: int) -> None:
        """Show one bar for the whole batch: files done of `total`, files/s, time left
        (called again: `total` changed, e.g. files found already done)."""
        if self._progress is None:
            return
        if self._batch is None:
            self._batch = self._progress.add_task("files", total=total, rate="")
        else:
            self._progress.update(self._batch, total=total)

    def done(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if self._progress is not None:
            for t in list(self._progress.tasks):
                if t.id != self._batch:
                    self._progress.remove_task(t.id)
            if self._batch is not None:
                dt = time.monotonic() - self.t0
                n = len(self.outcomes)
                self._progress.update(self._batch, completed=n,
                                      rate=f"{n / dt:.1f} files/s" if dt > 0 else "")
        for w in outcome.details.get("warnings", []):
            self.err.print(f"[yellow]warning[/yellow]: {escape(w)}", markup=True, soft_wrap=True)
        if not outcome.ok:
            self.err.print(f"[red]error[/red]: {escape(str(outcome.error))}", markup=True,
                           soft_wrap=True)
        elif not self.quiet and not self.as_json:
            extra = outcome.details.get("summary", "")
            change = format_change(outcome.src, outcome.dst) if outcome.dst else None
            if change:
                extra = f"{extra} ({change})".lstrip()
            self.err.print(f"[green]ok[/green] {escape(f'{outcome.src} -> {outcome.dst} {extra}')}",
                           markup=True, soft_wrap=True)

    def finish(self, skipped: list[Path], *, extra: dict[str, Any] | None = None,
               notes: Sequence[str] = ()) -> int:
        """Print the summary (`extra`: more keys for --json, `notes`: lines before the
        summary line) and return the exit code."""
        ok = sum(o.ok for o in self.outcomes)
        failed = len(self.outcomes) - ok
        seconds = time.monotonic() - self.t0
        on = device()  # a user with a GPU wants to see that it was used
        if self.as_json:
            doc = {"ok": ok, "failed": failed, "skipped": [str(p) for p in skipped],
                   "seconds": round(seconds, 3), "device": on,
                   "items": [{"input": str(o.src), "output": str(o.dst) if o.dst else None,
                              "ok": o.ok, "error": o.error, **o.details}
                             for o in self.outcomes], **(extra or {})}
            sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        elif not self.quiet:
            for note in notes:
                self.err.print(escape(note), soft_wrap=True)
            if skipped:
                self.err.print(f"skipped {len(skipped)} file(s) of unsupported type",
                               soft_wrap=True)
            where = "" if on is None else " on the CPU" if on == "CPU" else f" on {on}"
            warned = sum(bool(o.ok and o.details.get("warnings")) for o in self.outcomes)
            also = f" ({warned} with warnings above)" if warned else ""
            self.err.print(f"{ok} done{also}, {failed} failed in {seconds:.1f}s{where}",
                           soft_wrap=True)
        return EXIT_FAILED if failed else EXIT_OK


class _FacelessOnly(logging.Filter):
    """Passes the records of the `faceless` logger and its children, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "faceless" or record.name.startswith("faceless.")


def setup_logging(quiet: bool) -> None:
    """Show faceless's own warnings on stderr (only its errors with -q), one line each.

    Libraries' log records and Python warnings (Pillow's TIFF plugin, onnxruntime, ...) are
    not shown: a problem with an input reaches the user as faceless's one error line for that
    file. FFmpeg's own log (libav, through PyAV) is switched off. Only the command line does
    this, so a program that imports faceless keeps its own logging setup. Does nothing where
    the root logger already has a handler (logging.basicConfig's rule).
    """
    import av.logging  # PyAV: imported here, with faceless.media.video already loaded

    handler = logging.StreamHandler()  # stderr
    handler.addFilter(_FacelessOnly())
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", handlers=[handler])
    logging.captureWarnings(True)  # warnings.warn goes to the "py.warnings" logger, unshown
    av.logging.set_level(None)  # libav logs nothing (PyAV's default; set in case it changed)


def error_line(err: Exception, src: object) -> str:
    """One line that names the file: library messages usually start with the path already."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text if str(src) in text else f"{src}: {text}"
