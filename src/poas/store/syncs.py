"""When each recurring sync last succeeded, was last tried and last failed (table `sync_status`).

Writes are single upserts by (kind, shop_id), so concurrent syncs and checkers never conflict: the
latest attempt's times win, and `expected_since` keeps the first one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from poas.store.orders import upsert_insert
from poas.store.tables.syncs import sync_status

MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class SyncRow:
    kind: str
    shop_id: str  # "" when not per shop
    expected_since: datetime
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None


def _row(r: Any) -> SyncRow:
    return SyncRow(
        r["kind"],
        r["shop_id"],
        r["expected_since"],
        r["last_attempt_at"],
        r["last_success_at"],
        r["last_failure_at"],
        r["last_error"],
    )


def load(conn: Connection) -> dict[tuple[str, str], SyncRow]:
    rows = conn.execute(select(sync_status)).mappings()
    return {(r["kind"], r["shop_id"]): _row(r) for r in rows}


def record(conn: Connection, kind: str, shop_id: str, *, now: datetime, error: str | None) -> None:
    """One attempt: a success when `error` is None, else a failure with that (secret-free) reason."""
    values: dict[str, Any] = {"last_attempt_at": now}
    if error is None:
        values["last_success_at"] = now
    else:
        values["last_failure_at"] = now
        values["last_error"] = error[:MAX_ERROR_CHARS]
    stmt = upsert_insert(conn, sync_status).values(kind=kind, shop_id=shop_id, expected_since=now, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["kind", "shop_id"], set_=values))


def expect(conn: Connection, keys: list[tuple[str, str]], *, now: datetime) -> None:
    """Start the clock of syncs that should run but have no row yet (never tried): silent from `now`."""
    if not keys:
        return
    stmt = upsert_insert(conn, sync_status).on_conflict_do_nothing(index_elements=["kind", "shop_id"])
    conn.execute(stmt, [{"kind": k, "shop_id": s, "expected_since": now} for k, s in keys])
