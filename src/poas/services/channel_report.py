"""The report by channel: Meta and Google from the rollups (their spend rows and the orders
attribution gives them), the other channels' monthly spend beside them, and a blended total over
every channel's spend.

- A channel row holds the channel's spend and the orders whose click it owns, whether or not a
  campaign of it matched (`poas.domain.attribution`).
- A Google figure entered by month (`services.channel_spend`) is Google's spend in a month without
  synced Google rows: it is added to the Google row, never a row of its own (and months with rows
  leave it out, so nothing is counted twice). Any other entered channel (TikTok, a newsletter …) is
  a spend-only row named `other:<name>`: no order is attributed to it.
- Orders no channel claims are the "(unattributed)" row (key ""): revenue and profit with no spend,
  shown apart and never credited to a channel.
- The total is blended: all orders' revenue and profit over all channels' spend (the rollups' spend
  rows plus the entered figures).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, func, select

from poas.domain.attribution import GOOGLE, META, UNATTRIBUTED, entity_ids
from poas.domain.money import exponent
from poas.domain.report_rows import Figures, ReportRow, flag_revenue_trap, report_row
from poas.services.channel_spend import is_google, spend_between
from poas.settings import ShopConfig
from poas.store.tables.spend import ad_spend, rollup_daily

OTHER_PREFIX = "other:"
BLENDED_NOTE = (
    "Channels: Meta and Google rows hold their own spend and the orders their clicks brought "
    "(gclid / gbraid / wbraid or utm_source=google with a paid medium for Google); other channels "
    "are the monthly figures entered, spread over the days; the total is blended over all channels' "
    "spend. Orders no channel claims are in '(unattributed)': counted in the total, credited to no channel."
)


def sort_rows(rows: list[ReportRow]) -> list[ReportRow]:
    """Channels by spend, then revenue; the unattributed row last."""
    return sorted(rows, key=lambda r: (r.key == UNATTRIBUTED, -r.figures.spend, -r.figures.revenue, r.key))


def with_other_channels(
    engine: Engine,
    shop: ShopConfig,
    rows: list[ReportRow],
    total: ReportRow,
    date_from: date,
    date_to: date,
    *,
    expected: bool = False,
) -> tuple[list[ReportRow], ReportRow]:
    """The rollups' channel rows with the entered monthly spend added, and the blended total."""
    other = spend_between(engine, shop, date_from, date_to)
    by_key = {r.key: r for r in rows}
    extra = Decimal(0)
    for name, amount in other.items():
        if amount <= 0:
            continue
        extra += amount
        key = GOOGLE if is_google(name) else OTHER_PREFIX + name
        found = by_key.get(key)
        figures = (
            replace(found.figures, spend=found.figures.spend + amount) if found else Figures(spend=amount)
        )
        by_key[key] = report_row(key, found.name if found else ("Google" if key == GOOGLE else name), figures)
    blended = report_row(total.key, total.name, replace(total.figures, spend=total.figures.spend + extra))
    ordered = flag_revenue_trap(sort_rows(list(by_key.values())), expected=expected)
    return ordered, replace(blended, fixed_costs=total.fixed_costs)


def entity_channels(engine: Engine, shop_id: str, level: str) -> dict[str, str]:
    """Campaign, ad set or ad key (as the rollups key them) -> the channel of the spend rows naming it."""
    sp = ad_spend.c
    cols = (sp.campaign_id, sp.campaign_name, sp.adset_id, sp.adset_name, sp.ad_id, sp.ad_name, sp.channel)
    index = {"campaign": 0, "adset": 1, "ad": 2}[level]
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(*cols).where(sp.shop_id == shop_id).distinct()):
            key = entity_ids(r)[index]  # type: ignore[arg-type]  # a row with SpendRow's id/name fields
            if key:
                out[key] = r.channel or META
    return out


def rollup_channel_spend(
    engine: Engine, shop: ShopConfig, date_from: date, date_to: date
) -> dict[str, Decimal]:
    """Each channel's spend rows in the period, from the rollups as they are (shop currency)."""
    rd = rollup_daily.c
    e = exponent(shop.currency)
    with engine.connect() as conn:
        rows = conn.execute(
            select(rd.key, func.sum(rd.spend_minor))
            .where(rd.shop_id == shop.id, rd.level == "channel", rd.day >= date_from, rd.day <= date_to)
            .group_by(rd.key)
        ).all()
    return {str(key): Decimal(int(minor or 0)).scaleb(-e) for key, minor in rows if key}
