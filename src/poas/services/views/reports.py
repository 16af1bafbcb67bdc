"""Report read model: ROAS next to POAS per campaign / ad set / ad / product / day, with budget advice."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from weakref import WeakKeyDictionary

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from poas.domain.advice import (
    BASIS_LABELS,
    PROFIT_BASES,
    DecisionPolicy,
    ProfitBasis,
    Tone,
    Verdict,
    advise,
    campaign_figures,
    row_poas,
    row_profit,
    tone,
    verdict,
)
from poas.domain.margins import margins, new_customer_cac
from poas.domain.money import exponent
from poas.domain.report_rows import ReportRow
from poas.services.report import By, Report, build_report, decision_policy
from poas.services.rollups import refresh
from poas.services.views.common import ZERO
from poas.settings import ShopConfig


class ReportLine(BaseModel):
    key: str = Field(description="campaign / ad set / ad id, product key or day; empty for the total")
    name: str
    spend: Decimal
    orders: int
    revenue: Decimal
    gross_profit: Decimal | None = Field(description="known profit only; None when no order's is known")
    expected_profit: Decimal | None
    realized_profit: Decimal | None = Field(None, description="only when some orders' profit is final")
    roas: Decimal | None
    poas: Decimal | None
    poas_expected: Decimal | None
    margin: Decimal | None
    break_even_roas: Decimal | None
    meta_purchases: int
    meta_value: Decimal
    revenue_trap: bool
    orders_without_cost: int = Field(
        0, description="orders with unknown profit (no cost, no fallback): in revenue, not in profit"
    )
    revenue_without_cost: Decimal = Field(ZERO, description="their revenue ex VAT")
    poas_basis: Decimal | None = Field(None, description="POAS on the decision basis (the view's `basis`)")
    profit_basis: Decimal | None = Field(None, description="known profit on the decision basis")
    profit_after_ads: Decimal | None = Field(None, description="profit on the decision basis − ad spend")
    verdict: Verdict = Field("unknown", description="grow | keep | cut | pause | unknown, as the advice")
    tone: Tone = Field("", description="good (at or above target) | warn | bad (below break-even) | ''")
    channel: str | None = Field(
        None, description="campaign / ad set / ad lines: meta | google | '' (no spend row names it)"
    )
    # contribution margins and customers (docs/metrics.md)
    cm1: Decimal | None = Field(None, description="revenue ex VAT − COGS (orders with a known profit)")
    cm2: Decimal | None = Field(None, description="CM1 − shipping, payment fees, handling, expected returns")
    cm3: Decimal | None = Field(None, description="CM2 − ad spend")
    fixed_costs: Decimal | None = Field(
        None, description="the line's fixed costs (period, day, or revenue share)"
    )
    net_profit: Decimal | None = Field(None, description="CM3 − fixed costs")
    break_even_roas_cm3: Decimal | None = Field(None, description="ROAS at which CM3 = 0")
    break_even_revenue_net: Decimal | None = Field(
        None, description="revenue at this CM2 margin where net = 0"
    )
    break_even_roas_net: Decimal | None = Field(None, description="that revenue / ad spend")
    new_orders: int = Field(0, description="customers' first counted orders")
    new_revenue: Decimal = ZERO
    new_profit: Decimal | None = Field(
        None, description="new customers' orders' profit on the decision basis"
    )
    returning_orders: int = 0
    returning_revenue: Decimal = ZERO
    returning_profit: Decimal | None = None
    unknown_customer_orders: int = Field(0, description="no customer key, or not a counted order")
    new_customer_cac: Decimal | None = Field(None, description="ad spend / new customers")
    first_order_poas: Decimal | None = Field(None, description="new customers' profit / ad spend")


class AdviceLine(BaseModel):
    key: str
    name: str
    spend: Decimal
    proposed_spend: Decimal
    change: Decimal
    change_pct: Decimal | None
    poas: Decimal | None
    target_roas: Decimal | None
    reason: str
    verdict: Verdict = "keep"
    why: str = Field("keep", description="the reason's key (domain.advice.REASONS)")


class AdviceView(BaseModel):
    basis: ProfitBasis = Field(description="the profit weighed: expected (after expected returns) or gross")
    basis_label: str
    budget: Decimal
    allocated: Decimal
    unallocated: Decimal
    target_poas: Decimal
    cap: Decimal
    pause_below: Decimal = Decimal("0.5")
    rule: str
    disclaimer: str
    kept_back: str = ""
    campaigns: list[AdviceLine]


class ReportView(BaseModel):
    shop_id: str
    currency: str
    by: str
    date_from: date
    date_to: date
    rows: list[ReportLine]
    total: ReportLine = Field(description="blended: all profit / all spend, attributed or not")
    notes: list[str]
    advice: AdviceView | None = Field(None, description="budget advice (campaign reports only)")
    basis: ProfitBasis = Field("expected", description="the profit decisions use on this view")
    basis_label: str = BASIS_LABELS["expected"]
    other_basis: ProfitBasis = "gross"
    target_poas: Decimal = Decimal("1.5")
    pause_below: Decimal = Decimal("0.5")


REFRESH_EVERY_S = 30.0
_REFRESHED: WeakKeyDictionary[Engine, dict[str, float]] = WeakKeyDictionary()  # shop -> last refresh
_RUNNING: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()  # shops refreshing in the background
_GUARD = threading.Lock()
log = structlog.get_logger("poas.reports")
SORT_KEYS = (
    "name",
    "spend",
    "orders",
    "revenue",
    "gross_profit",
    "expected_profit",
    "roas",
    "poas",
    "poas_expected",
    "margin",
    "poas_basis",
    "profit_after_ads",
    "break_even_roas",
)


def _q(value: Decimal | None, places: int) -> Decimal | None:
    return None if value is None else value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _line(row: ReportRow, places: int, policy: DecisionPolicy) -> ReportLine:
    f = row.figures
    unknown = f.no_profit_known
    p = _q(row_poas(row, policy.basis), 4)
    profit = None if unknown else row_profit(row, policy.basis)
    m = margins(
        priced_revenue=f.priced_revenue,
        cogs=f.cogs,
        cm2=f.expected_profit,
        spend=f.spend,
        fixed_costs=row.fixed_costs,
    )
    expected = policy.basis == "expected"
    new_profit = f.new_expected_profit if expected else f.new_gross_profit
    back_profit = f.returning_expected_profit if expected else f.returning_gross_profit
    cac = new_customer_cac(f.spend, f.new_orders)
    return ReportLine(
        cm1=None if unknown else m.cm1,
        cm2=None if unknown else m.cm2,
        cm3=None if unknown else m.cm3,
        fixed_costs=row.fixed_costs,
        net_profit=None if unknown else m.net_profit,
        break_even_roas_cm3=None if unknown else _q(m.break_even_roas_cm3, 4),
        break_even_revenue_net=None if unknown else _q(m.break_even_revenue_net, places),
        break_even_roas_net=None if unknown else _q(m.break_even_roas_net, 4),
        new_orders=f.new_orders,
        new_revenue=f.new_revenue,
        new_profit=None if unknown else new_profit,
        returning_orders=f.returning_orders,
        returning_revenue=f.returning_revenue,
        returning_profit=None if unknown else back_profit,
        unknown_customer_orders=f.orders - f.new_orders - f.returning_orders,
        new_customer_cac=_q(cac, places),
        first_order_poas=None if unknown or not f.new_orders or not f.spend else _q(new_profit / f.spend, 4),
        poas_basis=p,
        profit_basis=profit,
        profit_after_ads=None if profit is None else profit - f.spend,
        verdict=verdict(p, policy) if f.spend else "unknown",
        tone=tone(p, policy) if f.spend else "",
        key=row.key,
        name=row.name,
        spend=f.spend,
        orders=f.orders,
        revenue=f.revenue,
        gross_profit=None if unknown else f.gross_profit,
        expected_profit=None if unknown else f.expected_profit,
        realized_profit=row.realized_profit,
        roas=_q(row.roas, 4),
        poas=_q(row.poas, 4),
        poas_expected=_q(row.poas_expected, 4),
        margin=_q(row.margin, 4),
        break_even_roas=_q(row.break_even_roas, 4),
        meta_purchases=f.meta_purchases,
        meta_value=f.meta_value,
        revenue_trap=row.revenue_trap,
        orders_without_cost=f.orders_without_cost,
        revenue_without_cost=f.revenue_without_cost,
    )


def line_of(row: ReportRow, currency: str, view: ReportView) -> ReportLine:
    """A report row as `view` shows its lines (its basis and thresholds)."""
    policy = DecisionPolicy(basis=view.basis, target_poas=view.target_poas, pause_below=view.pause_below)
    return _line(row, exponent(currency), policy)


def advice_view(report: Report, policy: DecisionPolicy) -> AdviceView:
    a = advise(campaign_figures(report.rows, policy.basis), policy)
    places = exponent(report.currency)
    return AdviceView(
        pause_below=a.pause_below,
        kept_back=a.kept_back,
        basis=a.basis,
        basis_label=BASIS_LABELS[a.basis],
        budget=a.budget,
        allocated=a.allocated,
        unallocated=a.unallocated,
        target_poas=a.target_poas,
        cap=a.cap,
        rule=a.rule,
        disclaimer=a.disclaimer,
        campaigns=[
            AdviceLine(
                key=c.key,
                name=c.name,
                spend=c.spend,
                proposed_spend=_q(c.proposed_spend, places) or ZERO,
                change=_q(c.change, places) or ZERO,
                change_pct=_q(c.change_pct, 4),
                poas=_q(c.poas, 4),
                target_roas=_q(c.target_roas, 4),
                reason=c.reason,
                verdict=c.verdict,
                why=c.why,
            )
            for c in a.campaigns
        ],
    )


def figures_changed(engine: Engine) -> None:
    """Profits in this store changed: the next report refreshes its rollups whatever the throttle."""
    _REFRESHED.pop(engine, None)


def _refresh_in_background(engine: Engine, shop: ShopConfig) -> None:
    """One background refresh per shop and engine at a time; a failed one is retried next request."""
    with _GUARD:
        running = _RUNNING.setdefault(engine, set())
        if shop.id in running:
            return
        running.add(shop.id)

    def run() -> None:
        try:
            refresh(engine, shop, now=datetime.now(UTC))
        except Exception as exc:  # the store: logged; the next report tries again
            log.warning("background rollup refresh failed", shop=shop.id, error=type(exc).__name__)
            _REFRESHED.get(engine, {}).pop(shop.id, None)
        finally:
            with _GUARD:
                _RUNNING.get(engine, set()).discard(shop.id)

    threading.Thread(target=run, name=f"poas-rollups-{shop.id}", daemon=True).start()


def report_view(
    engine: Engine,
    shop: ShopConfig,
    *,
    by: By,
    now: datetime,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str | None = None,
    descending: bool = True,
    basis: str | None = None,
) -> ReportView:
    """The report service's figures for one shop, optionally sorted.

    The rollups are refreshed at most every REFRESH_EVERY_S per shop in this process: a refresh right
    after a large import rebuilds whole days, and a dashboard asks for several reports per page. The
    first report of a shop in this process (and the first after `figures_changed`) refreshes before
    reading, giving way to a writer (`refresh_if_free`: then the report says it is stale and the next
    one tries again); later ones read at once and start the refresh in a background thread, so no
    reader waits for a refresh's computing. Figures are therefore about REFRESH_EVERY_S (plus one
    refresh) behind the orders at most.
    """
    last = _REFRESHED.setdefault(engine, {})
    seen = shop.id in last
    due = time.monotonic() - last.get(shop.id, -REFRESH_EVERY_S) >= REFRESH_EVERY_S
    if due and seen:  # refreshed here before: the next refresh runs beside this read
        last[shop.id] = time.monotonic()
        _refresh_in_background(engine, shop)
        due = False
    policy = decision_policy(shop, basis)
    report = build_report(
        engine,
        shop,
        by=by,
        now=now,
        date_from=date_from,
        date_to=date_to,
        refresh_first=due,
        basis=policy.basis,
    )
    if due and not report.stale:  # a refresh a writer got in the way of is tried again next time
        last[shop.id] = time.monotonic()
    places = exponent(report.currency)
    rows = [_line(r, places, policy) for r in report.rows]
    if report.channels or by in ("campaign", "adset", "ad"):
        rows = [r.model_copy(update={"channel": report.channels.get(r.key, "")}) for r in rows]
    if sort in SORT_KEYS:
        present = [r for r in rows if getattr(r, sort) is not None]
        missing = [r for r in rows if getattr(r, sort) is None]
        present.sort(key=lambda r: getattr(r, sort), reverse=descending)
        rows = present + missing
    return ReportView(
        shop_id=report.shop_id,
        currency=report.currency,
        by=report.by,
        date_from=report.date_from,
        date_to=report.date_to,
        rows=rows,
        total=_line(report.total, places, policy),
        notes=list(report.notes),
        advice=advice_view(report, policy) if by == "campaign" else None,
        basis=policy.basis,
        basis_label=BASIS_LABELS[policy.basis],
        other_basis=next(b for b in PROFIT_BASES if b != policy.basis),
        target_poas=policy.target_poas,
        pause_below=policy.pause_below,
    )
