"""The seed's two-product table end to end: ingest -> spend -> rollups -> report -> advice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from poas.domain.advice import CampaignFigures, DecisionPolicy, advise
from poas.domain.costs import CostRow
from poas.domain.order import Attribution, Order, OrderLine
from poas.domain.report_rows import SpendRow
from poas.services.ingest import ingest_order
from poas.services.report import build_report, report_json
from poas.services.spend import upsert_spend
from poas.settings import ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop

DAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
SHOP = ShopConfig(id="seed", currency="NOK", timezone="Europe/Oslo")
CAMPAIGN_A, CAMPAIGN_B = "120200000000000001", "120200000000000002"


def _order(n: int, sku: str, ex_vat: str, campaign: str) -> Order:
    price = Decimal(ex_vat) * Decimal("1.25")  # prices include 25 % MVA
    return Order(
        shop_id="seed",
        order_id=f"{sku}-{n}",
        created_at=datetime(2026, 3, 10, 11, n, tzinfo=UTC),
        updated_at=datetime(2026, 3, 10, 11, n, tzinfo=UTC),
        currency="NOK",
        lines=(
            OrderLine(
                "l1",
                1,
                price,
                sku=sku,
                product_id=f"prod-{sku}",
                title=f"Product {sku}",
                tax=price - Decimal(ex_vat),
            ),
        ),
        attribution=Attribution(utm_source="facebook", utm_medium="paid_social", utm_campaign=campaign),
    )


def _spend(campaign: str, name: str) -> SpendRow:
    return SpendRow(
        account_id="777",
        day=DAY,
        currency="NOK",
        spend=Decimal("1000.00"),
        campaign_id=campaign,
        campaign_name=name,
        adset_id=campaign + "1",
        adset_name=f"{name} – set",
        ad_id=campaign + "11",
        ad_name=f"{name} – ad",
        meta_purchases=5,
        meta_purchase_value=Decimal("6000.00"),
    )


def _load(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "seed", "NOK", True, NOW)
        valid = datetime(2026, 1, 1, tzinfo=UTC)
        # A: 10 x 500 kr ex VAT at cost 400 (20 %); B: 2 x 1 750 kr ex VAT at cost 700 (60 %)
        import_costs(
            conn,
            "seed",
            [CostRow.of("A", "400", "NOK", valid), CostRow.of("B", "700", "NOK", valid)],
            now=NOW,
        )
    with engine.begin() as conn:
        for n in range(10):
            ingest_order(conn, _order(n, "A", "500", CAMPAIGN_A), SHOP, now=NOW, trigger_purchase=False)
        for n in range(2):
            ingest_order(conn, _order(n, "B", "1750", CAMPAIGN_B), SHOP, now=NOW, trigger_purchase=False)
        # an order from elsewhere lands in the unattributed bucket
        other = replace(_order(30, "A", "500", CAMPAIGN_A), attribution=Attribution(utm_source="google"))
        ingest_order(conn, replace(other, order_id="google-1"), SHOP, now=NOW, trigger_purchase=False)
        upsert_spend(
            conn,
            "seed",
            [_spend(CAMPAIGN_A, "Product A"), _spend(CAMPAIGN_B, "Product B")],
            source="test",
            now=NOW,
        )


def test_report_shows_the_revenue_trap_table_and_advice_moves_budget_to_b(engine: Engine) -> None:
    _load(engine)
    report = build_report(engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    rows = {r.key: r for r in report.rows}
    a, b = rows[CAMPAIGN_A], rows[CAMPAIGN_B]
    assert (a.name, b.name) == ("Product A", "Product B")
    assert a.figures.spend == b.figures.spend == Decimal("1000.00")
    assert (a.figures.revenue, b.figures.revenue) == (Decimal("5000.00"), Decimal("3500.00"))
    assert (a.figures.gross_profit, b.figures.gross_profit) == (Decimal("1000.00"), Decimal("2100.00"))
    assert (a.roas, b.roas) == (Decimal(5), Decimal("3.5"))
    assert (a.poas, b.poas) == (Decimal(1), Decimal("2.1"))
    assert a.margin == Decimal("0.2") and b.margin == Decimal("0.6")
    assert a.break_even_roas == Decimal(5)
    assert a.figures.meta_value == Decimal("6000.00")  # Meta's own number, shown beside ours
    unattributed = rows[""]
    assert unattributed.name == "(unattributed)" and unattributed.figures.orders == 1
    assert unattributed.figures.spend == 0 and unattributed.poas is None
    assert report.total.poas == Decimal("1.6")  # blended: 3 200 profit (incl. unattributed) / 2 000 spend

    doc = report_json(report)
    by_name = {r["campaign"]: r for r in doc["rows"]}
    assert by_name["Product A"]["roas"] == 5.0 and by_name["Product A"]["poas"] == 1.0
    assert by_name["Product B"]["roas"] == 3.5 and by_name["Product B"]["poas"] == 2.1
    assert {"campaign", "spend", "revenue", "profit", "roas", "poas"} <= set(by_name["Product B"])
    # Meta's own figures beside ours: 5 purchases worth 6 000 (incl. VAT) → the ROAS Ads Manager shows
    meta = by_name["Product A"]
    assert (meta["meta_purchases"], meta["meta_value"], meta["meta_roas"]) == (5, 6000.0, 6.0)
    assert unattributed.figures.meta_purchases == 0
    assert doc["total"]["meta_purchases"] == 10 and doc["total"]["meta_roas"] == 6.0

    advice = advise(
        [
            CampaignFigures(r.key, r.name, r.figures.spend, r.figures.revenue, r.figures.gross_profit)
            for r in report.rows
        ],
        DecisionPolicy(target_poas=Decimal(2)),
    )
    moves = {c.name: c.change for c in advice.campaigns}
    assert moves["Product B"] > 0 > moves["Product A"]


def test_product_report_allocates_spend_by_attributed_revenue(engine: Engine) -> None:
    _load(engine)
    report = build_report(engine, SHOP, by="product", now=NOW, date_from=DAY, date_to=DAY)
    rows = {r.key: r for r in report.rows}
    assert rows["prod-A"].figures.spend == Decimal("1000.00")
    assert rows["prod-B"].poas == Decimal("2.1")
    assert any("allocated" in n for n in report.notes)


def test_rollups_follow_new_orders_and_spend_changes(engine: Engine) -> None:
    _load(engine)
    first = build_report(engine, SHOP, by="day", now=NOW, date_from=DAY, date_to=DAY)
    assert first.rows[0].figures.orders == 13
    later = NOW + timedelta(hours=1)
    with engine.begin() as conn:
        ingest_order(conn, _order(11, "A", "500", CAMPAIGN_A), SHOP, now=later, trigger_purchase=False)
        more = replace(_spend(CAMPAIGN_B, "Product B"), spend=Decimal("1400.00"))
        upsert_spend(conn, "seed", [more], source="test", now=later)
    second = build_report(
        engine, SHOP, by="campaign", now=later + timedelta(minutes=1), date_from=DAY, date_to=DAY
    )
    rows = {r.key: r for r in second.rows}
    assert rows[CAMPAIGN_A].figures.orders == 11
    assert rows[CAMPAIGN_A].figures.revenue == Decimal("5500.00")
    assert rows[CAMPAIGN_B].figures.spend == Decimal("1400.00")  # replaced, not added
    assert second.total.figures.spend == Decimal("2400.00")
    # rebuilding twice changes nothing
    again = build_report(
        engine, SHOP, by="campaign", now=later + timedelta(minutes=2), date_from=DAY, date_to=DAY
    )
    assert [r.figures for r in again.rows] == [r.figures for r in second.rows]


def test_campaign_by_day_lines(engine: Engine) -> None:
    _load(engine)
    report = build_report(engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY, daily=True)
    doc = report_json(report)
    lines = {(r["day"], r["campaign"]): r for r in doc["rows"]}
    assert lines[("2026-03-10", "Product B")]["poas"] == 2.1
    assert len(lines) == 3  # A, B and the unattributed bucket on that day
