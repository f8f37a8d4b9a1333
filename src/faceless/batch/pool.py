"""Worker processes that each load the models once and take tasks side by side.

A `WorkerPool` starts `workers` processes (spawn: no inherited locks, threads or model
sessions), each building its own worker with a picklable factory (for files:
`FileWorker`, which loads the models once). Tasks are pulled lazily from an iterable and
handed to whichever process is free, one at a time, so the caller can claim each item
(the ledger) just before it starts; results come back as they finish.

A process that dies mid-task (killed, out of memory) is replaced and its task is tried
again on another process, up to `retries` times, then reported lost. Stopping the pool
(`close`, or leaving `run` early, on Ctrl-C or SIGTERM included) sends every process
SIGTERM, which unwinds the task it is running: atomic outputs leave nothing under a final
name.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Generic, TypeVar

from faceless.analyze.analyzer import Analyzer
from faceless.api import Result, anonymize_file
from faceless.batch.ledger import stale_temporaries
from faceless.core.digest import sha256_file
from faceless.core.errors import FacelessError
from faceless.core.malloc import one_heap
from faceless.options import Options

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# What one worker process may need at most: its models (~0.5 GB) and a large frame's buffers.
WORKER_MEMORY = 1_200_000_000
# Starting a worker (a new interpreter loading the models) costs about as much CPU as a
# dozen or two small photos: a batch gets one more worker per this many items.
ITEMS_PER_WORKER = 20
_STOP_WAIT = 20.0  # seconds a stopped worker has to unwind its task before it is killed


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_workers(items: int | None = None) -> int:
    """Worker processes for a batch: one a core, as many as the available memory holds,
    and no more than the batch can keep busy (`items`: how many it holds, if known)."""
    n = available_cores()
    memory = available_memory()
    if memory is not None:
        n = min(n, max(1, memory // WORKER_MEMORY))
    if items is not None:
        n = min(n, max(1, items // ITEMS_PER_WORKER))
    return max(1, n)


def per_worker(options: Options, workers: int) -> Options:
    """`options` with each worker's network threads set to its share of the cores.

    Threads decide no pixel of the output (a plan does not record them), only how the
    processes share the CPU: without this every process would start a thread per core.
    """
    return with_threads(options, max(1, available_cores() // max(1, workers)))


def with_threads(options: Options, threads: int) -> Options:
    """`options` with the face and text networks on `threads` threads each."""
    text = replace(options.text, threads=threads)
    plate = replace(options.plate, text=replace(options.plate.text, threads=threads))
    return replace(options, face=replace(options.face, threads=threads), text=text,
                   plate=plate)


@dataclass(frozen=True)
class FileTask:
    """One file to anonymise: where to write it, and whether an existing output there may
    be replaced (`overwrite`: the caller has proved it is faceless's own)."""

    src: Path
    dst: Path
    plan_path: Path | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class FileDone:
    """What became of a FileTask: its result, or one error line."""

    task: FileTask
    result: Result | None
    error: str | None
    output_sha256: str | None  # of the output written (None when none was)
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


def error_text(err: BaseException, src: object) -> str:
    """One line that names the file (library messages usually start with the path)."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text if str(src) in text else f"{src}: {text}"


class FileWorker:
    """Anonymises files in this process with the models loaded once."""

    def __init__(self, options: Options) -> None:
        self.analyzer = Analyzer(options)
        self.analyzer.setup()
        # The same detectors, for outputs the caller proved are faceless's own.
        self.replacing = Analyzer(replace(options, overwrite=True),
                                  detectors=self.analyzer.detectors)

    def __call__(self, task: FileTask) -> FileDone:
        t0 = time.monotonic()
        analyzer = self.replacing if task.overwrite else self.analyzer
        # A worker killed on this task before it was retried here left its temporary file.
        for tmp in stale_temporaries(task.dst):
            tmp.unlink(missing_ok=True)
        try:
            result = anonymize_file(task.src, task.dst, plan_path=task.plan_path,
                                    analyzer=analyzer)
            digest = sha256_file(task.dst)
        except FacelessError as err:
            return FileDone(task, None, error_text(err, task.src), None, time.monotonic() - t0)
        except OSError as err:  # the output vanished or cannot be read back
            return FileDone(task, None, error_text(err, task.src), None, time.monotonic() - t0)
        return FileDone(task, result, None, digest, time.monotonic() - t0)


@dataclass(frozen=True)
class Finished(Generic[T, R]):
    """A task and what its worker returned, or why none did (`error`)."""

    task: T
    result: R | None
    error: str | None = None


class WorkerPoolError(FacelessError, RuntimeError):
    """A worker process could not start (its models failed to load, or it died at once)."""


class _Stop(BaseException):
    """Raised in a worker by SIGTERM, so the task it runs unwinds (removing temporaries)."""


def _on_term(signum: int, frame: object) -> None:
    raise _Stop()


def _die_with(parent: int) -> bool:
    """Ask Linux to send this process SIGTERM when its parent dies (a run killed with
    SIGKILL must not leave workers writing behind it); False if the parent is gone already."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pipe's end stops the worker instead
        pass
    return os.getppid() == parent


def _serve(conn: Connection, factory: Callable[[], Callable[[Any], Any]],
           threads: int | None, parent: int) -> None:
    """A worker process: build the worker, then run tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, _on_term)
    one_heap()  # a worker's look-ahead threads share one heap (faceless.core.malloc)
    try:
        if not _die_with(parent):
            return
        if threads is not None:
            import cv2

            cv2.setNumThreads(threads)
        try:
            work = factory()
        except Exception as err:
            conn.send(("failed", _portable(err)))
            return
        conn.send(("ready", None))
        while True:
            task = conn.recv()
            if task is None:
                return
            try:
                conn.send(("done", work(task)))
            except Exception as err:  # a bug in the worker: the task fails, the batch goes on
                log.debug("worker task failed:\n%s", traceback.format_exc())
                conn.send(("error", f"internal error (a bug in faceless): "
                                    f"{type(err).__name__}: {err}"))
    except (_Stop, EOFError, BrokenPipeError, KeyboardInterrupt):
        return


def _portable(err: Exception) -> Exception:
    """The exception itself when it survives pickling, else a WorkerPoolError saying it."""
    import pickle

    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return WorkerPoolError(f"{type(err).__name__}: {err}")


@dataclass
class _Proc:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    task: Any = None
    busy: bool = False
    tries: int = 0


class WorkerPool(Generic[T, R]):
    """`workers` processes, each running `factory()` once and then its tasks.

    `factory` must be picklable (a module-level class or function, or a partial of one).
    Use as a context manager, or call `close()`: it stops every process.
    """

    def __init__(self, factory: Callable[[], Callable[[T], R]], workers: int,
                 retries: int = 1, threads: int | None = None) -> None:
        if workers < 1:
            raise WorkerPoolError(f"workers must be at least 1, got {workers}")
        self.factory = factory
        self.workers = workers
        self.retries = retries
        self.threads = threads
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[_Proc] = []
        self._started = 0

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Proc:
        ours, theirs = self._ctx.Pipe()
        p = self._ctx.Process(target=_serve,
                              args=(theirs, self.factory, self.threads, os.getpid()),
                              daemon=True, name=f"faceless-worker-{len(self._procs)}")
        p.start()
        theirs.close()
        proc = _Proc(p, ours)
        self._procs.append(proc)
        self._started += 1
        return proc

    def run(self, tasks: Iterable[T]) -> Iterator[Finished[T, R]]:
        """Run every task, yielding each as it finishes (in no fixed order).

        Tasks are taken from `tasks` only when a process is free to start one. A task whose
        process died is tried again up to `retries` times on a fresh process, then yielded
        with an error. Raises WorkerPoolError if no process can start at all.
        """
        source = iter(tasks)
        exhausted = False
        retry: list[tuple[T, int]] = []
        while len(self._procs) < self.workers:
            self._spawn()
        try:
            while True:
                # Hand a task to every idle, ready process.
                for proc in self._procs:
                    if not proc.ready or proc.busy:
                        continue
                    if retry:
                        proc.task, proc.tries = retry.pop(0)
                    elif not exhausted:
                        try:
                            proc.task, proc.tries = next(source), 0
                        except StopIteration:
                            exhausted = True
                            continue
                    else:
                        continue
                    proc.busy = True
                    # One that died just now: its sentinel below hands the task on.
                    with contextlib.suppress(OSError):
                        proc.conn.send(proc.task)
                if exhausted and not retry and not any(p.busy for p in self._procs):
                    return
                waits: list[Any] = [p.conn for p in self._procs]
                waits += [p.process.sentinel for p in self._procs]
                ready = multiprocessing.connection.wait(waits, timeout=1.0)
                for proc in list(self._procs):
                    if proc.conn in ready:
                        try:
                            kind, value = proc.conn.recv()
                        except (EOFError, OSError):
                            kind, value = "dead", None
                        if kind == "ready":
                            proc.ready = True
                            continue
                        if kind == "failed":
                            self._drop(proc)
                            if isinstance(value, FacelessError):
                                raise value
                            raise WorkerPoolError(f"a worker could not start: {value}")
                        if kind in ("done", "error"):
                            task = proc.task
                            proc.busy, proc.task = False, None
                            yield (Finished(task, value, None) if kind == "done"
                                   else Finished(task, None, str(value)))
                            continue
                    if proc.process.sentinel in ready or not proc.process.is_alive():
                        # Died: its task goes to another process, up to `retries` times.
                        self._drop(proc)
                        code = proc.process.exitcode
                        if proc.busy:
                            if proc.tries < self.retries:
                                retry.append((proc.task, proc.tries + 1))
                            else:
                                yield Finished(proc.task, None,
                                               f"the worker process ended while working on it "
                                               f"(exit code {code}; out of memory?)")
                        elif not proc.ready and self._started > 4 * self.workers:
                            raise WorkerPoolError(f"worker processes keep dying at start "
                                                  f"(exit code {code})")
                        if not exhausted or retry:
                            self._spawn()
        finally:
            self.close()

    def _drop(self, proc: _Proc) -> None:
        if proc in self._procs:
            self._procs.remove(proc)
        proc.conn.close()
        if proc.process.is_alive():
            proc.process.terminate()
        proc.process.join(timeout=_STOP_WAIT)
        if proc.process.is_alive():
            proc.process.kill()
            proc.process.join()

    def close(self) -> None:
        """Stop every process: idle ones at once, busy ones by SIGTERM (their task unwinds)."""
        procs, self._procs = self._procs, []
        for proc in procs:
            try:
                if proc.busy or not proc.ready:
                    proc.process.terminate()
                else:
                    proc.conn.send(None)
            except (OSError, ValueError):
                proc.process.terminate()
        deadline = time.monotonic() + _STOP_WAIT
        for proc in procs:
            proc.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if proc.process.is_alive():
                proc.process.kill()
                proc.process.join()
            proc.conn.close()


__all__ = ["ITEMS_PER_WORKER", "WORKER_MEMORY", "FileDone", "FileTask", "FileWorker",
           "Finished", "WorkerPool", "WorkerPoolError", "available_cores",
           "available_memory", "default_workers", "error_text", "per_worker", "with_threads"]
