"""Overlapping decode, analysis and encode in threads, with errors carried across and no hangs.

PyAV (libav) and ONNX Runtime release the GIL while they work, so a decode thread, the
analysing thread and an encode thread really run at the same time. Queues are bounded, so at
most a few frames wait between stages and memory stays flat.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")

Submit = Callable[..., "Future[Any]"]
"""Called as submit(fn, *args): fn(*args) runs (in a worker, or at once) and its result, or
its error, is in the returned future."""

_END = object()


class Prefetch(Generic[T]):
    """Iterate `source` in a background thread, `depth` items ahead of the consumer.

    An exception in the source is re-raised in the consumer at the point it occurred; closing
    the consumer (or leaving a `with` block) stops the producer instead of leaving it blocked.
    """

    def __init__(self, source: Iterator[T], depth: int = 4, name: str = "prefetch") -> None:
        self._q: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._source = source
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as err:  # carried to the consumer, never lost in the thread
            self._put(_Raised(err))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                # The source may already have failed; its error was passed on above.
                with contextlib.suppress(Exception):
                    close()

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        item = self._q.get()
        if item is _END:
            self._q.put(_END)  # stay exhausted
            raise StopIteration
        if isinstance(item, _Raised):
            raise item.error
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Worker(Generic[T]):
    """Run `fn(item)` for each submitted item, in order, in one background thread.

    The first error is re-raised by the next `submit` or by `finish`; later items are dropped,
    so a failing stage fails the whole item quickly (fail closed) without a hang.
    """

    def __init__(self, fn: Callable[[T], None], depth: int = 4, name: str = "worker") -> None:
        self._fn = fn
        self._q: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if self._error is not None:
                continue  # drain: the item already failed
            try:
                self._fn(item)  # type: ignore[arg-type]
            except BaseException as err:
                self._error = err

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, item: T) -> None:
        self._raise()
        while True:
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                self._raise()

    def finish(self) -> None:
        """Wait for every submitted item; re-raise the first error."""
        self._q.put(_END)
        self._thread.join()
        self._raise()

    def abort(self) -> None:
        """Stop without waiting for the remaining items to be processed."""
        self._error = self._error or RuntimeError("aborted")
        self._q.put(_END)
        self._thread.join()


def run_now(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """A Submit that runs `fn(*args)` at once in the calling thread."""
    done: Future[Any] = Future()
    try:
        done.set_result(fn(*args))
    except BaseException as err:  # kept for result(), as a pool's future keeps it
        done.set_exception(err)
    return done


class Ahead(Generic[T, U]):
    """Start each item's work in a pool of worker threads, items ahead of the consumer.

    A background thread calls `start(item, submit)` for every item of `source` in order (so
    `start` may keep state from item to item) and queues what it returns, at most `depth`
    items ahead; `submit(fn, *args)` hands work to `workers` threads (each begins with
    `initializer()`), and the consumer waits on the futures it finds in the items. With no
    workers everything runs in the consumer's thread, one item at a time: the same results.
    Errors reach the consumer (from `start`, or from a future's result); leaving the `with`
    block stops the thread and the pool, waiting for passes that already began.
    """

    def __init__(self, source: Iterator[T], start: Callable[[T, Submit], U], workers: int = 0,
                 depth: int = 4, name: str = "ahead",
                 initializer: Callable[[], None] | None = None) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._prefetch: Prefetch[U] | None = None
        if workers <= 0:
            self._items: Iterator[U] = (start(item, run_now) for item in source)
            return
        pool = self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name,
                                               initializer=initializer)

        def produce() -> Iterator[U]:
            try:
                for item in source:
                    yield start(item, pool.submit)
            finally:  # in this thread, which iterated it: a decoder closes its file now
                close = getattr(source, "close", None)
                if close is not None:
                    close()

        self._items = self._prefetch = Prefetch(produce(), depth=depth, name=name)

    def __iter__(self) -> Iterator[U]:
        return self._items

    def close(self) -> None:
        if self._prefetch is not None:
            self._prefetch.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Ahead[T, U]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def stages(frames: Iterator[T], encode: Callable[[U], None], pipelined: bool
           ) -> Iterator[tuple[Iterator[T], Callable[[U], None], Callable[[], None]]]:
    """Decode ahead and encode behind the caller's thread, or all in one thread.

    Yields (frames, submit, finish): iterate the frames, `submit` each result for encoding,
    call `finish` when done. Either way the frames, results and pixels are the same; any
    stage's error propagates and the other stages stop (the caller's atomic output then
    removes the partial file).
    """
    if not pipelined:
        yield frames, encode, lambda: None
        return
    worker: Worker[U] = Worker(encode, depth=4, name="faceless-encode")
    with Prefetch(frames, depth=4, name="faceless-decode") as ahead:
        try:
            yield ahead, worker.submit, worker.finish
        except BaseException:
            worker.abort()
            raise
        worker.finish()
