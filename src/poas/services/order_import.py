"""File imports of orders: records parsed and priced in worker processes, written in batches by this one.

The reader streams the file; chunks of raw JSONL lines (or of CSV orders' rows) go to a process
pool (forked, so the shop's cost book and rules are not copied through pipes), which answers with
rows ready to write and the rejected records. At most a few chunks are in flight, so memory stays
flat however long the file. Results come back in file order, so bad rows are reported in order and
the newest copy of an order wins exactly as in a sequential import. Small files and imports that
queue events are read in this process (same code, no pool).

A worker that dies (the kernel's out-of-memory killer, a signal) breaks the pool: the import stops
with `WorkerDied`, after the batches already handed to the writer are committed, and says how many
orders were. Running the same import again is safe: orders are upserted by (shop, order id) (an
equal or newer `updated_at` replaces the stored order with its child rows, an older one is left
alone), a profit snapshot is added only when the figures differ from the order's latest, and the
customers' histories are recomputed for the orders written (services.ingest.write_prepared).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine

from poas.services.import_pool import (
    CAN_FORK,
    BatchWriter,
    chunks,
    in_order,
    restore_gc,
    start_pool,
    tune_gc,
    usable_cpus,
)
from poas.services.ingest import BatchOutcome, PreparedOrder, ProfitContext, prepare_order, write_prepared
from poas.settings import ShopConfig
from poas.sources.canonical import (
    CsvGroup,
    ImportDefaults,
    Parsed,
    RowError,
    parse_csv_group,
    parse_jsonl_record,
    read_csv_groups,
    read_jsonl_records,
    read_orders,
)
from poas.sources.payload import TimeBounds
from poas.store.orders import ensure_shop

CHUNK_RECORDS = 250  # records (JSONL lines, CSV orders) per task sent to a worker
POOL_MIN_BYTES = 1 << 20  # smaller files are read in this process: starting workers costs more


@dataclass(slots=True)
class ImportReport:
    accepted: int = 0
    rejected: int = 0
    lines: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first `max_errors` rejected records
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    committed: int = 0  # accepted orders whose batch's transaction has committed


class WorkerDied(RuntimeError):
    """A worker process died (killed by the system, e.g. out of memory) and the import stopped.
    `report.committed` orders were committed before; running the import again is safe (the module
    docstring says why)."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"a worker process died after {report.committed} orders were committed")
        self.report = report


# ---- worker side -------------------------------------------------------------------------------

_worker: tuple[ProfitContext, ImportDefaults, str] | None = None


def _init_worker(context: ProfitContext, defaults: ImportDefaults, name: str) -> None:
    global _worker
    _worker = (context, defaults, name)
    tune_gc()


def _prepare(
    item: Parsed | RowError | None, context: ProfitContext, keep: bool
) -> PreparedOrder | RowError | None:
    if item is None or isinstance(item, RowError):
        return item
    return prepare_order(item.value, context, amounts_exact=True, keep=keep, line=item.line)


def prepare_jsonl_chunk(records: list[tuple[int, bytes]]) -> list[PreparedOrder | RowError]:
    """Parse and price a chunk of JSONL lines (runs in a worker set up by `_init_worker`)."""
    assert _worker is not None, "worker not initialized"
    context, defaults, name = _worker
    out: list[PreparedOrder | RowError] = []
    for n, data in records:
        done = _prepare(parse_jsonl_record(name, n, data, defaults), context, False)
        if done is not None:
            out.append(done)
    return out


def prepare_csv_chunk(groups: list[CsvGroup | RowError]) -> list[PreparedOrder | RowError]:
    """Parse and price a chunk of CSV orders (the reader's RowErrors pass through, in place)."""
    assert _worker is not None, "worker not initialized"
    context, defaults, name = _worker
    out: list[PreparedOrder | RowError] = []
    for g in groups:
        done = g if isinstance(g, RowError) else _prepare(parse_csv_group(name, g, defaults), context, False)
        if done is not None:
            out.append(done)
    return out


def _kind(path: Path, fmt: str | None) -> str:
    return fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")


# ---- the import --------------------------------------------------------------------------------


class OrderImport:
    """One shop's order import. Use as a context manager: entering loads the shop's profit context and
    (with `workers` > 0) starts the worker processes; leaving stops them."""

    def __init__(
        self,
        engine: Engine,
        shop: ShopConfig,
        *,
        workers: int | None = None,
        batch_size: int = 2000,
        send_events: bool = False,
        max_errors: int = 20,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine, self.shop = engine, shop
        self.workers = usable_cpus() if workers is None else max(0, workers)
        self.batch_size, self.send_events, self.max_errors, self.now = (
            batch_size,
            send_events,
            max_errors,
            now,
        )
        # Order and refund times outside the shop's bounds are row errors (docs/formats.md#bounds).
        bounds = TimeBounds.of(shop.earliest_order_date, now())
        self.defaults = ImportDefaults(shop.id, shop.prices_include_vat, source="import", bounds=bounds)
        self.context: ProfitContext | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._pool_name = ""
        self._gc_threshold = gc.get_threshold()

    def __enter__(self) -> OrderImport:
        with self.engine.begin() as conn:
            ensure_shop(conn, self.shop.id, self.shop.currency, self.shop.prices_include_vat, self.now())
            self.context = ProfitContext.load(conn, self.shop)
        tune_gc()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        restore_gc(self._gc_threshold)

    def start_pool(self, name: str) -> bool:
        """Start the workers for a file named `name` (call before starting UI threads: workers fork)."""
        if self.workers == 0 or self.send_events or self._pool is not None or not CAN_FORK:
            return self._pool is not None
        assert self.context is not None, "use OrderImport as a context manager"
        self.engine.dispose()  # no pooled database connection is inherited by the workers
        try:
            self._pool = start_pool(self.workers, _init_worker, (self.context, self.defaults, name))
        except BrokenProcessPool as exc:
            raise WorkerDied(ImportReport()) from exc
        self._pool_name = name
        return True

    def wants_pool(self, path: Path, fmt: str | None) -> bool:
        return (
            _kind(path, fmt) in ("jsonl", "csv")
            and CAN_FORK
            and self.workers > 0
            and not self.send_events
            and path.stat().st_size >= POOL_MIN_BYTES
        )

    def run(
        self, path: Path, *, fmt: str | None = None, on_progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import the file; rejected records are counted (and the first few kept), good ones stored."""
        assert self.context is not None, "use OrderImport as a context manager"
        report = ImportReport()
        items: Iterable[PreparedOrder | RowError | None]
        if self._pool is not None and self._pool_name == str(path):
            items = self._pooled(path, _kind(path, fmt), on_progress)
        else:
            ctx, keep = self.context, self.send_events
            parsed = read_orders(path, self.defaults, fmt=fmt, on_progress=on_progress)
            items = (_prepare(it, ctx, keep) for it in parsed)
        writer: BatchWriter[PreparedOrder] = BatchWriter(lambda batch: self._write(batch, report))
        died: BrokenProcessPool | None = None
        try:
            batch: list[PreparedOrder] = []
            for item in items:
                if item is None:
                    continue
                if isinstance(item, RowError):
                    report.rejected += 1
                    if len(report.errors) < self.max_errors:
                        report.errors.append(item)
                    continue
                report.accepted += 1
                report.lines += item.lines
                batch.append(item)
                if len(batch) >= self.batch_size:
                    writer.put(batch)
                    batch = []
            if batch:
                writer.put(batch)
        except BrokenProcessPool as exc:
            died = exc  # the batches already queued are still written (close), then it is said
        finally:
            writer.close()
        if died is not None:
            raise WorkerDied(report) from died
        return report

    def _pooled(
        self, path: Path, kind: str, on_progress: Callable[[int], None] | None
    ) -> Iterator[PreparedOrder | RowError]:
        assert self._pool is not None
        in_flight = 4 * self.workers + 4  # enough to keep the workers busy while a batch is written
        if kind == "csv":
            groups = chunks(read_csv_groups(path, on_progress=on_progress), CHUNK_RECORDS)
            yield from in_order(self._pool, groups, prepare_csv_chunk, in_flight)
        else:
            lines = chunks(read_jsonl_records(path, on_progress=on_progress), CHUNK_RECORDS)
            yield from in_order(self._pool, lines, prepare_jsonl_chunk, in_flight)

    def _write(self, batch: list[PreparedOrder], report: ImportReport) -> None:
        with self.engine.begin() as conn:
            write_prepared(
                conn,
                batch,
                self.shop,
                now=self.now(),
                trigger_purchase=self.send_events,
                outcome=report.outcome,
            )
        report.committed += len(batch)
