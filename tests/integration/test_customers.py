"""Customers on both engines: keys from hashed contact data, new vs returning kept as orders change."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text

from poas.domain.costs import CostRow
from poas.domain.order import Customer, Order, OrderLine
from poas.services.ingest import ingest_order
from poas.settings import MissingCostPolicy, ShopConfig
from poas.store.costs import import_costs
from poas.store.customers import (
    load_customer,
    load_customers,
    order_types,
    place_orders_at_once,
    rebuild_customers,
)
from poas.store.orders import ensure_shop
from poas.store.tables.customers import customer_orders

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
SHOP = ShopConfig(id="s1", currency="NOK", missing_cost=MissingCostPolicy.SKIP)
ANNE = Customer(email="anne@example.com")
BJORN = Customer(email="bjorn@example.com", phone="+4791234567")


def order(order_id: str, days: int, customer: Customer, **kw: object) -> Order:
    at = T0 + timedelta(days=days)
    base = Order(
        shop_id="s1",
        order_id=order_id,
        created_at=at,
        updated_at=at,
        currency="NOK",
        lines=(
            OrderLine("l1", 1, Decimal("500.00"), sku="TEE", tax=Decimal("100.00"), tax_rate=Decimal("0.25")),
        ),
        customer=customer,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def ingest(engine: Engine, *orders: Order) -> None:
    for o in orders:
        with engine.begin() as conn:
            ingest_order(conn, o, SHOP, now=NOW, trigger_purchase=False)


def setup(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(
            conn, "s1", [CostRow.of("TEE", "150", "NOK", T0 - timedelta(days=30), source="csv")], now=NOW
        )


def types(engine: Engine, *ids: str) -> dict[str, str]:
    with engine.connect() as conn:
        return order_types(conn, "s1", list(ids))


def test_new_returning_and_edge_cases(engine: Engine) -> None:
    setup(engine)
    ingest(
        engine,
        order("a1", 0, ANNE),
        order("a2", 3, ANNE),
        order("b1", 1, BJORN, cancelled_at=T0 + timedelta(days=1, hours=1)),  # cancelled first order
        order("b2", 2, BJORN),
        order("g1", 1, Customer()),  # guest checkout without e-mail or phone
        order("t1", 1, Customer(email="tester@example.com"), test=True),
        order("p1", 1, Customer(email="pending@example.com"), financial_status="pending"),
        order("k1", 4, Customer(email="anne@example.com", external_id="42")),  # the platform id wins
    )
    assert types(engine, "a1", "a2", "b1", "b2", "g1", "t1", "p1", "k1") == {
        "a1": "new",
        "a2": "returning",
        "b1": "unknown",
        "b2": "new",
        "g1": "unknown",
        "t1": "unknown",
        "p1": "unknown",
        "k1": "new",
    }
    with engine.connect() as conn:
        keys = {c.customer_key[:3]: c for c in load_customers(conn, "s1")}
        rows = {r.order_id: r for r in conn.execute(select(customer_orders))}
    assert rows["a1"].customer_key.startswith("em:") and len(rows["a1"].customer_key) == 67
    assert rows["k1"].customer_key.startswith("id:") and rows["g1"].customer_key is None
    assert rows["b2"].customer_key.startswith("em:")  # e-mail before phone
    assert set(keys) == {"em:", "id:"}
    with engine.connect() as conn:
        anne = load_customer(conn, "s1", rows["a1"].customer_key)
    assert anne is not None
    # 500 incl. 25 % VAT = 400 ex VAT, cost 150: gross 250 per order
    assert (anne.orders, anne.first_order_id, anne.revenue_minor) == (2, "a1", 80000)
    assert anne.gross_profit_minor == 50000 and anne.last_order_at == T0 + timedelta(days=3)

    # a late earlier order takes "new"; the pending one is paid; cancelling the first hands "new" back
    ingest(
        engine, order("a0", -2, ANNE), order("p1", 1, Customer(email="pending@example.com"), updated_at=NOW)
    )
    assert types(engine, "a0", "a1", "a2", "p1") == {
        "a0": "new",
        "a1": "returning",
        "a2": "returning",
        "p1": "new",
    }
    cancelled = order("a0", -2, ANNE, cancelled_at=T0, updated_at=NOW)
    ingest(engine, cancelled)
    assert types(engine, "a0", "a1", "a2") == {"a0": "unknown", "a1": "new", "a2": "returning"}
    # a changed e-mail moves the order to another customer; both are renumbered and re-added
    ingest(engine, order("a1", 0, Customer(email="anne.new@example.com"), updated_at=NOW))
    assert types(engine, "a1", "a2") == {"a1": "new", "a2": "new"}
    with engine.connect() as conn:
        anne = load_customer(conn, "s1", rows["a1"].customer_key)
    assert anne is not None and (anne.orders, anne.first_order_id, anne.revenue_minor) == (1, "a2", 40000)

    # a rebuild from scratch gives exactly what ingest kept
    with engine.connect() as conn:
        kept = sorted(
            tuple(r)
            for r in conn.execute(
                select(customer_orders.c.order_id, customer_orders.c.customer_key, customer_orders.c.seq)
            )
        )
        kept_customers = load_customers(conn, "s1")
    with engine.begin() as conn:
        rebuild_customers(conn, "s1", now=NOW)
    with engine.connect() as conn:
        again = sorted(
            tuple(r)
            for r in conn.execute(
                select(customer_orders.c.order_id, customer_orders.c.customer_key, customer_orders.c.seq)
            )
        )
        assert again == kept
        assert load_customers(conn, "s1") == kept_customers


def test_refund_changes_customer_realized_profit(engine: Engine) -> None:
    from poas.domain.order import Refund, RefundLine, RestockType

    setup(engine)
    ingest(engine, order("r1", 0, ANNE))
    refund = Refund("rf1", T0 + timedelta(days=2), lines=(RefundLine("l1", 1, RestockType.RETURN),))
    ingest(engine, order("r1", 0, ANNE, refunds=(refund,), financial_status="refunded", updated_at=NOW))
    with engine.connect() as conn:
        (c,) = load_customers(conn, "s1")
    assert c.orders == 1 and c.revenue_minor == 40000 and c.gross_profit_minor == 25000
    # returned in full with no fees or return costs configured: revenue back, goods restocked
    assert (c.expected_profit_minor, c.realized_profit_minor) == (25000, 0)


def test_concurrent_writers_number_one_customer_exactly(engine: Engine) -> None:
    setup(engine)
    n = 12
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            ingest(engine, order(f"c{i:02d}", i, ANNE))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        seqs = {r.order_id: r.seq for r in conn.execute(select(customer_orders))}
        (c,) = load_customers(conn, "s1")
    assert seqs == {f"c{i:02d}": i + 1 for i in range(n)}
    assert (c.orders, c.first_order_id, c.revenue_minor) == (n, "c00", n * 40000)


def test_upgraded_store_is_placed_by_a_writers_refresh(engine: Engine) -> None:
    from datetime import date

    from sqlalchemy import delete

    from poas.services.report import build_report
    from poas.services.rollups import refresh
    from poas.store.tables.customers import customers

    setup(engine)
    ingest(engine, order("u1", 0, ANNE), order("u2", 1, ANNE))
    refresh(engine, SHOP, now=NOW)
    with engine.begin() as conn:  # what a store upgraded to 0017 looks like: orders, no customers
        conn.execute(delete(customer_orders))
        conn.execute(delete(customers))
    later = NOW + timedelta(minutes=10)
    first = build_report(
        engine, SHOP, by="day", now=later, date_from=date(2026, 3, 1), date_to=date(2026, 3, 3)
    )
    assert first.total.figures.new_orders == 0  # a reader's refresh leaves the long write to a writer
    refresh(engine, SHOP, now=later)
    report = build_report(
        engine, SHOP, by="day", now=later, date_from=date(2026, 3, 1), date_to=date(2026, 3, 3)
    )
    assert (report.total.figures.new_orders, report.total.figures.returning_orders) == (1, 1)


def test_concurrent_batch_writers_share_customers(engine: Engine) -> None:
    """Four importers write batches whose orders belong to the same customers, in different orders:
    no deadlock, and every customer is numbered exactly once from 1."""
    from poas.services.ingest import ProfitContext, ingest_orders

    setup(engine)
    people = [Customer(email=f"p{i}@example.com") for i in range(10)]
    batches = [
        [order(f"w{w}-{i:02d}", i + w, people[(i * (w + 1)) % 10]) for i in range(20)][:: 1 if w % 2 else -1]
        for w in range(4)
    ]
    errors: list[BaseException] = []

    def write(batch: list[Order]) -> None:
        try:
            for i in range(0, len(batch), 5):
                with engine.begin() as conn:
                    ctx = ProfitContext.load(conn, SHOP)
                    ingest_orders(conn, batch[i : i + 5], SHOP, now=NOW, context=ctx)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        rows = list(conn.execute(select(customer_orders)))
        kept = load_customers(conn, "s1")
    by_key: dict[str, list[int]] = {}
    for r in rows:
        by_key.setdefault(r.customer_key, []).append(r.seq)
    assert len(rows) == 80 and all(sorted(s) == list(range(1, len(s) + 1)) for s in by_key.values())
    assert sum(c.orders for c in kept) == 80 and len(kept) == len(by_key)


def test_customers_cli_rebuild_and_list(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from poas.cli import app as cli_app
    from poas.cli.app import settings, store

    config = tmp_path / "poas.toml"
    config.write_text('[[shops]]\nid = "s1"\ncurrency = "NOK"\n')
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    settings.cache_clear()
    store.cache_clear()
    try:
        engine = store()
        setup(engine)
        ingest(engine, order("x1", 0, ANNE), order("x2", 2, ANNE), order("x3", 1, BJORN))
        runner = CliRunner()
        out = runner.invoke(cli_app, ["customers", "rebuild"])
        assert out.exit_code == 0 and "2 customers placed" in out.output, out.output
        listed = json.loads(runner.invoke(cli_app, ["customers", "list", "--format", "json"]).output)
        assert [(c["first_order_id"], c["orders"], c["revenue"]) for c in listed] == [
            ("x1", 2, "800.00"),
            ("x3", 1, "400.00"),
        ]
        assert all(c["customer_key"][:3] == "em:" for c in listed)  # a hash: no contact data shown
        assert "example.com" not in runner.invoke(cli_app, ["customers", "list"]).output
    finally:
        store().dispose()
        settings.cache_clear()
        store.cache_clear()


def _advisory_locks(conn: Connection) -> list[str] | None:
    """This transaction's advisory locks (PostgreSQL); None on SQLite, which has no such locks."""
    if conn.dialect.name != "postgresql":
        return None
    return sorted(
        conn.execute(
            text("SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        ).scalars()
    )


def test_bulk_placement_holds_one_lock_whatever_the_number_of_customers(engine: Engine) -> None:
    # A lock per customer overflows PostgreSQL's lock table (~6,400 by default) on a real backfill.
    pg = engine.dialect.name == "postgresql"
    setup(engine)
    people = [Customer(email=f"c{i}@example.com") for i in range(40)]
    ingest(engine, *(order(f"b{i}", i % 9, c) for i, c in enumerate(people)))
    with engine.begin() as conn:
        place_orders_at_once(conn, "s1", [[f"b{i}" for i in range(40)]], now=NOW)
        assert _advisory_locks(conn) == (["ExclusiveLock"] if pg else None)  # the shop's gate, alone
    with engine.begin() as conn:
        rebuild_customers(conn, "s1", now=NOW)
        assert _advisory_locks(conn) == (["ExclusiveLock"] if pg else None)
    assert set(types(engine, *(f"b{i}" for i in range(40))).values()) == {"new"}
    with engine.begin() as conn:  # one order: the gate shared, then its customer's own lock
        ingest_order(conn, order("b0", 0, people[0], updated_at=NOW), SHOP, now=NOW, trigger_purchase=False)
        assert _advisory_locks(conn) == (["ExclusiveLock", "ShareLock"] if pg else None)
