"""The set-based numbering of a bulk placement (`customer_numbering.number_customers`, in SQL) gives
the rows that per-order placement (`customers.place_orders`, numbered in Python) gives: ties on the
order time broken by order id in code-point order, uncounted and guest orders unnumbered, profit sums
only over orders whose cost is known."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select, text
from test_customers import ANNE, BJORN, NOW, T0, ingest, order, setup

from poas.domain.order import Customer
from poas.store.customers import place_orders_at_once, rebuild_customers
from poas.store.tables.customers import customer_orders, customers

SAME_TIME = 5  # days after T0: every Anne order below is placed at the same instant


def _rows(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        co = conn.execute(
            select(customer_orders.c.order_id, customer_orders.c.customer_key, customer_orders.c.seq)
            .where(customer_orders.c.shop_id == "s1")
            .order_by(customer_orders.c.order_id)
        ).all()
        cu = conn.execute(
            select(*(c for c in customers.c if c.name not in ("shop_id", "updated_at")))
            .where(customers.c.shop_id == "s1")
            .order_by(customers.c.customer_key)
        ).all()
    return [tuple(r) for r in co], [tuple(r) for r in cu]


def _natural_collation(engine: Engine) -> None:
    """PostgreSQL: give order_id a language collation (ICU, root locale: a < B < b, 10 < 9) as a
    database created with a language locale has, so that only the numbering's own `COLLATE "C"`
    gives code-point order (a C.UTF-8 database would sort the ties that way anyway)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.execute(
            text('ALTER TABLE customer_orders ALTER COLUMN order_id TYPE VARCHAR(100) COLLATE "und-x-icu"')
        )
        ordered = conn.execute(
            text("SELECT x FROM (VALUES ('b'), ('B'), ('a')) AS v(x) ORDER BY x COLLATE \"und-x-icu\"")
        ).scalars()
        assert list(ordered) == ["a", "b", "B"]  # not the code-point order the numbering must use


def test_sql_numbering_equals_per_order_numbering(engine: Engine) -> None:
    setup(engine)
    _natural_collation(engine)
    ties = ["b", "B", "a", "10", "9", "Ø1", "a-", "a_"]  # code points: 10 < 9 < B < a- < a < a_ < b < Ø1
    ingest(
        engine,
        *(order(i, SAME_TIME, ANNE) for i in ties),
        order("early", 1, ANNE, cancelled_at=T0 + timedelta(days=1, hours=2)),  # does not count
        order("c1", 2, BJORN),
        order("c2", 2, BJORN, lines=()),  # counts, but with no line its profit may be unknown
        order("g1", 3, Customer()),  # guest: no customer
        order("t1", 3, BJORN, test=True),
    )
    by_order, by_customer = _rows(engine)
    anne = {r[0]: r[2] for r in by_order if r[0] in ties}
    assert [k for k, _ in sorted(anne.items(), key=lambda kv: kv[1])] == sorted(ties)
    assert {r[0]: r[2] for r in by_order if r[0] in ("early", "g1", "t1")} == {
        "early": None,
        "g1": None,
        "t1": None,
    }
    with engine.begin() as conn:  # stale numbers and sums of Anne's; placing one of her orders again
        conn.execute(text("UPDATE customer_orders SET seq = 99 WHERE order_id IN ('a', 'early')"))
        conn.execute(text("UPDATE customers SET orders = 0"))
        place_orders_at_once(conn, "s1", [["b"]], now=NOW)
    after = _rows(engine)
    assert after[0] == by_order  # Anne's whole history numbered again, not only the order given
    anne_key = next(r[1] for r in by_order if r[0] == "b")
    assert [c for c in after[1] if c[0] == anne_key] == [c for c in by_customer if c[0] == anne_key]
    with engine.begin() as conn:
        rebuild_customers(conn, "s1", now=NOW + timedelta(days=1))
    assert _rows(engine) == (by_order, by_customer)
    with engine.begin() as conn:
        rebuild_customers(conn, "s1", now=NOW)  # from scratch again: idempotent
    assert _rows(engine) == (by_order, by_customer)
