"""Rollups count each order once, with its latest profit snapshot (both engines): a second, independent
check beside test_rollups.py's refund case. An order edited twice has three snapshot versions; the day
holds it once, at the third version's revenue and profit, whether the rollup is built fresh or
refreshed after each edit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select

from poas.domain.costs import CostRow
from poas.domain.order import Attribution, Order, OrderLine
from poas.services.ingest import ingest_order
from poas.services.report import build_report
from poas.services.rollups import rebuild_all
from poas.settings import ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.tables.foundation import profit_snapshots
from poas.store.tables.spend import rollup_daily

D = Decimal
DAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
SHOP = ShopConfig(id="edits", currency="NOK", timezone="Europe/Oslo")
CAMPAIGN = "120200000000000042"


def _order(order_id: str, qty: int, edited: datetime) -> Order:
    price = D("625.00")  # 500 kr + 25 % MVA
    return Order(
        shop_id="edits",
        order_id=order_id,
        created_at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC),
        updated_at=edited,
        currency="NOK",
        lines=(OrderLine("l1", qty, price, sku="LAMP", product_id="prod-lamp", tax=D("125.00") * qty),),
        attribution=Attribution(utm_source="facebook", utm_medium="paid_social", utm_campaign=CAMPAIGN),
    )


def _shop_day(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                rollup_daily.c.orders, rollup_daily.c.revenue_minor, rollup_daily.c.gross_profit_minor
            ).where(
                rollup_daily.c.shop_id == "edits", rollup_daily.c.level == "shop", rollup_daily.c.day == DAY
            )
        ).one()
    return int(row.orders), int(row.revenue_minor), int(row.gross_profit_minor)


def test_an_order_edited_twice_counts_once_at_its_latest_version(engine: Engine) -> None:
    first = datetime(2026, 3, 10, 10, 5, tzinfo=UTC)
    with engine.begin() as conn:
        ensure_shop(conn, "edits", "NOK", True, NOW)
        import_costs(
            conn, "edits", [CostRow.of("LAMP", "400", "NOK", datetime(2026, 1, 1, tzinfo=UTC))], now=NOW
        )
        ingest_order(conn, _order("other", 1, first), SHOP, now=first, trigger_purchase=False)
    refreshed = []
    for n, qty in enumerate((1, 2, 3)):  # the customer adds a lamp, then another
        edited, received = first + timedelta(hours=n), NOW + timedelta(minutes=n)
        with engine.begin() as conn:
            ingest_order(conn, _order("edited", qty, edited), SHOP, now=received, trigger_purchase=False)
        at = received + timedelta(seconds=30)
        report = build_report(engine, SHOP, by="campaign", now=at, date_from=DAY, date_to=DAY)
        (row,) = report.rows
        refreshed.append((row.figures.orders, row.figures.revenue, row.figures.gross_profit))
    with engine.connect() as conn:
        versions = conn.execute(
            select(func.count()).select_from(profit_snapshots).where(profit_snapshots.c.order_id == "edited")
        ).scalar_one()
    assert versions == 3  # the premise: three snapshot versions of one order

    # After each edit the refreshed report holds the order once, at that edit's figures (+ "other").
    assert refreshed == [
        (2, D("1000.00"), D("200.00")),
        (2, D("1500.00"), D("300.00")),
        (2, D("2000.00"), D("400.00")),  # 3 × 500 + 500 revenue; 3 × 100 + 100 profit
    ]
    # Built from scratch: the same.
    rebuild_all(engine, SHOP, now=NOW + timedelta(hours=1))
    assert _shop_day(engine) == (2, 200000, 40000)
