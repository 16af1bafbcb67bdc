"""The sample shop's older history into the store (`poas demo`): its Shopify orders in their final state
(refunds inside, cancellations applied), parsed and ingested in batches, oldest first.

No Meta event is queued: every order of the history is older than Meta's 7-day window, so a Purchase
could not be sent anyway (a backfill queues none either). Each batch is placed in its customers'
histories as it is written, so the live window's orders that follow arrive as returning customers'.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from poas.domain.order import Order
from poas.services.ingest import BatchOutcome, ProfitContext, ingest_orders
from poas.settings import ShopConfig
from poas.sources.payload import TimeBounds
from poas.sources.shopify import parse_order
from poas.store.orders import ensure_shop

BATCH = 1000


@dataclass(slots=True)
class HistoryImport:
    orders: int = 0
    outcome: BatchOutcome = field(default_factory=BatchOutcome)


def import_history(
    engine: Engine,
    shop: ShopConfig,
    path: Path,
    *,
    now: datetime,
    on_progress: Callable[[int], None] | None = None,
) -> HistoryImport:
    """Ingest `path` (one Shopify order JSON per line) without events; the orders read and the outcome.
    A line that is not a valid order raises (the generator wrote it: a bad one is a bug, not data)."""
    bounds = TimeBounds.of(shop.earliest_order_date, now)
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        context = ProfitContext.load(conn, shop)
    done = HistoryImport()

    def write(batch: list[Order]) -> None:
        with engine.begin() as conn:
            ingest_orders(conn, batch, shop, now=now, context=context, outcome=done.outcome)
        done.orders += len(batch)
        if on_progress is not None:
            on_progress(len(batch))

    batch: list[Order] = []
    with path.open("rb") as f:
        for line in f:
            data = json.loads(line)
            batch.append(parse_order(data, shop.id, consent_keys=shop.consent_attribute_keys, bounds=bounds))
            if len(batch) >= BATCH:
                write(batch)
                batch = []
    if batch:
        write(batch)
    return done
