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
