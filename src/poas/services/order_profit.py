"""One order's profit story (`poas profit`): every profit snapshot, the events queued for the order with
Meta's answers, and its final-profit corrections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from poas.store import corrections, snapshots
from poas.store.outbox import list_events
from poas.store.tables.intake import inbox

COMPONENTS = snapshots.COMPONENTS  # the amounts every snapshot keeps, in breakdown order
MAX_EVENTS = 100


@dataclass(frozen=True, slots=True)
class ProfitHistory:
    snapshots: list[snapshots.Snapshot]  # oldest first; empty when no profit is stored
    events: list[dict[str, Any]]  # outbox rows, oldest first (with payloads only when asked)
    corrections: list[dict[str, Any]]  # the correction ledger's rows, oldest first
    # the webhook / API deliveries of the order, oldest first: (received_at, topic, status, outcome)
    deliveries: list[tuple[Any, str, str, str | None]]


MAX_DELIVERIES = 50


def _deliveries(conn: Connection, shop_id: str, order_id: str) -> list[tuple[Any, str, str, str | None]]:
    c = inbox.c
    rows = conn.execute(
        select(c.received_at, c.topic, c.status, c.outcome)
        .where(c.shop_id == shop_id, c.order_id == order_id)
        .order_by(c.id.desc())
        .limit(MAX_DELIVERIES)
    ).all()
    return [(r[0], str(r[1]), str(r[2]), r[3]) for r in reversed(rows)]


def profit_history(engine: Engine, shop_id: str, order_id: str, *, with_payload: bool) -> ProfitHistory:
    with engine.connect() as conn:
        return ProfitHistory(
            snapshots.history(conn, shop_id, order_id),
            list_events(conn, order=(shop_id, order_id), limit=MAX_EVENTS, with_payload=with_payload),
            corrections.for_order(conn, shop_id, order_id),
            _deliveries(conn, shop_id, order_id),
        )
