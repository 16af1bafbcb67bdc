"""Overview read model: the period's P&L on the decision basis, against the previous period.

Revenue ex VAT, gross profit, ad spend (Meta's plus the other channels entered), profit after ad
spend and blended POAS (profit on the decision basis / all ad spend), each beside the same figure
for the period of the same length just before. Unattributed revenue (orders no Meta campaign
matched) is shown apart: it is in the blended figures, not in any campaign's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, select

from poas.domain.advice import DecisionPolicy, Tone, tone
from poas.domain.metrics import poas
from poas.domain.money import exponent
from poas.services.channel_report import rollup_channel_spend
from poas.services.channel_spend import MonthlySpend, list_monthly, spend_between
from poas.services.report import period_total, previous_range
from poas.services.views.common import ZERO
from poas.services.views.reports import ReportLine, ReportView, line_of
from poas.settings import ShopConfig
from poas.store.tables.spend import ad_spend

KpiKey = Literal["revenue", "gross_profit", "spend", "profit_after_ads", "poas"]


class Kpi(BaseModel):
    key: KpiKey
    kind: Literal["money", "ratio"]
    value: Decimal | None
    previous: Decimal | None
    change: Decimal | None = Field(description="value − previous")
    change_pct: Decimal | None = Field(description="change / |previous|; None when previous is 0 or unknown")
    higher_is_better: bool = True


class OverviewView(BaseModel):
    date_from: date
    date_to: date
    prev_from: date
    prev_to: date
    kpis: list[Kpi]
    meta_spend: Decimal
    google_spend: Decimal = Field(ZERO, description="Google's synced / imported spend rows in the period")
    other_spend: dict[str, Decimal] = Field(description="channel → spend in the period (monthly, spread)")
    total_spend: Decimal
    unattributed_orders: int
    unattributed_revenue: Decimal
    unattributed_profit: Decimal | None
    spend_synced_at: datetime | None = Field(description="when Meta's spend was last fetched or imported")
    monthly: list[MonthlySpend] = Field(default_factory=list, description="the other channels' figures")
    losers: list[ReportLine] = Field(description="campaigns below the target POAS, worst first")
    poas_tone: Tone = Field("", description="the blended POAS's colour on the decision thresholds")

    def by_key(self) -> dict[str, Kpi]:
        return {k.key: k for k in self.kpis}


def _q(value: Decimal | None, places: int) -> Decimal | None:
    return None if value is None else value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _profit(line: ReportLine, basis: str) -> Decimal | None:
    return line.expected_profit if basis == "expected" else line.gross_profit


def _kpi(key: KpiKey, value: Decimal | None, previous: Decimal | None, places: int) -> Kpi:
    kind: Literal["money", "ratio"] = "ratio" if key == "poas" else "money"
    value, previous = _q(value, places), _q(previous, places)
    change = None if value is None or previous is None else value - previous
    pct = None if change is None or not previous else _q(change / abs(previous), 4)
    return Kpi(
        key=key,
        kind=kind,
        value=value,
        previous=previous,
        change=change,
        change_pct=pct,
        higher_is_better=key != "spend",
    )


def spend_synced_at(engine: Engine, shop_id: str) -> datetime | None:
    with engine.connect() as conn:
        value: datetime | None = conn.execute(
            select(func.max(ad_spend.c.fetched_at)).where(ad_spend.c.shop_id == shop_id)
        ).scalar()
    return value


def overview_view(engine: Engine, shop: ShopConfig, view: ReportView) -> OverviewView:
    """The P&L for `view`'s period (a campaign report on the decision basis) and the one before."""
    prev_from, prev_to = previous_range(view.date_from, view.date_to)
    previous = line_of(period_total(engine, shop, prev_from, prev_to), shop.currency, view)
    other_now = spend_between(engine, shop, view.date_from, view.date_to)
    other_before = spend_between(engine, shop, prev_from, prev_to)
    places = exponent(shop.currency)
    rows: list[tuple[KpiKey, Decimal | None, Decimal | None]] = []
    figures = []
    for line, other in ((view.total, other_now), (previous, other_before)):
        spend = line.spend + sum(other.values(), ZERO)
        profit = _profit(line, view.basis)
        figures.append(
            (
                line.revenue,
                line.gross_profit,
                spend,
                None if profit is None else profit - spend,
                None if profit is None else poas(profit, spend),
            )
        )
    keys: tuple[KpiKey, ...] = ("revenue", "gross_profit", "spend", "profit_after_ads", "poas")
    for i, key in enumerate(keys):
        rows.append((key, figures[0][i], figures[1][i]))
    unattributed = next((r for r in view.rows if not r.key), None)
    losers = [r for r in view.rows if r.key and r.verdict in ("cut", "pause")]
    losers.sort(key=lambda r: (r.poas_basis if r.poas_basis is not None else ZERO, r.key))
    policy = DecisionPolicy(basis=view.basis, target_poas=view.target_poas, pause_below=view.pause_below)
    blended = figures[0][4]
    google = rollup_channel_spend(engine, shop, view.date_from, view.date_to).get("google", ZERO)
    return OverviewView(
        poas_tone=tone(blended, policy),
        date_from=view.date_from,
        date_to=view.date_to,
        prev_from=prev_from,
        prev_to=prev_to,
        kpis=[_kpi(k, v, p, 4 if k == "poas" else places) for k, v, p in rows],
        meta_spend=view.total.spend - google,
        google_spend=google,
        other_spend=other_now,
        total_spend=view.total.spend + sum(other_now.values(), ZERO),
        unattributed_orders=unattributed.orders if unattributed else 0,
        unattributed_revenue=unattributed.revenue if unattributed else ZERO,
        unattributed_profit=_profit(unattributed, view.basis) if unattributed else None,
        spend_synced_at=spend_synced_at(engine, shop.id),
        monthly=list_monthly(engine, shop),
        losers=losers,
    )
