"""The profit-correction ledger: one row per order correction, sent as AppendValue or kept unsent."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from poas.store.tables.returns import profit_corrections


@dataclass(frozen=True, slots=True)
class Correction:
    shop_id: str
    order_id: str
    correction_key: str
    trigger: str
    currency: str
    sent_net_revenue: int | None
    final_profit: int
    append_net_revenue: int | None
    state: str  # queued | unsent | unchanged
    reason: str
    append_event_id: str | None
    created_at: datetime


def record(conn: Connection, correction: Correction) -> bool:
    """Insert unless this (shop, order, key) is already recorded; True when this call recorded it.

    The unique key is what makes finalization safe with several workers: only the worker whose
    insert lands queues the AppendValue (in the same transaction).
    """
    ins: Any = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(profit_corrections)
    stmt = ins.values(**asdict(correction)).on_conflict_do_nothing(
        index_elements=["shop_id", "order_id", "correction_key"]
    )
    return bool(conn.execute(stmt).rowcount)


def for_order(conn: Connection, shop_id: str, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(profit_corrections)
        .where(profit_corrections.c.shop_id == shop_id, profit_corrections.c.order_id == order_id)
        .order_by(profit_corrections.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def all_for_shop(conn: Connection, shop_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(profit_corrections)
        .where(profit_corrections.c.shop_id == shop_id)
        .order_by(profit_corrections.c.id)
    ).mappings()
    return [dict(r) for r in rows]
