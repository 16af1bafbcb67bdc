"""Cohorts on both engines: profit per customer at 30/60/90/180/365 days by first-order month and by
acquiring campaign, with LTV:CAC from the campaign's spend; young cohorts show no figure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from poas.domain.costs import CostRow
from poas.domain.order import Attribution, Customer, Order, OrderLine
from poas.services.cohorts import cohort_json, cohort_report
from poas.services.ingest import ingest_order
from poas.settings import ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.tables.customers import customer_orders
from poas.store.tables.spend import ad_spend

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHOP = ShopConfig(id="nordic", platform="shopify", currency="NOK", access_token=SecretStr("t"))
CAMPAIGN = "120200000000000001"
FB = Attribution(utm_source="facebook", utm_campaign=CAMPAIGN)


def _order(oid: str, created: datetime, email: str, price: str = "500", **kw: object) -> Order:
    line = OrderLine(
        line_id="l1",
        quantity=1,
        unit_price=Decimal(price),
        tax=Decimal(price) / 5,
        tax_rate=Decimal("0.25"),
        variant_id="ok",
        sku="ok",
        title="Item",
    )
    base: dict[str, object] = dict(
        shop_id="nordic",
        order_id=oid,
        name=f"#{oid}",
        created_at=created,
        updated_at=created,
        currency="NOK",
        customer=Customer(email=email, country="NO"),
        lines=(line,),
        financial_status="paid",
    )
    base.update(kw)
    return Order(**base)  # type: ignore[arg-type]


JAN = datetime(2026, 1, 10, 12, tzinfo=UTC)
ORDERS = [
    _order("a1", JAN, "a@example.no", attribution=FB),  # A: campaign, back after 22 and 142 days
    _order("a2", JAN + timedelta(days=22), "a@example.no", price="300"),
    _order("a3", JAN + timedelta(days=142), "a@example.no", price="700"),
    _order("b1", JAN + timedelta(days=10), "b@example.no", attribution=FB),  # B: campaign, once
    _order("c1", datetime(2026, 2, 5, 12, tzinfo=UTC), "c@example.no"),  # C: unattributed
    _order("c2", datetime(2026, 2, 20, 12, tzinfo=UTC), "c@example.no", price="200"),
    _order("d1", NOW - timedelta(days=40), "d@example.no"),  # D: too young for 60 days and beyond
]


@pytest.fixture
def seeded(engine: Engine) -> dict[str, int]:
    with engine.begin() as conn:
        ensure_shop(conn, "nordic", "NOK", True, NOW)
        cost = CostRow("ok", Decimal("100"), "NOK", JAN - timedelta(days=60))
        import_costs(conn, "nordic", [cost], now=NOW)
        for o in ORDERS:
            ingest_order(conn, o, SHOP, now=NOW, trigger_purchase=False)
        conn.execute(
            ad_spend.insert().values(
                shop_id="nordic",
                account_id="act_1",
                row_key="r1",
                day=date(2026, 1, 12),
                campaign_id=CAMPAIGN,
                campaign_name="Vinter",
                currency="NOK",
                spend_minor=60000,
                source="csv",
                fetched_at=NOW,
            )
        )
        co = customer_orders.c
        return {
            r.order_id: int(r.expected_profit_minor)
            for r in conn.execute(select(co.order_id, co.expected_profit_minor).where(co.shop_id == "nordic"))
        }


def test_by_month(engine: Engine, seeded: dict[str, int]) -> None:
    rep = cohort_report(engine, SHOP, by="month", now=NOW)
    got = {c.key: c for c in rep.cohorts}
    assert set(got) == {"2026-01", "2026-02", "2026-10"}
    jan, feb, october = got["2026-01"], got["2026-02"], got["2026-10"]
    p = seeded
    assert jan.customers == 2
    assert jan.per_customer_minor(30) == Decimal(p["a1"] + p["a2"] + p["b1"]) / 2
    assert jan.per_customer_minor(90) == Decimal(p["a1"] + p["a2"] + p["b1"]) / 2
    assert jan.per_customer_minor(180) == Decimal(p["a1"] + p["a2"] + p["a3"] + p["b1"]) / 2
    assert feb.per_customer_minor(30) == Decimal(p["c1"] + p["c2"])
    assert october.customers == 1 and october.matured.get(60, 0) == 0
    assert october.per_customer_minor(30) == Decimal(p["d1"])
    assert october.per_customer_minor(60) is None  # too young: no figure rather than a low one
    doc = cohort_json(rep)
    row = next(r for r in doc["cohorts"] if r["key"] == "2026-01")
    assert Decimal(row["profit_per_customer"]["180"]) == Decimal(p["a1"] + p["a2"] + p["a3"] + p["b1"]) / 200


def test_by_campaign_ltv_cac(engine: Engine, seeded: dict[str, int]) -> None:
    rep = cohort_report(engine, SHOP, by="campaign", now=NOW, first_from=date(2026, 1, 1))
    got = {c.key: c for c in rep.cohorts}
    camp = got[CAMPAIGN]
    assert camp.name == "Vinter" and camp.customers == 2
    assert camp.spend_minor == 60000 and camp.cac_minor == Decimal(30000)
    p = seeded
    ltv_180 = Decimal(p["a1"] + p["a2"] + p["a3"] + p["b1"]) / 2
    assert camp.ltv_cac(180) == ltv_180 / 30000
    assert got[""].customers == 2 and got[""].cac_minor is None  # C and D: unattributed, no CAC
    doc = cohort_json(rep)
    row = next(r for r in doc["cohorts"] if r["key"] == CAMPAIGN)
    assert row["cac"] == "300.00" and row["ltv_cac"]["180"] == float(round(ltv_180 / 30000, 2))


def test_value_rules_read_the_orders(engine: Engine, seeded: dict[str, int]) -> None:
    from poas.services.value_rules import value_rules, value_rules_json

    v = value_rules(engine, SHOP, now=NOW, date_from=date(2026, 1, 1), date_to=date(2026, 11, 20))
    got = {(s.dimension, s.segment): s for s in v.suggestions}
    assert v.orders == 7 and v.spend_minor == 60000
    assert got[("customer", "new")].orders == 4 and got[("customer", "returning")].orders == 3
    assert got[("country", "unknown")].orders == 7  # these orders carry no shipping address
    assert got[("customer", "new")].profit_minor == sum(seeded[k] for k in ("a1", "b1", "c1", "d1"))
    assert got[("customer", "new")].spend_minor == 60000  # both Meta-attributed orders are first orders
    doc = value_rules_json(v)
    assert doc["applied"] is False
    assert all(s["adjustment_pct"] is None for s in doc["suggestions"])  # 7 orders: too few everywhere
