"""The order reconciliation's counts on its `sync_status` row: orders checked and missed by the last
successful run, and missed by every run so far (`missed_total`, the `/metrics` counter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from poas.store.tables.syncs import sync_status


@dataclass(frozen=True, slots=True)
class ReconcileCounts:
    shop_id: str
    last_success_at: datetime | None
    last_checked: int | None
    last_missed: int | None
    missed_total: int


def add_counts(conn: Connection, kind: str, shop_id: str, *, checked: int, missed: int) -> None:
    """Count one successful run on the (already recorded) row of `kind` and `shop_id`."""
    t = sync_status.c
    conn.execute(
        update(sync_status)
        .where(t.kind == kind, t.shop_id == shop_id)
        .values(last_checked=checked, last_missed=missed, missed_total=t.missed_total + missed)
    )


def load_counts(conn: Connection, kind: str) -> list[ReconcileCounts]:
    t = sync_status.c
    rows = conn.execute(
        select(t.shop_id, t.last_success_at, t.last_checked, t.last_missed, t.missed_total)
        .where(t.kind == kind)
        .order_by(t.shop_id)
    ).all()
    return [ReconcileCounts(r[0], r[1], r[2], r[3], int(r[4] or 0)) for r in rows]
