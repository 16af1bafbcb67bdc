"""The fast import path: worker processes give the same store as an in-process import; caches stay fresh."""

from __future__ import annotations

import importlib
import json
import os
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from poas.domain.costs import CostRow
from poas.domain.fx import FxRate
from poas.domain.order import Order, OrderLine
from poas.services.ingest import ingest_order
from poas.services.order_import import OrderImport
from poas.settings import ShopConfig
from poas.sources.canonical import ImportDefaults, Parsed, RowError, parse_jsonl_record
from poas.store.costs import import_costs, load_fx_table, save_fx_rates
from poas.store.db import make_engine, upgrade
from poas.store.orders import ensure_shop
from poas.store.rules import save_rules
from poas.store.tables.foundation import (
    order_lines,
    order_shipping_lines,
    orders,
    profit_snapshots,
    refund_lines,
    refunds,
)

SHOP = ShopConfig(id="s1")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
RULES = 'currency = "NOK"\n[[payment_fees]]\nid = "all"\npercent = {p}\n'


def _order(i: int, rnd: random.Random, *, updated_min: int = 5) -> dict[str, Any]:
    created = T0 + timedelta(minutes=i)
    lines = [
        {
            "line_id": str(j + 1),
            "quantity": rnd.randint(1, 3),
            "unit_price": f"{rnd.choice([99, 149, 499])}.00",
            "sku": f"SKU-{rnd.randint(0, 30)}",
            "tax_rate": "0.25",
        }
        for j in range(rnd.randint(1, 4))
    ]
    doc: dict[str, Any] = {
        "order_id": str(5000 + i),
        "currency": "NOK",
        "created_at": created.isoformat(),
        "updated_at": (created + timedelta(minutes=updated_min)).isoformat(),
        "gateway": rnd.choice(["vipps", "klarna"]),
        "customer": {"email": f"k{i}@example.com"},
        "lines": lines,
        "shipping_lines": [{"price": "79.00", "method": "bring", "tax": "15.80"}],
    }
    if i % 7 == 0:
        doc["refunds"] = [
            {
                "refund_id": "r1",
                "processed_at": (created + timedelta(days=2)).isoformat(),
                "lines": [{"line_id": "1", "quantity": 1, "restock_type": "return"}],
            }
        ]
    return doc


def _write_file(path: Path, n: int = 400) -> None:
    rnd = random.Random(3)
    out = [json.dumps(_order(i, rnd)) for i in range(n)]
    out.insert(10, '{"order_id": "bad", broken')
    number = {"line_id": "1", "quantity": 1, "unit_price": "PRICE", "sku": "SKU-1", "tax_rate": "0.25"}
    out.insert(
        20, json.dumps({**_order(20, rnd), "order_id": "float", "lines": [number]}).replace('"PRICE"', "99.5")
    )
    out.insert(30, json.dumps({**_order(30, rnd), "currency": "XYZ"}))
    out.append(json.dumps(_order(3, rnd, updated_min=1)))  # older copy of order 5003: ignored
    out.append(json.dumps(_order(4, random.Random(9), updated_min=9)))  # newer copy of 5004: wins
    out.append("")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _prepare_store(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        rows = [CostRow.of(f"SKU-{k}", f"{10 + k}.50", "NOK", T0 - timedelta(days=9)) for k in range(25)]
        import_costs(conn, "s1", rows, now=NOW)
        save_rules(conn, "s1", RULES.format(p=2), source="test", now=NOW)


_SKIP = {"ingested_at", "created_at"}


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for t in (orders, order_lines, order_shipping_lines, refunds, refund_lines, profit_snapshots):
            cols = [c for c in t.c if c.name not in _SKIP or (t is orders and c.name == "created_at")]
            keys = [c for c in t.primary_key.columns]
            rows = conn.execute(select(*cols).order_by(*keys)).all()
            out[t.name] = [
                tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in r) for r in rows
            ]
    return out


def _run(engine: Engine, path: Path, workers: int) -> Any:
    with OrderImport(engine, SHOP, workers=workers, batch_size=150, now=lambda: NOW) as imp:
        if workers:
            assert imp.start_pool(str(path))
        return imp.run(path)


def test_worker_pool_import_stores_what_an_in_process_import_stores(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    _write_file(path)
    _prepare_store(engine)
    pooled = _run(engine, path, workers=2)

    reference = make_engine(f"sqlite:///{tmp_path / 'ref.db'}")
    upgrade(reference)
    _prepare_store(reference)
    local = _run(reference, path, workers=0)

    assert (pooled.accepted, pooled.rejected, pooled.lines) == (local.accepted, local.rejected, local.lines)
    assert pooled.rejected == 2 and pooled.accepted == 403
    assert [str(e) for e in pooled.errors] == [str(e) for e in local.errors]
    assert [(e.line, e.field) for e in pooled.errors] == [(11, None), (31, "currency")]
    out = pooled.outcome
    # 5003's older copy and 5004's newer one come in a later batch: one stale, one replacing
    assert (out.inserted, out.updated, out.stale, out.snapshots) == (401, 1, 1, 402)
    assert _dump(engine) == _dump(reference)
    with engine.connect() as conn:
        price = conn.execute(
            select(order_lines.c.unit_price).where(
                order_lines.c.order_id == "float", order_lines.c.line_id == "1"
            )
        ).scalar_one()
        newest = conn.execute(select(orders.c.updated_at).where(orders.c.order_id == "5004")).scalar_one()
        kept = conn.execute(select(orders.c.updated_at).where(orders.c.order_id == "5003")).scalar_one()
    assert price == 9950  # the JSON number 99.5, read exactly
    assert newest == T0 + timedelta(minutes=4 + 9) and kept == T0 + timedelta(minutes=3 + 5)

    again = _run(engine, path, workers=2)
    assert (again.outcome.inserted, again.outcome.updated, again.outcome.stale) == (0, 401, 2)
    assert again.outcome.snapshots == 0
    assert _dump(engine) == _dump(reference)
    reference.dispose()


def test_jsonl_numbers_are_read_as_exact_decimals() -> None:
    d = ImportDefaults("s1")
    line = {"order_id": "1", "currency": "NOK", "created_at": "2026-03-01T10:00:00Z"}
    num = json.dumps({**line, "lines": [{"quantity": 2.0, "unit_price": 0.1, "tax": 0.02}]}).encode()
    parsed = parse_jsonl_record("f", 1, num, d)
    assert isinstance(parsed, Parsed)
    ln = parsed.value.lines[0]
    assert (ln.quantity, ln.unit_price, ln.tax) == (2, Decimal("0.1"), Decimal("0.02"))
    nan = b'{"order_id": "1", "currency": "NOK", "created_at": "2026-03-01T10:00:00Z", ' \
          b'"lines": [{"quantity": 1, "unit_price": NaN}]}'  # fmt: skip
    err = parse_jsonl_record("f", 2, nan, d)
    assert isinstance(err, RowError) and err.field == "lines[0].unit_price"
    assert "decimal string" in err.message
    broken = parse_jsonl_record("f", 3, b'{"order_id": 1,', d)
    assert isinstance(broken, RowError) and broken.message.startswith("malformed JSON:")
    assert parse_jsonl_record("f", 4, b"  \n", d) is None


def _webhook_order(order_id: str) -> Order:
    return Order(
        "s1", order_id, T0, "NOK", (OrderLine("1", 1, Decimal("100.00"), sku="SKU-1", tax_rate=None),)
    )


def test_webhook_ingest_sees_new_rules_and_fx_rates_at_once(engine: Engine) -> None:
    _prepare_store(engine)
    with engine.begin() as conn:
        first = ingest_order(conn, _webhook_order("w1"), SHOP, now=NOW, trigger_purchase=False)
    with engine.begin() as conn:  # another process would do this: the cache is keyed by the text
        save_rules(conn, "s1", RULES.format(p=3), source="test", now=NOW)
    with engine.begin() as conn:
        second = ingest_order(conn, _webhook_order("w2"), SHOP, now=NOW, trigger_purchase=False)
    assert first.profit is not None and second.profit is not None
    assert first.profit.payment_fee.amount == Decimal("2.00")
    assert second.profit.payment_fee.amount == Decimal("3.00")

    day = T0.date()
    with engine.begin() as conn:
        assert load_fx_table(conn) is load_fx_table(conn)  # reused while the stored rates are the same
        save_fx_rates(conn, [FxRate.of("XAF", "NOK", "0.0175", day)], now=NOW)
        assert load_fx_table(conn).rate("XAF", "NOK", day).rate == Decimal("0.0175")
        save_fx_rates(conn, [FxRate.of("XAF", "NOK", "0.0180", day)], now=NOW)
        assert load_fx_table(conn).rate("XAF", "NOK", day).rate == Decimal("0.0180")


def test_postgresql_bulk_write_refreshes_planner_statistics(engine: Engine, tmp_path: Path) -> None:
    """Without statistics, every child row's foreign-key check scanned orders (imports crawled)."""
    if engine.dialect.name != "postgresql":
        return
    path = tmp_path / "orders.jsonl"
    _write_file(path, n=200)
    _prepare_store(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM orders"))
        conn.execute(text("ANALYZE orders"))
    _run(engine, path, workers=0)
    with engine.connect() as conn:
        believed = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'orders'::regclass")
        ).scalar_one()
    assert believed >= 150


def test_a_failed_batch_write_stops_the_import_with_its_error() -> None:
    from poas.services.import_pool import BatchWriter

    written: list[int] = []

    def write(batch: list[Any]) -> None:
        if batch == [2]:
            raise RuntimeError("disk full")
        written.append(batch[0])

    writer = BatchWriter(write, depth=1)
    raised = None
    try:
        for n in range(1, 50):
            writer.put([n])
    except RuntimeError as exc:
        raised = exc
    finally:
        try:
            writer.close()
        except RuntimeError as exc:
            raised = raised or exc
    assert str(raised) == "disk full"
    assert written == [1]  # nothing after the failed batch is written


def test_worker_pool_reads_csv_like_the_sequential_reader(engine: Engine, tmp_path: Path) -> None:
    rnd = random.Random(4)
    head = "order_id,currency,created_at,updated_at,gateway,line_id,quantity,unit_price,sku,tax_rate\n"
    groups: list[list[str]] = []
    for i in range(300):
        o = _order(i, rnd)
        groups.append(
            [
                f"{o['order_id']},NOK,{o['created_at']},{o['updated_at']},{o['gateway']},{ln['line_id']},"
                f"{ln['quantity']},{ln['unit_price']},{ln['sku']},0.25\n"
                for ln in o["lines"]
            ]
        )
    groups.insert(15, ["9001,NOK,2026-03-01T12:00:00,,,a,1,100.00,SKU-1,0.25\n"])  # naive timestamp
    groups.insert(30, ["9002,NOK,2026-03-01T12:00:00Z,,,a,1,100.00,SKU-1\n"])  # a field short
    groups.append(groups[0][:1])  # the first order again, not next to its rows
    rows = [r for g in groups for r in g]
    bad = [2 + rows.index(g[0]) for g in (groups[15], groups[30])]
    path = tmp_path / "orders.csv"
    path.write_text(head + "".join(rows), encoding="utf-8")
    _prepare_store(engine)
    pooled = _run(engine, path, workers=2)
    reference = make_engine(f"sqlite:///{tmp_path / 'ref.db'}")
    upgrade(reference)
    _prepare_store(reference)
    local = _run(reference, path, workers=0)
    assert [str(e) for e in pooled.errors] == [str(e) for e in local.errors]
    expected = [(bad[0], "created_at"), (bad[1], None), (len(rows) + 1, "order_id")]
    assert [(e.line, e.field) for e in pooled.errors] == expected
    assert (pooled.accepted, pooled.lines, pooled.outcome.inserted) == (local.accepted, local.lines, 300)
    assert _dump(engine) == _dump(reference)
    reference.dispose()


def _die(chunk: list[Any]) -> list[Any]:
    os._exit(3)


def test_a_dead_worker_ends_the_cli_import_with_a_clear_error(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import poas.cli  # noqa: F401  (registers every command)
    from poas.services import order_import

    appmod = importlib.import_module("poas.cli.app")
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(order_import, "prepare_jsonl_chunk", _die)
    monkeypatch.setattr(order_import, "POOL_MIN_BYTES", 0)
    monkeypatch.setenv("COLUMNS", "400")  # the message on one line
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    path = tmp_path / "orders.jsonl"
    _write_file(path, n=50)
    try:
        result = CliRunner().invoke(appmod.app, ["import", "orders", str(path), "--workers", "1"])
    finally:
        if appmod.store.cache_info().currsize:
            appmod.store().dispose()
        appmod.store.cache_clear()
        appmod.settings.cache_clear()
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "a worker process died" in out and "--workers 0" in out


def test_orders_without_profit_are_all_counted_but_only_the_first_kept(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poas.services import ingest
    from poas.settings import MissingCostPolicy

    monkeypatch.setattr(ingest, "MAX_PROFIT_ERRORS_KEPT", 3)
    path = tmp_path / "orders.jsonl"
    path.write_text(
        "".join(json.dumps(_order(i, random.Random(i))) + "\n" for i in range(7)), encoding="utf-8"
    )
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)  # no costs: the block policy prices nothing
    shop = SHOP.model_copy(update={"missing_cost": MissingCostPolicy.BLOCK})
    with OrderImport(engine, shop, workers=0, batch_size=2, now=lambda: NOW) as imp:
        report = imp.run(path)
    assert report.outcome.inserted == 7 and report.outcome.snapshots == 0
    assert report.outcome.profit_error_count == 7
    assert [oid for oid, _ in report.outcome.profit_errors] == ["5000", "5001", "5002"]


def test_import_with_events_queues_one_purchase_per_new_order(engine: Engine, tmp_path: Path) -> None:
    from poas.settings import ConsentPolicy
    from poas.store.tables.delivery import outbox

    shop = SHOP.model_copy(update={"pixel_id": "1234567890", "consent_policy": ConsentPolicy.ALWAYS})
    recent = NOW - timedelta(hours=3)  # inside Meta's 7-day window
    docs = []
    for i in range(5):
        doc = _order(i, random.Random(i))
        doc["created_at"] = doc["updated_at"] = (recent + timedelta(minutes=i)).isoformat()
        docs.append(json.dumps(doc))
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(docs) + "\n", encoding="utf-8")
    _prepare_store(engine)
    with OrderImport(engine, shop, workers=2, send_events=True, now=lambda: NOW) as imp:
        assert not imp.start_pool(str(path))  # events need the orders in this process: no pool
        first = imp.run(path)
        again = imp.run(path)
    assert (first.outcome.inserted, first.outcome.queued) == (5, 5)
    assert (again.outcome.updated, again.outcome.queued) == (5, 0)
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_name, outbox.c.payload)).all()
    assert sorted(r.event_name for r in rows) == ["Purchase"] * 5
    assert all("example.com" not in r.payload for r in rows)


def test_every_order_field_lands_in_its_own_column(engine: Engine) -> None:
    """The bulk writers address columns by position: a round trip with every field distinct."""
    from poas.domain.order import Attribution, Consent, Refund, RefundLine, RestockType, ShippingLine
    from poas.store.orders import load_order, stored_form, upsert_order

    names = ("landing_url", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_content")
    names += ("utm_term", "fbclid", "fbc", "fbp")
    line = OrderLine(
        "l1", 2, Decimal("1.23"), sku="S", variant_id="V", product_id="P", title="T", category="C",
        discount=Decimal("0.5"), tax=Decimal("0.2"), tax_rate=Decimal("0.25"), gift_card=True, grams=7,
        unit_cost=Decimal("0.9"),
    )  # fmt: skip
    refund = Refund(
        "r", T0 + timedelta(days=4), (RefundLine("l1", 1, RestockType.RETURN, Decimal("1"), Decimal("0.2")),),
        Decimal("2"), Decimal("0.4"), Decimal("3"), Decimal("0.6"), "note",
    )  # fmt: skip
    order = Order(
        "s1", "o1", T0, "NOK", (line,), prices_include_vat=False, processed_at=T0 + timedelta(days=1),
        updated_at=T0 + timedelta(days=2), name="N",
        shipping_lines=(ShippingLine(Decimal(5), "m", "tt", Decimal(1), Decimal("0.8"), Decimal("0.15")),),
        gateway="g", financial_status="fs", shipping_country="NO",
        attribution=Attribution(**{n: f"v_{n}" for n in names}), consent=Consent(True, False), test=True,
        cancelled_at=T0 + timedelta(days=3), refunds=(refund,), actual_payment_fee=Decimal("4.56"),
        source="src",
    )  # fmt: skip
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        assert upsert_order(conn, order, now=NOW) == "inserted"
        assert load_order(conn, "s1", "o1") == stored_form(order)
        ingested = conn.execute(select(orders.c.ingested_at)).scalar_one()
    assert ingested == NOW
