"""Batch writes of order rows: executemany on SQLite, COPY (through a staging table for orders) on PostgreSQL.

The upsert rule is the store's: an incoming order replaces the stored one with all its child rows
unless both carry an `updated_at` and the incoming one is older (then nothing changes). On SQLite
the caller's transaction holds the single write lock (BEGIN IMMEDIATE), so the stored versions read
first are exact. On PostgreSQL the orders are copied into a temporary table and upserted by one
INSERT … ON CONFLICT … RETURNING, which says which rows it inserted, replaced or left alone even
while other processes write the same orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from poas.store.order_rows import (
    LINE_COLUMNS,
    ORDER_COLUMNS,
    REFUND_COLUMNS,
    REFUND_LINE_COLUMNS,
    SHIPPING_COLUMNS,
    UPDATED_AT,
    Key,
    OrderRows,
)

_IN_CHUNK = 500
_PG_VALUES_MAX = 64  # smaller batches upsert by one INSERT … VALUES instead of a staging table
_PG_ANALYZE_BELOW = 1000  # orders rows the planner believes in before we refresh its statistics
_CHILD_TABLES = ("refund_lines", "refunds", "order_shipping_lines", "order_lines")


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """Which order ids of one batch were inserted, replaced, or ignored as stale."""

    inserted: frozenset[Key]
    updated: frozenset[Key]
    stale: frozenset[Key]

    @property
    def written(self) -> frozenset[Key]:
        return self.inserted | self.updated


def _older(incoming: str | None, stored: str | None) -> bool:
    """UTC texts of one format compare like the instants they name."""
    return incoming is not None and stored is not None and incoming < stored


def newest_rows(batch: Iterable[OrderRows]) -> dict[Key, OrderRows]:
    """One entry per (shop, order id): the newest by `updated_at`; on a tie, the later one."""
    latest: dict[Key, OrderRows] = {}
    for rows in batch:
        prev = latest.get(rows.key)
        if prev is None or not _older(rows.head[UPDATED_AT], prev.head[UPDATED_AT]):
            latest[rows.key] = rows
    return latest


def _cols(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT tuples of plain values: sqlite3 executemany, or COPY on PostgreSQL (caller's transaction)."""
    if not rows:
        return
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            _pg_utc(conn, cur)
            with cur.copy(f'COPY "{table}" ({_cols(columns)}) FROM STDIN') as copy:
                for r in rows:
                    copy.write_row(r)
        return
    marks = ", ".join("?" * len(columns))
    cur = raw.cursor()
    try:
        cur.executemany(f'INSERT INTO "{table}" ({_cols(columns)}) VALUES ({marks})', rows)
    finally:
        cur.close()


def _pg_utc(conn: Connection, cur: Any) -> None:
    """Read timestamp texts as UTC for the rest of the caller's transaction (once per transaction)."""
    tx = conn.get_nested_transaction() or conn.get_transaction()  # a savepoint rollback undoes SET LOCAL
    if tx is not None and conn.info.get("poas_utc_tx") is tx:
        return
    cur.execute("SET LOCAL TimeZone = 'UTC'")
    conn.info["poas_utc_tx"] = tx


def _insert_children(conn: Connection, written: Iterable[OrderRows]) -> None:
    lines: list[tuple[Any, ...]] = []
    shipping: list[tuple[Any, ...]] = []
    refunds: list[tuple[Any, ...]] = []
    refund_lines: list[tuple[Any, ...]] = []
    for r in written:
        lines += r.lines
        shipping += r.shipping
        refunds += r.refunds
        refund_lines += r.refund_lines
    insert_rows(conn, "order_lines", LINE_COLUMNS, lines)
    insert_rows(conn, "order_shipping_lines", SHIPPING_COLUMNS, shipping)
    insert_rows(conn, "refunds", REFUND_COLUMNS, refunds)
    insert_rows(conn, "refund_lines", REFUND_LINE_COLUMNS, refund_lines)


def _by_shop(keys: Iterable[Key]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for shop_id, order_id in keys:
        out.setdefault(shop_id, []).append(order_id)
    return out


# ---- SQLite ------------------------------------------------------------------------------------


def _sqlite_stored(cur: Any, keys: Iterable[Key]) -> dict[Key, str | None]:
    found: dict[Key, str | None] = {}
    for shop_id, ids in _by_shop(keys).items():
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT order_id, updated_at FROM orders WHERE shop_id = ? AND order_id IN ({marks})"
            for order_id, updated_at in cur.execute(sql, (shop_id, *chunk)):
                found[(shop_id, order_id)] = updated_at
    return found


def _sqlite_write(
    conn: Connection, latest: dict[Key, OrderRows], now_text: str, always_clear: bool
) -> UpsertResult:
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor()
    try:
        stored = _sqlite_stored(cur, latest)
        inserted: set[Key] = set()
        updated: set[Key] = set()
        stale: set[Key] = set()
        for key, rows in latest.items():
            if key not in stored:
                inserted.add(key)
            elif _older(rows.head[UPDATED_AT], stored[key]):
                stale.add(key)
            else:
                updated.add(key)
        written = [latest[k] for k in latest if k not in stale]
        if written:
            keep = ", ".join(f'"{n}" = excluded."{n}"' for n in ORDER_COLUMNS[2:])
            cur.executemany(
                f"INSERT INTO orders ({_cols(ORDER_COLUMNS)}) VALUES ({', '.join('?' * len(ORDER_COLUMNS))}) "
                f"ON CONFLICT (shop_id, order_id) DO UPDATE SET {keep} "
                "WHERE orders.updated_at IS NULL OR excluded.updated_at IS NULL "
                "OR excluded.updated_at >= orders.updated_at",
                [(*r.head, now_text) for r in written],
            )
            clear = sorted(updated | inserted) if always_clear else sorted(updated)
            for table in _CHILD_TABLES:
                if clear:
                    cur.executemany(f'DELETE FROM "{table}" WHERE shop_id = ? AND order_id = ?', clear)
    finally:
        cur.close()
    _insert_children(conn, written)
    return UpsertResult(frozenset(inserted), frozenset(updated), frozenset(stale))


# ---- PostgreSQL --------------------------------------------------------------------------------

_PG_KEEP = ", ".join(f'"{n}" = excluded."{n}"' for n in ORDER_COLUMNS[2:])
_PG_UPSERT = (
    f"INSERT INTO orders ({_cols(ORDER_COLUMNS)}) {{source}} "
    f"ON CONFLICT (shop_id, order_id) DO UPDATE SET {_PG_KEEP} "
    "WHERE orders.updated_at IS NULL OR excluded.updated_at IS NULL "
    "OR excluded.updated_at >= orders.updated_at "
    "RETURNING shop_id, order_id, (xmax = 0) AS inserted"
)


def _pg_refresh_stats(cur: Any, batch_size: int) -> None:
    """ANALYZE orders while the planner still thinks the table is (nearly) empty.

    Every child row's foreign-key check looks its order up; on a table never analyzed the planner
    picks a scan of the (shop_id, created_at) index or the heap, and a bulk import slows to a crawl
    (0.3 ms per child row at 4,000 orders, growing with the table). Runs at most a few times.
    """
    if batch_size < _PG_VALUES_MAX:
        return
    cur.execute("SELECT reltuples FROM pg_class WHERE oid = 'orders'::regclass")
    row = cur.fetchone()
    if row is not None and row[0] < _PG_ANALYZE_BELOW:
        cur.execute("ANALYZE orders")


def _pg_write(conn: Connection, latest: dict[Key, OrderRows], now_text: str) -> UpsertResult:
    raw: Any = conn.connection.driver_connection
    rows = list(latest.values())
    with raw.cursor() as cur:
        _pg_utc(conn, cur)
        if len(rows) <= _PG_VALUES_MAX:
            marks = "(" + ", ".join(["%s"] * len(ORDER_COLUMNS)) + ")"
            params = [v for r in rows for v in (*r.head, now_text)]
            cur.execute(_PG_UPSERT.format(source="VALUES " + ", ".join([marks] * len(rows))), params)
        else:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS poas_stage_orders (LIKE orders) ON COMMIT DROP")
            with cur.copy(f"COPY poas_stage_orders ({_cols(ORDER_COLUMNS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((*r.head, now_text))
            cur.execute(_PG_UPSERT.format(source=f"SELECT {_cols(ORDER_COLUMNS)} FROM poas_stage_orders"))
        returned = cur.fetchall()
        if len(rows) > _PG_VALUES_MAX:
            cur.execute("TRUNCATE poas_stage_orders")
        inserted = {(s, o) for s, o, new in returned if new}
        updated = {(s, o) for s, o, new in returned if not new}
        for shop_id, ids in _by_shop(updated).items():
            for table in _CHILD_TABLES:
                cur.execute(
                    f'DELETE FROM "{table}" WHERE shop_id = %s AND order_id = ANY(%s)', (shop_id, ids)
                )
        _pg_refresh_stats(cur, len(rows))
    stale = set(latest) - inserted - updated
    _insert_children(conn, (latest[k] for k in latest if k not in stale))
    return UpsertResult(frozenset(inserted), frozenset(updated), frozenset(stale))


def write_orders(
    conn: Connection, batch: Iterable[OrderRows], *, now_text: str, always_clear_children: bool = False
) -> UpsertResult:
    """Insert or replace a batch of orders with their child rows in the caller's transaction.

    Within a batch the newest version of an order wins. Shop rows must exist. `now_text` (UTC text)
    is stored as `ingested_at`. `always_clear_children` deletes child rows of orders that looked new
    too (SQLite; on PostgreSQL the upsert itself tells new from replaced).
    """
    latest = newest_rows(batch)
    if not latest:
        return UpsertResult(frozenset(), frozenset(), frozenset())
    if conn.dialect.name == "postgresql":
        return _pg_write(conn, latest, now_text)
    if conn.dialect.name == "sqlite":
        return _sqlite_write(conn, latest, now_text, always_clear_children)
    raise NotImplementedError(f"no bulk order writer for {conn.dialect.name}")
