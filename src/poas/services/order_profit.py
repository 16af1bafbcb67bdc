"""One order's profit story (`poas profit`): every profit snapshot, the events queued for the order with
Meta's answers, and its final-profit corrections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from poas.store import corrections, snapshots
from poas.store.outbox import list_events

COMPONENTS = snapshots.COMPONENTS  # the amounts every snapshot keeps, in breakdown order
MAX_EVENTS = 100


@dataclass(frozen=True, slots=True)
class ProfitHistory:
    snapshots: list[snapshots.Snapshot]  # oldest first; empty when no profit is stored
    events: list[dict[str, Any]]  # outbox rows, oldest first (with payloads only when asked)
    corrections: list[dict[str, Any]]  # the correction ledger's rows, oldest first


def profit_history(engine: Engine, shop_id: str, order_id: str, *, with_payload: bool) -> ProfitHistory:
    with engine.connect() as conn:
        return ProfitHistory(
            snapshots.history(conn, shop_id, order_id),
            list_events(conn, order=(shop_id, order_id), limit=MAX_EVENTS, with_payload=with_payload),
            corrections.for_order(conn, shop_id, order_id),
        )
