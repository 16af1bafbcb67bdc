"""Ads drill-down on both engines: campaigns, one campaign's ad sets, one ad set's ads, with the
report's own figures; an ad set of another campaign is not shown under this one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pydantic import SecretStr
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.domain.order import Attribution, Customer, Order, OrderLine
from poas.services.ingest import ingest_order
from poas.services.views.drilldown import drilldown_view
from poas.settings import ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.tables.spend import ad_spend

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 19)
SHOP = ShopConfig(id="nordic", platform="shopify", currency="NOK", access_token=SecretStr("t"))
# campaign -> ad set -> ads (Meta-shaped numeric ids)
TREE = {
    "120000000000000001": {
        "120000000000000011": ["120000000000000111", "120000000000000112"],
        "120000000000000012": ["120000000000000121"],
    },
    "120000000000000002": {"120000000000000021": ["120000000000000211"]},
}


def seed_ads(engine: Engine) -> None:
    """Spend for every ad on DAY, and one order per ad clicked from it."""
    with engine.begin() as conn:
        ensure_shop(conn, "nordic", "NOK", True, NOW)
        import_costs(
            conn,
            "nordic",
            [CostRow("v", Decimal("100"), "NOK", NOW - timedelta(days=90), source="t")],
            now=NOW,
        )
        n = 0
        for cid, adsets in TREE.items():
            for sid, ads in adsets.items():
                for aid in ads:
                    n += 1
                    conn.execute(
                        ad_spend.insert().values(
                            shop_id="nordic",
                            account_id="act_1",
                            row_key=aid,
                            day=DAY,
                            campaign_id=cid,
                            campaign_name=f"Campaign {cid[-1]}",
                            adset_id=sid,
                            adset_name=f"Ad set {sid[-2:]}",
                            ad_id=aid,
                            ad_name=f"Ad {aid[-3:]}",
                            currency="NOK",
                            spend_minor=10_000 * n,
                            source="csv",
                            fetched_at=NOW,
                        )
                    )
                    created = datetime(2026, 11, 19, 10, n, tzinfo=UTC)
                    line = OrderLine(
                        line_id="l1",
                        quantity=1,
                        unit_price=Decimal("500"),
                        tax=Decimal("100"),
                        tax_rate=Decimal("0.25"),
                        variant_id="v",
                        sku="v",
                        title="Genser",
                    )
                    touch = Attribution(
                        utm_source="facebook", utm_campaign=cid, utm_term=sid, utm_content=aid
                    )
                    order = Order(
                        shop_id="nordic",
                        order_id=f"o{n}",
                        name=f"#{n}",
                        created_at=created,
                        updated_at=created,
                        currency="NOK",
                        customer=Customer(email=f"{n}@example.no", country="NO"),
                        lines=(line,),
                        financial_status="paid",
                        attribution=touch,
                    )
                    ingest_order(conn, order, SHOP, now=NOW, trigger_purchase=False)


def test_campaign_to_ad_set_to_ad(engine: Engine) -> None:
    seed_ads(engine)

    def drill(**kw: str) -> tuple[str, list[str], list[str]]:
        d = drilldown_view(engine, SHOP, now=NOW, date_from=DAY, date_to=DAY, **kw)
        return d.level, [c.name for c in d.crumbs], sorted(r.key for r in d.report.rows)

    c1, c2 = TREE
    s11, s12 = TREE[c1]
    assert drill() == ("campaign", [], sorted(TREE))
    assert drill(campaign_id=c1) == ("adset", ["Campaign 1"], sorted(TREE[c1]))
    assert drill(campaign_id=c1, adset_id=s11) == ("ad", ["Campaign 1", "Ad set 11"], TREE[c1][s11])
    other = next(iter(TREE[c2]))
    assert drill(campaign_id=c1, adset_id=other) == ("adset", ["Campaign 1"], sorted(TREE[c1]))
    ads = drilldown_view(
        engine, SHOP, now=NOW, date_from=DAY, date_to=DAY, campaign_id=c1, adset_id=s12
    ).report.rows
    assert [(r.orders, r.spend) for r in ads] == [(1, Decimal("300.00"))]
    top = drilldown_view(engine, SHOP, now=NOW, date_from=DAY, date_to=DAY)
    assert top.children == {c1: 2, c2: 1}  # ad sets per campaign: what can be opened
