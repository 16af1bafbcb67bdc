"""Customers placed in bulk (backfills, `poas customers rebuild`): rows staged, then numbered in SQL.

A bulk placement stores each order's `customer_orders` row unnumbered (`stage_placements`, batch by
batch, in the batches' own transactions) and numbers every touched customer's orders and rewrites
their `customers` rows once at the end (`number_customers`): one window-function UPDATE and one
INSERT … SELECT … GROUP BY, the same rows as `poas.store.customers._renumber` builds in Python for a
handful of customers (`number_orders`: counted orders by placed_at, then order id in code-point
order; sums over counted orders, profit sums over those whose cost is known).

The touched customers are put in a temporary table, so the statements cover only them (all the
shop's customers when a rebuild passes no keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from poas.store.order_writer import insert_rows
from poas.store.tables.foundation import UtcDateTime

_IN = 500
_SCOPE = "poas_customer_scope"
STAGED_COLUMNS = (
    *("shop_id", "order_id", "customer_key", "placed_at", "counts", "seq", "profit_known"),
    *("revenue_minor", "gross_profit_minor", "expected_profit_minor", "realized_profit_minor", "changed_at"),
)


def gate(conn: Connection, shop_id: str, *, whole_shop: bool) -> None:
    """PostgreSQL: the shop's customer gate, to the end of the transaction. Placing a few orders holds
    it shared (then locks its customers one by one); placing a backfill's or a rebuild's orders holds
    it alone, as one lock: a lock per customer would overflow PostgreSQL's lock table (about 6,400 by
    default: max_locks_per_transaction x max_connections) at a few thousand customers."""
    if conn.dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock" if whole_shop else "pg_advisory_xact_lock_shared"
    conn.execute(text(f"SELECT {fn}(hashtextextended(:n, 0))"), {"n": f"poas.customers:{shop_id}"})


def staged_row(
    shop_id: str,
    order_id: str,
    customer_key: str | None,
    placed_at: str,
    counts: bool,
    figures: tuple[int, int, int, int] | None,
    profit_known: bool,
    changed_at: str,
) -> tuple[Any, ...]:
    """One unnumbered `customer_orders` row (times as `utc_text`); `figures` are revenue, gross,
    expected and realized profit in minor units (None: no snapshot); profit sums only when known."""
    rev, gross, expected, realized = figures or (0, 0, 0, 0)
    if not profit_known:
        gross = expected = realized = 0
    return (
        *(shop_id, order_id, customer_key, placed_at, counts, None, profit_known),
        *(rev, gross, expected, realized, changed_at),
    )


def stage_placements(
    conn: Connection, shop_id: str, rows: Sequence[tuple[Any, ...]], replaced: Sequence[str]
) -> set[str]:
    """Store `rows` (from `staged_row`) unnumbered, replacing the rows of `replaced` order ids (orders
    stored before); the customer keys touched, old and new. Holds the shop's gate alone (PostgreSQL)."""
    gate(conn, shop_id, whole_shop=True)
    keys = {r[2] for r in rows if r[2] is not None}
    keys |= _drop(conn, shop_id, replaced)
    insert_rows(conn, "customer_orders", STAGED_COLUMNS, rows)
    return keys


def _drop(conn: Connection, shop_id: str, order_ids: Sequence[str]) -> set[str]:
    old: set[str] = set()
    for i in range(0, len(order_ids), _IN):
        chunk = list(order_ids[i : i + _IN])
        stmt = text(
            "DELETE FROM customer_orders WHERE shop_id = :s AND order_id IN :ids RETURNING customer_key"
        ).bindparams(bindparam("ids", expanding=True))
        old.update(k for k in conn.execute(stmt, {"s": shop_id, "ids": chunk}).scalars() if k is not None)
    return old


def number_customers(
    conn: Connection, shop_id: str, keys: Iterable[str] | None, *, now: datetime, currency: str
) -> None:
    """Number the counted orders of the customers `keys` (None: every customer of the shop) and
    rewrite their `customers` rows, in the caller's transaction (which should hold the gate alone)."""
    pg = conn.dialect.name == "postgresql"
    scope = ""
    if keys is not None:
        _fill_scope(conn, keys, pg)
        scope = f" AND customer_key IN (SELECT customer_key FROM {_SCOPE})"
    if pg:
        conn.execute(text("ANALYZE customer_orders"))
    stamp = bindparam("now", type_=UtcDateTime())
    order_key = 'order_id COLLATE "C"' if pg else "order_id"  # Python's str order: code points
    conn.execute(
        text(
            "UPDATE customer_orders SET seq = r.rn, changed_at = :now FROM (SELECT order_id AS oid,"
            f" ROW_NUMBER() OVER (PARTITION BY customer_key ORDER BY placed_at, {order_key}) AS rn"
            " FROM customer_orders WHERE shop_id = :s AND counts AND customer_key IS NOT NULL"
            f"{scope}) AS r WHERE customer_orders.shop_id = :s AND customer_orders.order_id = r.oid"
            " AND (customer_orders.seq IS NULL OR customer_orders.seq <> r.rn)"
        ).bindparams(stamp),
        {"s": shop_id, "now": now},
    )
    conn.execute(
        text(
            "UPDATE customer_orders SET seq = NULL, changed_at = :now WHERE shop_id = :s"
            f" AND seq IS NOT NULL AND (NOT counts OR customer_key IS NULL){scope}"
        ).bindparams(stamp),
        {"s": shop_id, "now": now},
    )
    _sum_customers(conn, shop_id, scope, now=now, currency=currency)
    if keys is not None:
        conn.execute(text(f"DROP TABLE {_SCOPE}"))


def _sum_customers(conn: Connection, shop_id: str, scope: str, *, now: datetime, currency: str) -> None:
    """Rewrite the `customers` rows of the scope from their numbered `customer_orders` rows."""
    conn.execute(text(f"DELETE FROM customers WHERE shop_id = :s{scope}"), {"s": shop_id})
    known = "CASE WHEN profit_known THEN {} ELSE 0 END"
    conn.execute(
        text(
            "INSERT INTO customers (shop_id, customer_key, first_order_id, first_order_at,"
            " last_order_at, orders, currency, revenue_minor, gross_profit_minor,"
            " expected_profit_minor, realized_profit_minor, orders_without_cost, updated_at)"
            " SELECT shop_id, customer_key, MAX(CASE WHEN seq = 1 THEN order_id END),"
            " MIN(placed_at), MAX(placed_at), COUNT(*), :cur, SUM(revenue_minor),"
            f" SUM({known.format('gross_profit_minor')}), SUM({known.format('expected_profit_minor')}),"
            f" SUM({known.format('realized_profit_minor')}), SUM(CASE WHEN profit_known THEN 0 ELSE 1 END),"
            " :now FROM customer_orders WHERE shop_id = :s AND counts AND customer_key IS NOT NULL"
            f"{scope} GROUP BY shop_id, customer_key"
        ).bindparams(bindparam("now", type_=UtcDateTime())),
        {"s": shop_id, "now": now, "cur": currency},
    )


class Rebuild:
    """Every order of a shop placed from scratch (the shop's `customer_orders` and `customers` rows
    deleted first, in the caller's transaction): rows are collected unnumbered in a temporary table
    without indexes (`add`), then inserted numbered in one statement and summed (`finish`), so no
    row is written twice."""

    _TABLE = "poas_rebuild_rows"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        if self.pg:
            conn.execute(text(f"CREATE TEMPORARY TABLE {self._TABLE} (LIKE customer_orders) ON COMMIT DROP"))
        else:
            conn.execute(text(f"DROP TABLE IF EXISTS temp.{self._TABLE}"))  # left by a failed transaction
            conn.execute(
                text(f"CREATE TEMPORARY TABLE {self._TABLE} AS SELECT * FROM customer_orders WHERE 0")
            )

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Unnumbered rows (`staged_row`)."""
        insert_rows(self.conn, self._TABLE, STAGED_COLUMNS, rows)

    def finish(self, shop_id: str, *, now: datetime, currency: str) -> None:
        order_key = 'order_id COLLATE "C"' if self.pg else "order_id"  # Python's str order: code points
        cols = ", ".join(STAGED_COLUMNS)
        numbered = ", ".join(
            "CASE WHEN counts AND customer_key IS NOT NULL THEN ROW_NUMBER() OVER (PARTITION BY"
            f" customer_key, counts ORDER BY placed_at, {order_key}) END"
            if c == "seq"
            else c
            for c in STAGED_COLUMNS
        )
        self.conn.execute(text(f"INSERT INTO customer_orders ({cols}) SELECT {numbered} FROM {self._TABLE}"))
        self.conn.execute(text(f"DROP TABLE {self._TABLE}"))
        if self.pg:
            self.conn.execute(text("ANALYZE customer_orders"))
        _sum_customers(self.conn, shop_id, "", now=now, currency=currency)


def _fill_scope(conn: Connection, keys: Iterable[str], pg: bool) -> None:
    if pg:
        conn.execute(text(f"CREATE TEMPORARY TABLE {_SCOPE} (customer_key TEXT PRIMARY KEY) ON COMMIT DROP"))
    else:
        conn.execute(text(f"DROP TABLE IF EXISTS temp.{_SCOPE}"))  # left by a failed transaction
        conn.execute(text(f"CREATE TEMPORARY TABLE {_SCOPE} (customer_key TEXT PRIMARY KEY)"))
    insert_rows(conn, _SCOPE, ("customer_key",), [(k,) for k in keys])
    if pg:
        conn.execute(text(f"ANALYZE {_SCOPE}"))


class StagedPlacements:
    """What a bulk write has staged so far: the customer keys touched and the shop's currency seen
    (the final `number_customers` covers exactly those customers)."""

    __slots__ = ("currency", "keys")

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.currency: str | None = None
