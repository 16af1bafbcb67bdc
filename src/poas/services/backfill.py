"""Shopify backfills: a bulk-operation JSONL file or the admin orders export (CSV), streamed into the
store in batches, each batch one transaction; bad records are counted and described, good ones kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Literal

from sqlalchemy import Engine

from poas.domain.order import Order
from poas.services.ingest import BatchOutcome, ProfitContext, ingest_orders
from poas.settings import ShopConfig
from poas.sources.payload import TimeBounds
from poas.sources.shopify_bulk import BulkError, read_bulk
from poas.sources.shopify_csv import CsvError, read_export
from poas.store.orders import ensure_shop

Kind = Literal["bulk", "csv"]


@dataclass(slots=True)
class BackfillReport:
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0  # test orders
    errors: list[str] = field(default_factory=list)  # the first rejected records, described
    outcome: BatchOutcome = field(default_factory=BatchOutcome)


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
) -> BackfillReport:
    """Import every order of `stream`; `on_progress` gets the bytes read so far."""
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        ctx = ProfitContext.load(conn, shop)
    report = BackfillReport()
    batch: list[Order] = []

    def commit() -> None:
        with engine.begin() as conn:
            ingest_orders(
                conn, batch, shop, now=now, context=ctx, trigger_purchase=send_events, outcome=report.outcome
            )
        batch.clear()

    for item in backfill_records(kind, stream, shop, on_progress, now):
        if isinstance(item, BulkError | CsvError):
            report.rejected += 1
            if len(report.errors) < max_errors:
                report.errors.append(str(item))
            continue
        if item.test:
            report.skipped += 1
            continue
        report.accepted += 1
        batch.append(item)
        if len(batch) >= batch_size:
            commit()
    if batch:
        commit()
    return report
