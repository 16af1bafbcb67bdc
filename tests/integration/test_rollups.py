"""Rollups: shop-time-zone days, final orders' realized profit, FX for spend, idempotent rebuilds."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select
from test_seed_story import CAMPAIGN_A, NOW, SHOP, _load, _order, _spend

from poas.domain.fx import FxRate
from poas.domain.order import Refund, RefundLine, RestockType
from poas.services.ingest import ingest_order
from poas.services.report import build_report
from poas.services.rollups import rebuild_all, rebuild_days, refresh
from poas.services.spend import upsert_spend
from poas.store.costs import save_fx_rates
from poas.store.tables.returns import profit_corrections
from poas.store.tables.spend import rollup_daily

DAY = date(2026, 3, 10)


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(select(rollup_daily).order_by(*rollup_daily.primary_key.columns))
        ]


def test_rebuild_is_idempotent_and_covers_every_level(engine: Engine) -> None:
    _load(engine)
    rebuild_all(engine, SHOP, now=NOW)
    first = _rows(engine)
    rebuild_days(engine, SHOP, [DAY, DAY])
    assert _rows(engine) == first
    levels = {r[2] for r in first}
    assert levels == {"shop", "channel", "campaign", "adset", "ad", "product"}
    with engine.connect() as conn:
        shop_row = conn.execute(
            select(rollup_daily).where(rollup_daily.c.level == "shop", rollup_daily.c.day == DAY)
        ).one()
        product_spend = conn.execute(
            select(func.sum(rollup_daily.c.spend_minor)).where(rollup_daily.c.level == "product")
        ).scalar_one()
    assert shop_row.orders == 13 and shop_row.revenue_minor == 900000 and shop_row.spend_minor == 200000
    assert product_spend == shop_row.spend_minor  # allocation keeps every krone


def test_orders_fall_on_the_shop_local_day(engine: Engine) -> None:
    _load(engine)
    late = replace(
        _order(50, "A", "500", CAMPAIGN_A),
        order_id="late",
        created_at=datetime(2026, 3, 10, 23, 30, tzinfo=UTC),
    )
    with engine.begin() as conn:
        ingest_order(conn, late, SHOP, now=NOW, trigger_purchase=False)
    report = build_report(engine, SHOP, by="day", now=NOW, date_from=DAY, date_to=DAY + timedelta(days=1))
    by_day = {r.key: r.figures.orders for r in report.rows}
    assert by_day == {"2026-03-10": 13, "2026-03-11": 1}  # 23:30 UTC is 00:30 in Oslo


def test_refund_and_final_profit_reach_the_rollup_on_refresh(engine: Engine) -> None:
    _load(engine)
    report = build_report(engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    a = {r.key: r for r in report.rows}[CAMPAIGN_A]
    assert a.realized_profit is None and a.figures.final_orders == 0
    later = NOW + timedelta(days=1)
    refunded = replace(
        _order(0, "A", "500", CAMPAIGN_A),
        updated_at=later,
        refunds=(
            Refund(
                "r1",
                later,
                lines=(RefundLine("l1", 1, RestockType.RETURN, Decimal("625.00"), Decimal("125.00")),),
            ),
        ),
    )
    with engine.begin() as conn:
        ingest_order(conn, refunded, SHOP, now=later, trigger_purchase=False)
        conn.execute(
            profit_corrections.insert(),
            {
                "shop_id": "seed",
                "order_id": "A-0",
                "correction_key": "final",
                "trigger": "fully_refunded",
                "currency": "NOK",
                "final_profit": 0,
                "state": "unsent",
                "reason": "test",
                "created_at": later,
            },
        )
    report = build_report(
        engine, SHOP, by="campaign", now=later + timedelta(minutes=1), date_from=DAY, date_to=DAY
    )
    a = {r.key: r for r in report.rows}[CAMPAIGN_A]
    assert a.figures.final_orders == 1
    assert a.realized_profit is not None and a.realized_profit < Decimal(
        "100.00"
    )  # the refund ate the profit


def test_spend_in_another_currency_is_converted_on_its_day(engine: Engine) -> None:
    _load(engine)
    eur = replace(_spend(CAMPAIGN_A, "Product A"), account_id="888", currency="EUR", spend=Decimal("10.00"))
    with engine.begin() as conn:
        save_fx_rates(conn, [FxRate.of("EUR", "NOK", "11.5", DAY)], now=NOW)
        upsert_spend(conn, "seed", [eur], source="test", now=NOW)
    assert refresh(engine, SHOP, now=NOW) > 0
    report = build_report(
        engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY, refresh_first=False
    )
    a = {r.key: r for r in report.rows}[CAMPAIGN_A]
    assert a.figures.spend == Decimal("1115.00")  # 1 000 NOK + 10 EUR × 11.5


def test_concurrent_rebuilds_of_the_same_days_wait_for_each_other(engine: Engine) -> None:
    """Found by the load test: two dashboards refreshing at once gave a unique violation on PostgreSQL."""
    _load(engine)
    days = [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)]
    rebuild_days(engine, SHOP, days)
    first = _rows(engine)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def rebuild() -> None:
        barrier.wait()
        try:
            for _ in range(3):
                rebuild_days(engine, SHOP, days)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=rebuild) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _rows(engine) == first
