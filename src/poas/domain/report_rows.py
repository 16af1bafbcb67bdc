"""Row values: a day's ad spend for one ad (from any source), and a report line with its metrics."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from poas.domain.metrics import break_even_roas, margin, poas, roas

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One ad's spend on one day, in the ad account's currency (as the platform reports it).

    Google rows (`channel` "google") are an ad group's spend, or a campaign's spend outside any ad
    group (Performance Max has none): they carry no ad."""

    account_id: str
    day: date
    currency: str
    spend: Decimal
    campaign_id: str | None = None
    campaign_name: str | None = None
    adset_id: str | None = None
    adset_name: str | None = None
    ad_id: str | None = None
    ad_name: str | None = None
    impressions: int = 0
    clicks: int = 0
    meta_purchases: int = 0
    meta_purchase_value: Decimal = ZERO  # Meta's own reported purchase value (action_values)
    channel: str = "meta"  # meta | google

    @property
    def row_key(self) -> str:
        """The upsert key inside (shop, account, day): the ad id (Google: the ad group or campaign
        id), else a digest of the names/ids."""
        if self.ad_id:
            return self.ad_id
        if self.channel == "google" and self.adset_id:
            return f"adgroup:{self.adset_id}"
        if self.channel == "google" and self.campaign_id:
            return f"campaign:{self.campaign_id}"
        parts = (
            self.campaign_id,
            self.campaign_name,
            self.adset_id,
            self.adset_name,
            self.ad_name,
        )
        joined = "\x1f".join(p or "" for p in parts)
        return "names:" + hashlib.sha256(joined.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Figures:
    """Summed daily figures for one report line, in the shop currency."""

    spend: Decimal = ZERO
    orders: int = 0
    revenue: Decimal = ZERO
    gross_profit: Decimal = ZERO
    expected_profit: Decimal = ZERO
    final_orders: int = 0
    realized_profit: Decimal = ZERO
    meta_purchases: int = 0
    meta_value: Decimal = ZERO
    orders_without_cost: int = 0  # unknown profit (a cost missing, no fallback): in revenue, not profit
    revenue_without_cost: Decimal = ZERO
    # contribution-margin components of the known-profit orders (poas.domain.margins)
    cogs: Decimal = ZERO
    shipping_cost: Decimal = ZERO
    payment_fee: Decimal = ZERO
    handling_cost: Decimal = ZERO
    return_cost: Decimal = ZERO  # expected returns
    # new vs returning customers (poas.domain.customers); the rest of `orders` is unknown
    new_orders: int = 0
    new_revenue: Decimal = ZERO
    new_gross_profit: Decimal = ZERO
    new_expected_profit: Decimal = ZERO
    new_realized_profit: Decimal = ZERO
    returning_orders: int = 0
    returning_revenue: Decimal = ZERO
    returning_gross_profit: Decimal = ZERO
    returning_expected_profit: Decimal = ZERO
    returning_realized_profit: Decimal = ZERO

    @property
    def priced_revenue(self) -> Decimal:
        """Revenue of the orders whose profit is known: what margin divides by."""
        return self.revenue - self.revenue_without_cost

    @property
    def no_profit_known(self) -> bool:
        """Every order of the line lacks a cost: there is no profit figure, not a profit of 0."""
        return self.orders_without_cost > 0 and self.orders_without_cost >= self.orders

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f) + getattr(other, f) for f in Figures.__slots__))


@dataclass(frozen=True, slots=True)
class ReportRow:
    key: str
    name: str
    figures: Figures
    roas: Decimal | None
    poas: Decimal | None  # gross profit / spend
    poas_expected: Decimal | None  # expected profit (after expected returns) / spend
    margin: Decimal | None
    break_even_roas: Decimal | None
    realized_profit: Decimal | None  # only when some orders are final
    revenue_trap: bool = False  # never on a line with orders without cost (its POAS is partial)
    day: str | None = None  # set on per-day lines (`report --daily`)
    fixed_costs: Decimal | None = None  # the line's share of the fixed costs (None: not allocated)


def report_row(key: str, name: str, f: Figures, day: str | None = None) -> ReportRow:
    """ROAS on all revenue; POAS on the known profit (None when no order's profit is known); margin
    on the revenue of the orders whose profit is known. Orders without cost are in `f` apart."""
    unknown = f.no_profit_known
    m = None if unknown else margin(f.gross_profit, f.priced_revenue)
    return ReportRow(
        key=key,
        name=name,
        figures=f,
        roas=roas(f.revenue, f.spend),
        poas=None if unknown else poas(f.gross_profit, f.spend),
        poas_expected=None if unknown else poas(f.expected_profit, f.spend),
        margin=m,
        break_even_roas=None if m is None else break_even_roas(m),
        realized_profit=f.realized_profit if f.final_orders else None,
        day=day,
    )


def median(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def flag_revenue_trap(
    rows: list[ReportRow], *, skip_keys: frozenset[str] = frozenset({""}), expected: bool = False
) -> list[ReportRow]:
    """Mark rows whose ROAS is above the rows' median while POAS is below 1 (they lose money);
    POAS after expected returns when `expected` (the shop's decision basis), else gross.

    A row with orders without cost is never marked: its POAS covers only part of its orders."""
    med = median([r.roas for r in rows if r.roas is not None and r.key not in skip_keys])
    if med is None:
        return rows
    return [replace(r, revenue_trap=_trap(r, med, expected)) if r.key not in skip_keys else r for r in rows]


def _trap(r: ReportRow, med: Decimal, expected: bool) -> bool:
    p = r.poas_expected if expected else r.poas
    if r.roas is None or p is None or r.figures.orders_without_cost:
        return False
    return r.roas > med and p < 1
