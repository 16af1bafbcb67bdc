"""Checks of the demo's 90-day customer line against its store: customers by acquiring campaign,
first-order POAS, 90-day profit per customer and CAC, computed from the stored tables without the
cohort code (used by test_demo_customer_story and test_demo)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from poas.sources.sample_catalog import CAMPAIGNS
from poas.sources.sample_shop import LOYALTY
from poas.store.tables.customers import customer_orders
from poas.store.tables.foundation import orders
from poas.store.tables.spend import ad_spend

D = Decimal
OSLO = ZoneInfo("Europe/Oslo")
CAMPAIGN_IDS = {c.campaign_id: c.name for c in CAMPAIGNS}
BASIS = {
    "expected": "expected_profit_minor",
    "gross": "gross_profit_minor",
    "realized": "realized_profit_minor",
}
WEAK_TO_STRONG = re.compile(
    r"customers, not orders: (?P<name>.+?) looks weak on first-order POAS \((?P<first>[\d.]+)×\) and is "
    r"strong on its customers: (?P<per>[\d ]+\.\d\d) NOK profit per customer within 90 days of the first "
    r"order \(the (?P<lived>\d+) of its (?P<customers>\d+) new customers who have lived 90 days\) against a "
    r"CAC of (?P<cac>[\d ]+\.\d\d) NOK makes it POAS (?P<later>[\d.]+)× \(poas report cohorts --by campaign\)"
)

LOYAL = max(LOYALTY, key=lambda k: LOYALTY[k])  # the campaign whose customers come back most


@dataclass
class Acquired:
    customers: int = 0
    first_profit: int = 0
    lived: int = 0  # customers whose first order is 90 days or more before as_of
    profit_90: int = 0  # their orders' profit within 90 days of the first order
    orders_90: int = 0
    spend: int = 0  # the campaign's spend over the days of the first orders (all campaigns')
    days: list[date] = field(default_factory=list)


def by_campaign(engine: Engine, shop_id: str, as_of: datetime, basis: str) -> dict[str, Acquired]:
    """Customers by the campaign of their first counted order (the sample tags a campaign's orders
    with its id in utm_campaign), from the store's tables."""
    co, o = customer_orders.c, orders.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(co.customer_key, co.order_id, co.placed_at, co.seq, co.profit_known, co[BASIS[basis]])
            .where(co.shop_id == shop_id, co.counts.is_(True), co.seq.is_not(None))
            .where(co.customer_key.is_not(None))
            .order_by(co.customer_key, co.seq)
        ).all()
        utm: dict[str, str | None] = dict(
            conn.execute(select(o.order_id, o.utm_campaign).where(o.shop_id == shop_id)).all()
        )
        spend_rows = conn.execute(
            select(ad_spend.c.campaign_id, ad_spend.c.day, ad_spend.c.spend_minor).where(
                ad_spend.c.shop_id == shop_id
            )
        ).all()
    out: dict[str, Acquired] = defaultdict(Acquired)
    first: dict[str, tuple[str, datetime]] = {}
    for key, order_id, placed, seq, known, profit in rows:
        if seq == 1:
            campaign = utm.get(order_id) or ""
            campaign = campaign if campaign in CAMPAIGN_IDS else ""
            first[key] = (campaign, placed)
            a = out[campaign]
            a.customers += 1
            a.days.append(placed.astimezone(OSLO).date())
            a.first_profit += profit if known else 0
            if as_of - placed >= timedelta(days=90):
                a.lived += 1
        campaign, at = first[key]
        if as_of - at >= timedelta(days=90) and placed - at <= timedelta(days=90) and known:
            out[campaign].profit_90 += profit
            out[campaign].orders_90 += 1
    days = [d for a in out.values() for d in a.days]
    lo, hi = min(days), max(days)
    spend: dict[str, int] = defaultdict(int)
    for campaign_id, day, minor in spend_rows:
        if lo <= day <= hi:
            spend[campaign_id] += minor
    for campaign_id, a in out.items():
        a.spend = spend.get(campaign_id, 0)
    return out


def _nok(minor: Decimal) -> str:
    return f"{minor / 100:,.2f}".replace(",", " ")


def check_story(line: str | None, engine: Engine, shop_id: str, as_of: datetime, basis: str) -> str:
    """The line tells 90 days, a weak-looking campaign made strong by its customers, and its numbers are
    the store's; returns the campaign's name."""
    assert line is not None, "the demo tells no customer story"
    found = WEAK_TO_STRONG.fullmatch(line)
    assert found, f"not the 90-day weak-then-strong line: {line}"
    name = found["name"]
    (campaign_id,) = [k for k, v in CAMPAIGN_IDS.items() if v == name]
    stats = by_campaign(engine, shop_id, as_of, basis)
    a = stats[campaign_id]
    spend = D(a.spend)
    first = D(a.first_profit) / spend
    per = D(a.profit_90) / a.lived
    cac = spend / a.customers
    later = per / cac
    assert first < 1 <= later  # weak on first orders, strong on 90 days of customers
    assert (found["first"], found["later"]) == (f"{first:.2f}", f"{later:.2f}")
    assert (int(found["customers"]), int(found["lived"])) == (a.customers, a.lived)
    assert (found["per"], found["cac"]) == (_nok(per), _nok(cac))
    # the campaign told is the one whose customers change its POAS most (demo_story._story_cohort's
    # rule, computed here from the store): which one that is depends on the run's dates and size
    gains = {
        k: (D(s.profit_90) / s.lived / (D(s.spend) / s.customers)) / (D(s.first_profit) / D(s.spend))
        for k, s in stats.items()
        if k and s.spend and s.first_profit > 0 and s.lived and s.lived >= max(10, s.customers // 4)
    }
    assert max(gains, key=lambda k: gains[k]) == campaign_id, gains
    # the generator's most loyal campaign (sample_shop.LOYALTY): its customers came back more often
    # within 90 days than any other campaign's
    (loyal_id,) = [k for k, v in CAMPAIGN_IDS.items() if v == LOYAL]
    loyal = stats[loyal_id]
    others = [s for k, s in stats.items() if k and k != loyal_id and s.lived]
    mine = D(loyal.orders_90) / loyal.lived
    assert others and all(mine > D(s.orders_90) / s.lived for s in others)
    return name
