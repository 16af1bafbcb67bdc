"""Shopify backfills: a bulk-operation JSONL file or the admin orders export (CSV), streamed into the
store in batches, each batch one transaction; bad records are counted and described, good ones kept.

A large bulk file (that queues no events) is parsed and priced in worker processes (as the canonical
import is, `import_pool`): this process reads the lines, groups each order's rows, and writes the
batches in a writer thread; results come back in file order, so the errors, the batches and the
newest copy of an order are those of a sequential import.

A backfill that queues no events stores each batch's customer rows unnumbered (from the rows it
has just written, in the batch's transaction) and numbers every customer it touched once, at the
end, in SQL (`number_customers`, in one transaction, also when it stops on an error) instead of
batch by batch: the same rows, without renumbering a customer once per batch. Events need their
order placed first, so a backfill that queues them places per batch.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Literal

from sqlalchemy import Engine

from poas.domain.order import Order
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
from poas.sources.payload import TimeBounds
from poas.sources.shopify_bulk import BulkError, RawGroup, parse_raw_group, raw_groups, read_bulk
from poas.sources.shopify_csv import CsvError, read_export
from poas.store.customer_numbering import StagedPlacements, gate, number_customers
from poas.store.orders import ensure_shop

Kind = Literal["bulk", "csv"]


@dataclass(slots=True)
class BackfillReport:
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0  # test orders
    errors: list[str] = field(default_factory=list)  # the first rejected records, described
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    committed: int = 0  # accepted orders whose batch's transaction has committed


class BackfillWorkerDied(RuntimeError):
    """A worker process died (killed by the system, e.g. out of memory) and the backfill stopped
    after writing the batches already read (and placing their customers): `report.committed` orders.
    Running it again is safe: orders are upserted by (shop, order id), a snapshot is added only when
    the figures change, and customers are recomputed for the orders written."""

    def __init__(self, report: BackfillReport) -> None:
        super().__init__(f"a worker process died after {report.committed} orders were committed")
        self.report = report


def backfill_records(
    kind: Kind, stream: IO[bytes], shop: ShopConfig, on_progress: Callable[[int], None] | None, now: datetime
) -> Iterator[Order | BulkError | CsvError]:
    """The orders of a bulk JSONL file or a CSV export, or the error of each bad record (reconciliation
    reads Shopify's bulk files through this too)."""
    bounds = TimeBounds.of(shop.earliest_order_date, now)  # an order outside the shop's times is a row error
    if kind == "bulk":
        return read_bulk(
            stream, shop.id, on_progress=on_progress, consent_keys=shop.consent_attribute_keys, bounds=bounds
        )
    return read_export(
        stream, shop.id, prices_include_vat=shop.prices_include_vat, on_progress=on_progress, bounds=bounds
    )


POOL_MIN_BYTES = 1 << 20  # smaller files are read in this process: starting workers costs more
CHUNK_ORDERS = 200  # orders per task sent to a worker
TEST_ORDER = "test"  # what a worker answers for a test order (skipped, counted)

Item = PreparedOrder | BulkError | CsvError | str

# ---- worker side -------------------------------------------------------------------------------

_worker: tuple[ProfitContext, ShopConfig, TimeBounds] | None = None


def _init_worker(context: ProfitContext, shop: ShopConfig, bounds: TimeBounds) -> None:
    global _worker
    _worker = (context, shop, bounds)
    tune_gc()


def _prepare(item: Order | BulkError | CsvError, context: ProfitContext, keep: bool) -> Item:
    if isinstance(item, BulkError | CsvError):
        return item
    if item.test:
        return TEST_ORDER
    return prepare_order(item, context, keep=keep)


def prepare_bulk_chunk(items: list[tuple[int, str, list[bytes], list[int]] | BulkError]) -> list[Item]:
    """Parse and price a chunk of bulk orders (each `RawGroup.as_tuple()`: its first line, gid, rows'
    lines and line numbers); the reader's line errors pass through, in place, and a group's bad lines
    come before its order (runs in a worker set up by `_init_worker`)."""
    assert _worker is not None, "worker not initialized"
    context, shop, bounds = _worker
    keys = shop.consent_attribute_keys
    out: list[Item] = []
    for it in items:
        if isinstance(it, BulkError):
            out.append(it)
            continue
        for got in parse_raw_group(RawGroup(*it), shop.id, consent_keys=keys, bounds=bounds):
            out.append(_prepare(got, context, False))
    return out


def _sendable(item: RawGroup | BulkError) -> tuple[int, str, list[bytes], list[int]] | BulkError:
    return item if isinstance(item, BulkError) else item.as_tuple()


def _stream_size(stream: IO[bytes]) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None


# ---- the backfill ------------------------------------------------------------------------------


def backfill(
    engine: Engine,
    shop: ShopConfig,
    stream: IO[bytes],
    kind: Kind,
    *,
    now: datetime,
    batch_size: int,
    send_events: bool,
    max_errors: int,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> BackfillReport:
    """Import every order of `stream`; `on_progress` gets the bytes read so far. `workers` processes
    parse and price a bulk file that queues no events: by default one per usable CPU when the file
    has at least `POOL_MIN_BYTES`, else none (0: always in this process)."""
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        ctx = ProfitContext.load(conn, shop)
    if workers is None:
        size = _stream_size(stream)
        workers = usable_cpus() if size is not None and size >= POOL_MIN_BYTES else 0
    pooled = kind == "bulk" and not send_events and workers > 0 and CAN_FORK
    report = BackfillReport()
    staged = None if send_events else StagedPlacements()  # written unnumbered, numbered at the end

    def write(batch: list[PreparedOrder]) -> None:
        with engine.begin() as conn:
            write_prepared(
                conn,
                batch,
                shop,
                now=now,
                trigger_purchase=send_events,
                outcome=report.outcome,
                staged=staged,
            )
        report.committed += len(batch)

    threshold = gc.get_threshold()
    tune_gc()
    died: BrokenProcessPool | None = None
    try:
        pool = _start_pool(engine, shop, ctx, now, workers) if pooled else None
    except BrokenProcessPool as exc:
        restore_gc(threshold)
        raise BackfillWorkerDied(report) from exc
    try:
        if pool is not None:
            groups = (_sendable(g) for g in raw_groups(stream, on_progress=on_progress))
            items: Iterable[Item] = in_order(
                pool, chunks(groups, CHUNK_ORDERS), prepare_bulk_chunk, 4 * workers + 4
            )
        else:
            records = backfill_records(kind, stream, shop, on_progress, now)
            items = (_prepare(item, ctx, send_events) for item in records)
        try:
            _run(report, items, write, batch_size, max_errors)
        except BrokenProcessPool as exc:
            died = exc  # the batches already read were written (the writer closes first); said below
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        try:
            if staged is not None and staged.keys:  # every committed batch's, also when one failed
                number_staged(engine, shop, staged, now=now)
        finally:
            restore_gc(threshold)
    if died is not None:
        raise BackfillWorkerDied(report) from died
    return report


def number_staged(engine: Engine, shop: ShopConfig, staged: StagedPlacements, *, now: datetime) -> None:
    """Number the customers the backfill touched and add them up, in one transaction: what placing
    the orders batch by batch as they were written gives (placement depends only on the stored
    orders and their customer rows)."""
    with engine.begin() as conn:
        gate(conn, shop.id, whole_shop=True)
        number_customers(conn, shop.id, staged.keys, now=now, currency=staged.currency or shop.currency)


def _start_pool(
    engine: Engine, shop: ShopConfig, ctx: ProfitContext, now: datetime, workers: int
) -> ProcessPoolExecutor:
    """The workers, started before this backfill's writer thread. Forking copies the cost book for
    free, but not while another thread (a progress bar, a server in tests) may hold a lock a worker
    needs: then a clean fork server starts them."""
    bounds = TimeBounds.of(shop.earliest_order_date, now)
    method = "fork" if threading.active_count() == 1 else "forkserver"
    engine.dispose()  # no pooled database connection is inherited by the workers
    return start_pool(workers, _init_worker, (ctx, shop, bounds), method=method, preload=[__name__])


def _run(
    report: BackfillReport,
    items: Iterable[Item],
    write: Callable[[list[PreparedOrder]], None],
    batch_size: int,
    max_errors: int,
) -> None:
    writer: BatchWriter[PreparedOrder] = BatchWriter(write)
    try:
        batch: list[PreparedOrder] = []
        for item in items:
            if isinstance(item, BulkError | CsvError):
                report.rejected += 1
                if len(report.errors) < max_errors:
                    report.errors.append(str(item))
                continue
            if isinstance(item, str):
                report.skipped += 1
                continue
            report.accepted += 1
            batch.append(item)
            if len(batch) >= batch_size:
                writer.put(batch)
                batch = []
        if batch:
            writer.put(batch)
    finally:
        writer.close()
