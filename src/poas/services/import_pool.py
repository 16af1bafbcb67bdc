"""What the file importers share to parse and price in worker processes and write in a thread.

Used by the canonical order import (`order_import`) and the Shopify bulk backfill (`backfill`): a
process pool whose chunks come back in file order with a bounded number in flight, a writer thread
that writes one batch while the next is read, and the garbage-collector tuning for imports.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CAN_FORK = "fork" in multiprocessing.get_all_start_methods()  # not on Windows: read in-process there


def tune_gc() -> None:
    """Imports allocate millions of short-lived objects: freeze what exists (modules, the cost book)
    so collections stop re-scanning it, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def restore_gc(threshold: tuple[int, int, int]) -> None:
    gc.unfreeze()
    gc.set_threshold(*threshold)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def chunks(records: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def start_pool(
    workers: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    *,
    method: str = "fork",
    preload: Iterable[str] = (),
) -> ProcessPoolExecutor:
    """A started pool of `workers` processes. "fork" shares this process's memory (the cost book is
    not copied through pipes) but must not run while other threads may hold locks; "forkserver"
    forks from a clean single-threaded server that imports `preload` once (`initargs` are pickled)."""
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(list(preload))
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=initializer, initargs=initargs)
    pool.submit(int).result()  # starts the workers now (the pool starts them on first use)
    return pool


def in_order(
    pool: ProcessPoolExecutor, work: Iterable[list[T]], prepare: Callable[[list[T]], list[R]], in_flight: int
) -> Iterator[R]:
    """`prepare(chunk)` for every chunk of `work` in the pool, results in the chunks' order, with at
    most `in_flight` chunks submitted and not yet taken (memory stays flat)."""
    pending: deque[Future[list[R]]] = deque()
    for chunk in work:
        pending.append(pool.submit(prepare, chunk))
        if len(pending) >= in_flight:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


class BatchWriter(Generic[T]):
    """Writes batches in a thread of its own, so the next batch is read while one is written (the
    database drivers release the GIL). At most `depth` batches wait; the first error is raised to
    the reader at its next `put` or at `close`, and later batches are dropped unwritten."""

    def __init__(self, write: Callable[[list[T]], None], depth: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue[list[T] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="poas-import-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(batch)
                except BaseException as exc:  # handed to the reader thread, which raises it
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, batch: list[T]) -> None:
        self._raise()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait for the queued batches to be written; raise the first error."""
        self._queue.put(None)
        self._thread.join()
        self._raise()
