"""Ingest on both engines: order + profit snapshot in one transaction, versioned on cost changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from poas.domain.costs import CostRow
from poas.domain.order import Customer, Order, OrderLine
from poas.domain.rules import RulesError
from poas.services.ingest import ProfitContext, ingest_order, ingest_orders, recompute_profits
from poas.settings import MissingCostPolicy, ShopConfig
from poas.store.costs import import_costs, load_cost_book
from poas.store.orders import ensure_shop
from poas.store.rules import latest_rules, load_rules, save_rules
from poas.store.snapshots import history, latest_snapshot
from poas.store.tables.foundation import orders, profit_snapshots

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHOP = ShopConfig(id="s1", currency="NOK", missing_cost=MissingCostPolicy.SKIP)
RULES = """
currency = "NOK"
[[payment_fees]]
id = "vipps"
gateway = "vipps"
percent = 2.5
fixed = 0
"""


def order(order_id: str = "1001", *, updated: datetime = T0, sku: str = "TEE-1", **kw: object) -> Order:
    base = Order(
        shop_id="s1",
        order_id=order_id,
        created_at=T0,
        updated_at=updated,
        currency="NOK",
        gateway="vipps",
        lines=(
            OrderLine(
                "l1",
                2,
                Decimal("500.00"),
                sku=sku,
                variant_id=None,
                tax=Decimal("200.00"),
                tax_rate=Decimal("0.25"),
            ),
        ),
        customer=Customer(email="Ola.Nordmann@example.com", phone="+4791234567"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def cost(amount: str, days_before: int = 30, key: str = "TEE-1") -> CostRow:
    return CostRow.of(key, amount, "NOK", T0 - timedelta(days=days_before), source="csv")


def test_ingest_stores_order_and_snapshot_then_versions_after_cost_change(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(conn, "s1", [cost("300")], now=NOW)
        save_rules(conn, "s1", RULES, source="test", now=NOW)
    with engine.begin() as conn:
        out = ingest_order(conn, order(), SHOP, now=NOW, trigger_purchase=False)
    assert out.status == "inserted" and out.profit_error is None and out.snapshot_version == 1
    assert out.profit is not None
    # 2 x 500 incl. 25 % VAT = 800 ex VAT; cogs 600; fee 2.5 % of 1000 paid = 25
    assert out.profit.revenue_ex_vat.amount == Decimal("800.00")
    assert out.profit.cogs.amount == Decimal("600.00")
    assert out.profit.payment_fee.amount == Decimal("25.00")
    with engine.connect() as conn:
        v1 = latest_snapshot(conn, "s1", "1001")
    assert v1 is not None and v1.version == 1 and v1.amounts["gross_profit"] == Decimal("175.00")

    # same order again: the profit did not change, so no new version
    with engine.begin() as conn:
        again = ingest_order(conn, order(), SHOP, now=NOW + timedelta(minutes=1), trigger_purchase=False)
    assert again.status == "updated" and again.snapshot_version is None

    # a cheaper cost valid before the order: recompute adds version 2, version 1 stays as it was
    with engine.begin() as conn:
        import_costs(conn, "s1", [cost("250", days_before=10)], now=NOW)
        result = recompute_profits(conn, SHOP, now=NOW + timedelta(hours=1), reason="costs imported")
    assert (result.checked, result.changed) == (1, 1)
    with engine.begin() as conn:
        assert recompute_profits(conn, SHOP, now=NOW, reason="again").changed == 0
    with engine.connect() as conn:
        snaps = history(conn, "s1", "1001")
    assert [s.version for s in snaps] == [1, 2]
    assert snaps[0] == v1
    assert snaps[1].amounts["cogs"] == Decimal("500.00") and snaps[1].reason == "costs imported"
    assert snaps[1].breakdown["components"]["cogs"]["amount"] == "500.00"


def test_stale_update_is_ignored_and_keeps_profit(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(conn, "s1", [cost("300")], now=NOW)
        ingest_order(conn, order(updated=T0 + timedelta(hours=2)), SHOP, now=NOW, trigger_purchase=False)
    older = order(updated=T0 + timedelta(hours=1), lines=(OrderLine("l1", 9, Decimal("1"), sku="TEE-1"),))
    with engine.begin() as conn:
        out = ingest_order(conn, older, SHOP, now=NOW, trigger_purchase=True)
    assert out.status == "stale" and out.profit is None and out.events is None
    with engine.connect() as conn:
        assert len(history(conn, "s1", "1001")) == 1
        assert conn.execute(select(orders.c.updated_at)).scalar_one() == T0 + timedelta(hours=2)


def test_block_policy_stores_order_without_snapshot(engine: Engine) -> None:
    shop = SHOP.model_copy(update={"missing_cost": MissingCostPolicy.BLOCK})
    with engine.begin() as conn:
        out = ingest_order(conn, order(sku="UNKNOWN"), shop, now=NOW, trigger_purchase=True)
    assert out.status == "inserted" and out.profit is None
    assert out.profit_error is not None and "UNKNOWN" in out.profit_error
    assert out.events is None and out.events_skipped == "no profit could be computed"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(profit_snapshots)).scalar_one() == 0


def test_raw_contact_data_is_never_stored(engine: Engine) -> None:
    with engine.begin() as conn:
        ingest_order(conn, order(), SHOP, now=NOW, trigger_purchase=False)
    with engine.connect() as conn:
        dump = " ".join(str(tuple(r)) for t in (orders, profit_snapshots) for r in conn.execute(select(t)))
    assert "nordmann" not in dump.lower() and "91234567" not in dump


def test_batch_ingest_twice_is_idempotent(engine: Engine) -> None:
    batch = [order(str(i)) for i in range(120)]
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(conn, "s1", [cost("300")], now=NOW)
        ctx = ProfitContext.load(conn, SHOP)
        first = ingest_orders(conn, batch, SHOP, now=NOW, context=ctx)
    with engine.begin() as conn:
        second = ingest_orders(conn, batch, SHOP, now=NOW, context=ctx)
    assert (first.inserted, first.updated, first.snapshots) == (120, 0, 120)
    assert (second.inserted, second.updated, second.snapshots) == (0, 120, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(profit_snapshots)).scalar_one() == 120


def test_rules_are_versioned_and_invalid_rules_are_not_stored(engine: Engine) -> None:
    with engine.begin() as conn:
        first = save_rules(conn, "s1", RULES, source="a.toml", now=NOW)
        same = save_rules(conn, "s1", RULES, source="a.toml", now=NOW)
        second = save_rules(conn, "s1", RULES.replace("2.5", "3"), source="b.toml", now=NOW)
    assert (first.version, same.version, second.version) == (1, 1, 2)
    with engine.begin() as conn, pytest.raises(RulesError):
        save_rules(conn, "s1", "[[payment_fees]]\npercent = 'lots'\n", source="bad.toml", now=NOW)
    with engine.connect() as conn:
        stored = latest_rules(conn, "s1")
        rules = load_rules(conn, "s1")
        assert load_rules(conn, "other") is None
    assert stored is not None and stored.version == 2 and stored.source == "b.toml"
    assert rules is not None and rules.payment_fees[0].percent == Decimal("3")


def test_cost_import_is_idempotent_and_effective_dated(engine: Engine) -> None:
    rows = [cost("300", 30), cost("250", 10), cost("99", 5, key="MUG")]
    with engine.begin() as conn:
        assert import_costs(conn, "s1", rows, now=NOW) == 3
        assert import_costs(conn, "s1", rows, now=NOW) == 3
    with engine.connect() as conn:
        book = load_cost_book(conn, "s1")
        only_mug = load_cost_book(conn, "s1", keys={"MUG"})
    assert len(book) == 3 and len(only_mug) == 1
    found = book.lookup("TEE-1", T0 - timedelta(days=20))
    assert found is not None and found.unit_cost == Decimal("300")
    latest = book.lookup("TEE-1", T0)
    assert latest is not None and latest.unit_cost == Decimal("250")


def test_purchase_trigger_queues_events_once_and_keeps_only_hashes(engine: Engine) -> None:
    from poas.settings import ConsentPolicy
    from poas.store.tables.delivery import outbox

    shop = SHOP.model_copy(update={"pixel_id": "1234567890", "consent_policy": ConsentPolicy.ALWAYS})
    with engine.begin() as conn:
        import_costs(conn, "s1", [cost("300")], now=NOW)
        out = ingest_order(conn, order(), shop, now=NOW, trigger_purchase=True)
    with engine.begin() as conn:
        again = ingest_order(conn, order(), shop, now=NOW, trigger_purchase=True)
    assert out.events_skipped is None and out.events.queued
    assert again.events.queued == [] and again.events.already_queued == out.events.queued
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == len(out.events.queued)
        ud = conn.execute(select(orders.c.user_data)).scalar_one()
    assert isinstance(ud["em"], list) and len(ud["em"][0]) == 64 and "example" not in str(ud)
