"""Where an order sync resumes: the newest `updated_at` among a shop's stored orders from one source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from poas.store.tables.foundation import orders


def newest_update(conn: Connection, shop_id: str, source: str) -> datetime | None:
    t = orders.c
    value: datetime | None = conn.execute(
        select(func.max(t.updated_at)).where(t.shop_id == shop_id, t.source == source)
    ).scalar_one()
    return value


def stored_updates(conn: Connection, shop_id: str, order_ids: list[str]) -> dict[str, datetime | None]:
    """The stored `updated_at` of those of `order_ids` the shop holds (absent ids: not stored)."""
    t = orders.c
    found: dict[str, datetime | None] = {}
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start : start + 500]
        rows = conn.execute(
            select(t.order_id, t.updated_at).where(t.shop_id == shop_id, t.order_id.in_(chunk))
        )
        found.update({r[0]: r[1] for r in rows})
    return found
