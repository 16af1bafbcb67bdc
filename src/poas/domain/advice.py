"""Budget advice: shift spend toward campaigns earning more profit per krone, capped per step.

The rule (documented in docs/attribution.md, "Budget advice"):
1. Each campaign's weight is its spend × (POAS − 1): the profit it returns above break-even at
   today's efficiency. Campaigns at or below break-even weigh 0.
2. The budget is split in proportion to the weights, then every campaign is held within ± `cap` of
   its current spend (one step). What the caps leave over is handed to the campaigns that still have
   room, again by weight (water-filling), so the total equals the budget whenever the caps allow.
3. Each campaign also gets the ROAS it needs for the target POAS: target POAS / margin.
4. A campaign with orders whose profit is unknown (a cost missing, no fallback margin) is held at its
   current spend and weighs 0: its POAS covers only part of its orders, so no advice acts on it.

Profit is on a basis: `expected` (default) is gross profit minus the expected return cost, the
profit the shop keeps and the `net_revenue` Meta is sent; `gross` leaves returns out, which makes a
campaign with many returns (fashion) look better than it is.

This is accounting on past figures, not a forecast: POAS usually falls as a campaign's spend grows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, get_args

from poas.domain.metrics import BREAK_EVEN_POAS, break_even_roas, margin, poas, roas, target_roas
from poas.domain.report_rows import ReportRow

ProfitBasis = Literal["expected", "gross"]
PROFIT_BASES: tuple[ProfitBasis, ...] = get_args(ProfitBasis)
BASIS_LABELS: dict[ProfitBasis, str] = {
    "expected": "profit after expected returns",
    "gross": "gross profit (returns left out)",
}

ZERO = Decimal(0)
DISCLAIMER = (
    "Accounting on past figures, not a promise of uplift: POAS usually falls as a campaign's spend grows."
)


@dataclass(frozen=True, slots=True)
class CampaignFigures:
    key: str
    name: str
    spend: Decimal
    revenue: Decimal
    profit: Decimal  # of the orders whose profit is known
    orders_without_cost: int = 0  # unknown profit: the campaign is held, not advised
    revenue_without_cost: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class CampaignAdvice:
    key: str
    name: str
    spend: Decimal
    proposed_spend: Decimal
    change: Decimal  # proposed − current
    change_pct: Decimal | None
    roas: Decimal | None
    poas: Decimal | None
    margin: Decimal | None
    break_even_roas: Decimal | None
    target_roas: Decimal | None  # for the target POAS; None when the margin is 0 or negative
    reason: str


@dataclass(frozen=True, slots=True)
class Advice:
    budget: Decimal
    allocated: Decimal
    unallocated: Decimal  # budget the caps did not allow to place this step
    target_poas: Decimal
    cap: Decimal
    campaigns: tuple[CampaignAdvice, ...]
    basis: ProfitBasis = "expected"
    rule: str = "weight = spend × (POAS − 1), split by weight, each change capped at ± cap per step"
    disclaimer: str = DISCLAIMER


def check_basis(basis: str) -> ProfitBasis:
    """The basis named, or a ValueError that lists the choices."""
    for b in PROFIT_BASES:
        if b == basis:
            return b
    raise ValueError(f"profit basis {basis!r}: use one of {', '.join(PROFIT_BASES)}")


def campaign_figures(rows: Iterable[ReportRow], basis: ProfitBasis = "expected") -> list[CampaignFigures]:
    """A campaign report's lines (the unattributed line left out) with profit on `basis`."""
    return [
        CampaignFigures(
            r.key,
            r.name,
            r.figures.spend,
            r.figures.revenue,
            r.figures.expected_profit if basis == "expected" else r.figures.gross_profit,
            r.figures.orders_without_cost,
            r.figures.revenue_without_cost,
        )
        for r in rows
        if r.key
    ]


def _weight(c: CampaignFigures) -> Decimal:
    if c.orders_without_cost:
        return ZERO
    p = poas(c.profit, c.spend)
    return ZERO if p is None or p <= BREAK_EVEN_POAS else c.spend * (p - BREAK_EVEN_POAS)


def _fill(
    items: Sequence[CampaignFigures], budget: Decimal, cap: Decimal
) -> tuple[dict[str, Decimal], Decimal]:
    held = {c.key for c in items if c.orders_without_cost}  # unknown profit: current spend, no step
    low = {c.key: c.spend if c.key in held else c.spend * (1 - cap) for c in items}
    high = {c.key: c.spend if c.key in held else c.spend * (1 + cap) for c in items}
    weight = {c.key: _weight(c) for c in items}
    alloc = dict(low)  # everyone keeps at least the floor; the rest goes by weight
    remaining = budget - sum(alloc.values(), ZERO)
    if remaining < 0:
        # Budget below every floor: scale the floors down evenly.
        total = sum(low.values(), ZERO)
        factor = budget / total if total else ZERO
        return {k: v * factor for k, v in low.items()}, ZERO
    for _ in range(len(items) + 1):
        open_keys = [k for k in alloc if alloc[k] < high[k] and weight[k] > 0]
        if remaining <= 0 or not open_keys:
            break
        total_w = sum((weight[k] for k in open_keys), ZERO)
        spent = ZERO
        for k in open_keys:
            add = min(remaining * weight[k] / total_w, high[k] - alloc[k])
            alloc[k] += add
            spent += add
        remaining -= spent
    if remaining > 0:
        # No profitable room left: campaigns without weight may grow back toward their current spend.
        for c in items:
            add = min(remaining, c.spend - alloc[c.key])
            if add > 0:
                alloc[c.key] += add
                remaining -= add
    return alloc, max(remaining, ZERO)


def _reason(p: Decimal | None, change: Decimal) -> str:
    if p is None:
        return "no spend"
    if p < BREAK_EVEN_POAS:
        return "below break-even (POAS < 1): spend loses money"
    if p == BREAK_EVEN_POAS:
        return "at break-even (POAS = 1): no profit above break-even"
    return "above break-even: more budget" if change > 0 else "above break-even: capped or budget used up"


def _held(c: CampaignFigures) -> str:
    return (
        f"profit unknown for {c.orders_without_cost} orders (no cost, no fallback margin): "
        "held at current spend; add the costs (`poas costs missing`)"
    )


def advise(
    campaigns: Sequence[CampaignFigures],
    *,
    budget: Decimal | None = None,
    target_poas: Decimal = Decimal("1.5"),
    cap: Decimal = Decimal("0.20"),
    basis: ProfitBasis = "expected",
) -> Advice:
    """Propose next step's spend per campaign (same period length as the figures).

    `basis` says which profit the figures carry (see `campaign_figures`); it is reported, not applied.
    """
    if not Decimal(0) < cap <= Decimal(1):
        raise ValueError(f"cap {cap} must be in (0, 1]")
    items = [c for c in campaigns if c.spend > 0]
    total = sum((c.spend for c in items), ZERO)
    budget = total if budget is None else budget
    if budget < 0:
        raise ValueError(f"budget {budget} is negative")
    alloc, unallocated = _fill(items, budget, cap) if items else ({}, budget)
    out = []
    for c in sorted(items, key=lambda c: c.key):
        held = c.orders_without_cost > 0
        m = None if held else margin(c.profit, c.revenue - c.revenue_without_cost)
        new = alloc[c.key]
        change = new - c.spend
        p = None if held else poas(c.profit, c.spend)
        out.append(
            CampaignAdvice(
                key=c.key,
                name=c.name,
                spend=c.spend,
                proposed_spend=new,
                change=change,
                change_pct=change / c.spend if c.spend else None,
                roas=roas(c.revenue, c.spend),
                poas=p,
                margin=m,
                break_even_roas=None if m is None else break_even_roas(m),
                target_roas=None if m is None else target_roas(target_poas, m),
                reason=_held(c) if held else _reason(p, change),
            )
        )
    allocated = sum((a.proposed_spend for a in out), ZERO)
    return Advice(budget, allocated, unallocated, target_poas, cap, tuple(out), basis=check_basis(basis))
