"""`faceless run`: detect and hide in one pass, for files and folders."""

from __future__ import annotations

import argparse
import contextlib
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from types import FrameType

from faceless.analyze import Analyzer
from faceless.api import Result, anonymize_file
from faceless.audit import AuditLog
from faceless.batch import Job, Ledger, output_folder, plan_jobs
from faceless.batch.cluster import RayRunner, check_ray
from faceless.batch.ledger import decide, settings_hash, stale_temporaries
from faceless.batch.pool import (
    FileDone,
    FileTask,
    FileWorker,
    WorkerPool,
    available_cores,
    default_workers,
    per_worker,
)
from faceless.cli.common import (
    Outcome,
    Reporter,
    UsageError,
    add_audit_options,
    add_common,
    add_detect_options,
    add_render_options,
    audit_failed,
    build_options,
    error_line,
    open_audit,
)
from faceless.core.digest import sha256_file
from faceless.core.errors import FacelessError
from faceless.media.files import default_output
from faceless.options import Options
from faceless.plan.model import Plan

EXIT_INTERRUPTED = 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="hide every face in images and videos",
                       description="Detect and hide faces in images, videos and folders.")
    p.add_argument("inputs", nargs="+",
                   help="image or video files, or folders (searched recursively)")
    p.add_argument("--save-plan", action="store_true",
                   help="also write the applied plan as OUTPUT.plan.json (always done with "
                        "--audit, so the audit report can show what was hidden)")
    add_detect_options(p)
    add_render_options(p)
    add_audit_options(p)
    g = p.add_argument_group("parallel")
    g.add_argument("--workers", default="auto", metavar="N",
                   help="files processed side by side, each worker process loading the "
                        "models once; 'auto' (default): one a core, as many as the "
                        "available memory holds, fewer for small batches; 1 runs in this "
                        "process; outputs are the same whatever N")
    g.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster (pip install 'faceless[ray]'): one task per "
                        "file on actors that load the models once, lost workers retried; "
                        "ADDRESS of the cluster (default: RAY_ADDRESS, else a local one); "
                        "inputs and outputs must be on a path every node sees")
    add_common(p)
    p.set_defaults(func=main)


def run_settings(options: Options, plans: bool) -> dict[str, object]:
    """What decides an output's bytes: a change redoes the items a ledger shows as done."""
    model = options.face.model_path
    return {"options": options.settings(), "video": asdict(options.video),
            "image": asdict(options.image), "plans": plans,
            "model": sha256_file(model) if model is not None else None}


def parse_workers(text: str, items: int) -> int:
    """--workers as a number: 'auto' is default_workers for `items` files to process."""
    if text == "auto":
        return default_workers(items)
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(f"--workers: expected a number of at least 1 or 'auto', got {text!r}")
    return n


class _Stopped(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C: stop cleanly and report what was done."""


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped()


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """While inside, SIGTERM interrupts the run like Ctrl-C (main thread only)."""
    try:
        old = signal.signal(signal.SIGTERM, _raise_stopped)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@dataclass
class _Batch:
    """One run's bookkeeping: the ledger's claims and records, audit, and the report."""

    options: Options
    rep: Reporter
    ledger: Ledger | None
    out: Path | None
    shash: str
    plans: bool
    audit: AuditLog | None
    todo: int
    already_done: int = 0

    def claim(self, job: Job) -> FileTask | None:
        """The task for a job, claimed in the ledger; None when there is nothing to do
        (already done, or an error line reported)."""
        if job.error:
            self.rep.done(Outcome(job.src, None, False, job.error))
            return None
        assert job.dst is not None
        plan_path = job.dst.with_name(job.dst.name + ".plan.json") if self.plans else None
        key = self.key(job.dst)
        if self.ledger is None or key is None:
            return FileTask(job.src, job.dst, plan_path, self.options.overwrite)
        try:
            in_sha = sha256_file(job.src)
            out_sha = sha256_file(job.dst) if job.dst.is_file() else None
        except OSError as err:
            line = error_line(err, job.src)
            self.ledger.refused(key, line, key)  # unreadable or gone: recorded, run goes on
            self.rep.done(Outcome(job.src, job.dst, False, line))
            return None
        entry = self.ledger.get(key)
        decision = decide(entry, in_sha, self.shash, out_sha, self.options.overwrite)
        if decision.skip:
            self.already_done += 1
            self.rep.batch(self.todo - self.already_done)
            return None
        # Atomic: of two runs writing into one folder, one gets the item.
        busy = self.ledger.claim(key, in_sha, self.shash, key, seen=entry)
        if busy is not None:
            self.rep.done(Outcome(job.src, job.dst, False, f"{job.src}: {busy}"))
            return None
        if entry is not None and entry.status == "running":  # a run was killed
            for tmp in stale_temporaries(job.dst):
                tmp.unlink(missing_ok=True)
        return FileTask(job.src, job.dst, plan_path,
                        self.options.overwrite or decision.overwrite)

    def key(self, dst: Path) -> str | None:
        """An item's ledger key: its output's path in the folder (its input's, in its root)."""
        if self.ledger is None or self.out is None:
            return None
        try:
            return dst.relative_to(self.out).as_posix()
        except ValueError:
            return None

    def record(self, done: FileDone) -> None:
        """Record a finished task in the ledger, the audit log and the report."""
        task = done.task
        outcome = (_outcome(task.src, task.dst, done.result, self.audit, task.plan_path)
                   if done.result is not None
                   else Outcome(task.src, task.dst, False, done.error))
        key = self.key(task.dst)
        if self.ledger is not None and key is not None:
            if outcome.ok and done.output_sha256 is not None:
                self.ledger.done(key, done.output_sha256, done.seconds)
            else:
                # Written but not audited: failed, yet the output is provably ours.
                written = done.output_sha256 if done.result is not None else None
                self.ledger.failed(key, str(outcome.error), done.seconds, written)
        self.rep.done(outcome)

    def interrupted(self, task: FileTask) -> None:
        """A task stopped by Ctrl-C or SIGTERM. Its ledger row stays `running`, as after a
        killed run: its output may have moved into place just before the stop, and the row
        proves it faceless's own, so the next run redoes it."""
        self.rep.done(Outcome(task.src, task.dst, False,
                              f"{task.src}: stopped before it finished; run the same command "
                              "again to finish it"))


def main(a: argparse.Namespace) -> int:
    options = build_options(a)
    audit = open_audit(a)
    inputs = [Path(i) for i in a.inputs]
    jobs, skipped = plan_jobs(inputs, a.output, lambda f: f.name, default_output, ".faceless")
    todo = sum(j.dst is not None for j in jobs)
    workers = parse_workers(a.workers, todo)
    if a.ray is not None:
        check_ray()  # the extra is installed, else a usage error (exit 2) before any input
    # One worker: this process, its models loaded before anything is written (a missing or
    # altered model stops the run before any input, exit 2).
    analyzer = Analyzer(options) if workers == 1 and a.ray is None else None
    if analyzer is not None:
        analyzer.setup()
    # A run into a folder keeps a ledger there, so running it again resumes.
    out = output_folder(inputs, a.output)
    ledger = (Ledger.for_folder(out) if out is not None and any(j.dst for j in jobs)
              else None)
    plans = a.save_plan or audit is not None
    shash = settings_hash(run_settings(options, plans))
    with contextlib.ExitStack() as stack:
        if ledger is not None:
            stack.callback(ledger.close)
        rep = Reporter(a.quiet, a.json)
        stack.enter_context(rep)
        batch = _Batch(options, rep, ledger, out, shash, plans, audit, todo)
        stack.enter_context(_sigterm_stops())
        running: list[FileTask] = []
        stopped = False
        try:
            if a.ray is not None:
                _on_ray(a.ray, batch, jobs, running)
            elif analyzer is None:
                _in_workers(workers, jobs, batch, running)
            else:
                _in_process(analyzer, jobs, batch, running)
        except KeyboardInterrupt:
            stopped = True
            for task in running:
                batch.interrupted(task)
        n = batch.already_done
        extra: dict[str, object] = {} if ledger is None else {"already_done": n}
        notes = [f"{n} already done (unchanged since the last run)"] if n else []
        if stopped:
            left = todo - sum(o.dst is not None for o in rep.outcomes) - n
            notes.append(f"stopped: {left} file(s) not started; run the same command again "
                         "to finish them")
            extra["stopped"] = True
        code = rep.finish(skipped, extra=extra, notes=notes)
        return EXIT_INTERRUPTED if stopped else code


def _in_process(analyzer: Analyzer, jobs: list[Job], batch: _Batch,
                running: list[FileTask]) -> None:
    """One file after another in this process, with each one's own progress bar."""
    replacing: Analyzer | None = None  # the same detectors, replacing outputs proven ours
    for job in jobs:
        task = batch.claim(job)
        if task is None:
            continue
        use = analyzer
        if task.overwrite and not batch.options.overwrite:
            if replacing is None:
                replacing = Analyzer(replace(batch.options, overwrite=True),
                                     detectors=analyzer.detectors)
            use = replacing
        running.append(task)
        t0 = time.monotonic()
        try:
            r = anonymize_file(task.src, task.dst, plan_path=task.plan_path,
                               progress=batch.rep.item(task.src.name), analyzer=use)
            # The ledger records what was written (read back: the file is the proof).
            digest = sha256_file(task.dst) if batch.ledger is not None else None
            done = FileDone(task, r, None, digest, time.monotonic() - t0)
        except (FacelessError, OSError) as err:
            done = FileDone(task, None, error_line(err, task.src), None,
                            time.monotonic() - t0)
        running.remove(task)
        batch.record(done)


def _claimed(jobs: list[Job], batch: _Batch, running: list[FileTask]) -> Iterator[FileTask]:
    """The jobs this run claims in the ledger, as tasks, each listed in `running` until done."""
    for job in jobs:
        task = batch.claim(job)
        if task is not None:
            running.append(task)
            yield task


def _in_workers(workers: int, jobs: list[Job], batch: _Batch,
                running: list[FileTask]) -> None:
    """Files side by side in worker processes, with one bar for the whole batch."""
    batch.rep.batch(batch.todo)
    options = per_worker(batch.options, workers)

    threads = max(1, available_cores() // workers)
    with WorkerPool(partial(FileWorker, options), workers, threads=threads) as pool:
        for fin in pool.run(_claimed(jobs, batch, running)):
            running.remove(fin.task)
            if isinstance(fin.result, FileDone):
                batch.record(fin.result)
            else:
                batch.record(FileDone(fin.task, None, f"{fin.task.src}: {fin.error}", None,
                                      0.0))


def _on_ray(address: str, batch: _Batch, jobs: list[Job], running: list[FileTask]) -> None:
    """Files as tasks on a Ray cluster's actors, with one bar for the whole batch."""
    batch.rep.batch(batch.todo)

    with RayRunner(batch.options, address or None) as runner:
        for done in runner.run(_claimed(jobs, batch, running)):
            running.remove(done.task)
            batch.record(done)


def _outcome(src: Path, dst: Path, r: Result, audit: AuditLog | None,
             plan_path: Path | None) -> Outcome:
    n = sum(r.regions.values())
    outcome = Outcome(src, dst, True, details={
        "media": r.media, "frames": r.frames, "regions": r.regions,
        "seconds": round(r.seconds, 3), "warnings": list(r.warnings),
        "summary": f"({r.frames} frame(s), {n} region(s) hidden, {r.seconds:.1f}s)"})
    if audit is not None and plan_path is not None:
        try:
            plan = Plan.load(plan_path)
            audit.append("run", inputs=[src], plans=[plan_path], outputs=[dst],
                         settings=plan.settings, models=plan.models,
                         details={"media": r.media, "frames": r.frames, "regions": r.regions})
        except FacelessError as err:
            outcome = audit_failed(outcome, err)
    return outcome
