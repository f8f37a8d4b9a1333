"""Files as Ray tasks on a cluster: actors that load the models once, lost workers retried.

Each file is one call on an actor (a video needs one worker to see its frames in order);
each actor is a `FileWorker` in a Ray worker process, built once, so the models load once
per actor. An actor that dies mid-call (its node lost, its process killed) is restarted by
Ray and the call tried again, up to `retries` times. The caller (the `faceless run`
process) keeps the ledger and the audit log: every node writes only its outputs, by path,
so inputs and outputs must be on a filesystem every node sees at the same path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from faceless.batch.pool import FileDone, FileTask, FileWorker, with_threads
from faceless.core.errors import ConfigError
from faceless.options import Options


def check_ray() -> None:
    """Raise ConfigError unless Ray can be imported (the `ray` extra)."""
    try:
        import ray  # noqa: F401
    except ImportError as err:
        raise ConfigError("--ray needs Ray: pip install 'faceless[ray]'") from err


class FileActor:
    """A Ray actor around a FileWorker (the models load once, when the actor starts)."""

    def __init__(self, options: Options) -> None:
        self.worker = FileWorker(options)

    def run(self, task: FileTask) -> FileDone:
        return self.worker(task)

    def pid(self) -> int:
        import os

        return os.getpid()


class RayRunner:
    """Actors on a Ray cluster (one a CPU by default), running FileTasks as they come.

    `address`: the cluster to join (None: the one this process is connected to, else
    RAY_ADDRESS, else a new local one). Use as a context manager: it ends the actors, and
    the local cluster it started.
    """

    def __init__(self, options: Options, address: str | None = None,
                 actors: int | None = None, retries: int = 3) -> None:
        check_ray()
        import ray

        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n = actors or max(1, cpus)
        if n < 1:
            raise ConfigError(f"actors must be at least 1, got {actors}")
        # One CPU each: one network thread, as a local worker process has on its core.
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=retries)(FileActor)
        self.actors: list[Any] = [actor.remote(with_threads(options, 1)) for _ in range(n)]

    def __enter__(self) -> RayRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pids(self) -> list[int]:
        """The process ids of the actors (on their nodes)."""
        return list(self._ray.get([a.pid.remote() for a in self.actors]))

    def run(self, tasks: Iterable[FileTask]) -> Iterator[FileDone]:
        """Run every task, yielding each as it finishes; a task taken from `tasks` only
        when an actor is free for it. A task lost beyond its retries comes back failed."""
        ray = self._ray
        source = iter(tasks)
        idle = list(self.actors)
        pending: dict[Any, tuple[Any, FileTask]] = {}
        exhausted = False
        while True:
            while idle and not exhausted:
                try:
                    task = next(source)
                except StopIteration:
                    exhausted = True
                    break
                actor = idle.pop()
                pending[actor.run.remote(task)] = (actor, task)
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                actor, task = pending.pop(ref)
                idle.append(actor)
                try:
                    done = ray.get(ref)
                except ray.exceptions.RayError as err:
                    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
                    done = FileDone(task, None, f"{task.src}: lost on the Ray cluster after "
                                    f"its retries ({type(err).__name__}: {text})", None, 0.0)
                yield done

    def close(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):  # already gone with its cluster
                self._ray.kill(actor)
        self.actors = []
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


__all__ = ["FileActor", "RayRunner", "check_ray"]
