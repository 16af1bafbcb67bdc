"""The order list's filters on both engines: shop-local date range, campaign (attributed as the reports
do), negative profit, missing cost, status; paging counts the filtered orders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.domain.order import Attribution, Customer, Order, OrderLine
from poas.services import views
from poas.services.ingest import ingest_order
from poas.settings import ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.tables.spend import ad_spend

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHOP = ShopConfig(id="nordic", platform="shopify", currency="NOK", access_token=SecretStr("t"))
CAMPAIGN = "120200000000000001"


def _order(oid: str, created: datetime, price: str, variant: str, **kw: object) -> Order:
    line = OrderLine(
        line_id="l1",
        quantity=1,
        unit_price=Decimal(price),
        tax=Decimal(price) / 5,
        tax_rate=Decimal("0.25"),
        variant_id=variant,
        sku=variant,
        title=f"Item {variant}",
    )
    base: dict[str, object] = dict(
        shop_id="nordic",
        order_id=oid,
        name=f"#{oid}",
        created_at=created,
        updated_at=created,
        currency="NOK",
        customer=Customer(email=f"{oid}@example.no", country="NO"),
        lines=(line,),
        financial_status="paid",
    )
    base.update(kw)
    return Order(**base)  # type: ignore[arg-type]


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """Five orders: #1 from the campaign; #2 at 23:30 Oslo on 1 Nov (22:30 UTC); #3 sold below cost;
    #4 without a cost; #5 pending."""
    fb = Attribution(utm_source="facebook", utm_campaign=CAMPAIGN)
    oslo_late = datetime(2026, 11, 1, 22, 30, tzinfo=UTC)  # 23:30 in Oslo (UTC+1) on 1 Nov
    orders = [
        _order("1", NOW - timedelta(days=1), "500", "ok", attribution=fb),
        _order("2", oslo_late, "500", "ok"),
        _order("3", NOW - timedelta(days=2), "100", "dear"),
        _order("4", NOW - timedelta(days=3), "500", "nocost"),
        _order("5", NOW - timedelta(days=4), "500", "ok", financial_status="pending"),
    ]
    with engine.begin() as conn:
        ensure_shop(conn, "nordic", "NOK", True, NOW)
        rows = [
            CostRow(v, Decimal(c), "NOK", NOW - timedelta(days=60), source="t")
            for v, c in (("ok", "100"), ("dear", "300"))
        ]
        import_costs(conn, "nordic", rows, now=NOW)
        for o in orders:
            ingest_order(conn, o, SHOP, now=NOW, trigger_purchase=False)
        conn.execute(
            ad_spend.insert().values(
                shop_id="nordic",
                account_id="act_1",
                row_key="r1",
                day=date(2026, 11, 19),
                campaign_id=CAMPAIGN,
                campaign_name="Mote Salg – a long campaign name",
                currency="NOK",
                spend_minor=10000,
                source="csv",
                fetched_at=NOW,
            )
        )
    return engine


def _ids(page: views.OrderPage) -> list[str]:
    return [o.order_id for o in page.orders]


def test_filters_narrow_the_list(seeded: Engine) -> None:
    def page(**kw: object) -> views.OrderPage:
        return views.order_page(seeded, shops=None, query=None, filters=views.OrderFilters(**kw), shop=SHOP)

    assert _ids(page()) == ["1", "3", "4", "5", "2"]
    assert _ids(page(negative_profit=True)) == ["3"]
    assert _ids(page(missing_cost=True)) == ["4"]
    assert _ids(page(status="pending")) == ["5"]
    assert _ids(page(campaign_id=CAMPAIGN)) == ["1"] and page(campaign_id=CAMPAIGN).total == 1
    assert _ids(page(campaign_id="999")) == []
    start, end = views.local_day_bounds("Europe/Oslo", date(2026, 11, 1), date(2026, 11, 1))
    assert _ids(page(created_from=start, created_before=end)) == ["2"]  # 23:30 in Oslo is still 1 Nov
    start, end = views.local_day_bounds("UTC", date(2026, 11, 2), None)
    assert "2" not in _ids(page(created_from=start, created_before=end))


def test_paging_keeps_the_filters(seeded: Engine) -> None:
    f = views.OrderFilters(status="paid")
    first = views.order_page(seeded, shops=None, query=None, limit=2, filters=f, shop=SHOP)
    second = views.order_page(seeded, shops=None, query=None, limit=2, offset=2, filters=f, shop=SHOP)
    assert first.total == second.total == 4 and _ids(first) + _ids(second) == ["1", "3", "4", "2"]
    by_campaign = views.OrderFilters(campaign_id=CAMPAIGN)
    empty = views.order_page(
        seeded, shops=None, query=None, limit=2, offset=2, filters=by_campaign, shop=SHOP
    )
    assert empty.total == 1 and empty.orders == []
    assert views.campaign_choices(seeded, SHOP) == [(CAMPAIGN, "Mote Salg – a long campaign name")]
