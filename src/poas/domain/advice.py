"""Decisions on one profit basis: each campaign's verdict (grow, keep, cut, pause) and budget advice.

The rule (documented in docs/attribution.md, "Budget advice"), on the shop's decision basis:
1. A campaign's verdict comes from its POAS and the shop's thresholds: at or above the target POAS it
   grows (exactly at the target it keeps its budget); below the target it is cut, the further below
   the bigger the cut (the full step at the pause line); below the pause line it is paused (0).
2. The money cut is offered to the campaigns above the target, in proportion to the profit they
   earn above it (spend × (POAS − target)), each growing at most `cap` per step. Money no campaign
   above target can take is kept back, never handed to a campaign below target.
3. Each campaign also gets the ROAS it needs for the target POAS: target POAS / margin.
4. A campaign with orders whose profit is unknown (a cost missing, no fallback margin) is held at its
   current spend: its POAS covers only part of its orders, so no advice acts on it.

The same verdict colours the dashboard (green only at or above the target, amber between break-even
and the target, red below break-even), so no page shows green what the advice cuts.

Profit is on a basis: `expected` (default) is gross profit minus the expected return cost, the
profit the shop keeps and the `net_revenue` Meta is sent; `gross` leaves returns out, which makes a
campaign with many returns (fashion) look better than it is.

This is accounting on past figures, not a forecast: POAS usually falls as a campaign's spend grows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
Verdict = Literal["grow", "keep", "cut", "pause", "unknown"]
Tone = Literal["good", "warn", "bad", ""]

ZERO = Decimal(0)
DISCLAIMER = (
    "Accounting on past figures, not a promise of uplift: POAS usually falls as a campaign's spend grows."
)
RULE = (
    "spend moves toward campaigns above the target POAS (by the profit they earn above it, each at "
    "most +cap a step) and away from those below it (the further below, the bigger the cut, at most "
    "−cap); below the pause line a campaign is paused"
)
# Why, in a merchant's words (the CLI and JSON; the dashboard renders the same sentences translated).
REASONS: dict[str, str] = {
    "grow": "Above your target: it earned {poas} in profit for every 1 spent on ads (target {target}). "
    "It gets more budget, at most +{cap} a step.",
    "grow_full": "Above your target ({poas} in profit for every 1 spent on ads, target {target}), but no "
    "money was freed from weaker campaigns to move to it this step.",
    "keep": "On your target ({target} in profit for every 1 spent on ads): keep the budget.",
    "cut_profitable": "Earns money, but below your target: {poas} in profit for every 1 spent on ads "
    "(target {target}). Part of its budget moves to campaigns above target.",
    "cut_losing": "Loses money: every 1 spent on ads brought back only {poas} in profit. Cut its budget; "
    "below {pause} the advice says pause.",
    "pause": "Pause it: every 1 spent on ads brought back only {poas} in profit, under your pause line "
    "of {pause}. The ads cost more than the sales they bring earn.",
    "unknown": "Held at its current budget: profit unknown for {orders} orders (a cost is missing and "
    "there is no fallback margin) until the costs are added (`poas costs missing`).",
}
KEPT_BACK = (
    "{amount} is kept back: no campaign above the target POAS could take more this step "
    "(each grows at most +{cap})."
)


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    """The shop's decision settings: which profit, the target POAS, the pause line and the step."""

    basis: ProfitBasis = "expected"
    target_poas: Decimal = Decimal("1.5")
    pause_below: Decimal = Decimal("0.5")
    cap: Decimal = Decimal("0.20")

    def __post_init__(self) -> None:
        check_basis(self.basis)
        if not ZERO < self.cap <= 1:
            raise ValueError(f"cap {self.cap} must be in (0, 1]")
        if self.target_poas <= 0:
            raise ValueError(f"target POAS {self.target_poas} must be above 0")
        if not ZERO <= self.pause_below < self.target_poas:
            raise ValueError(
                f"pause line {self.pause_below} must be at least 0 and below the target POAS "
                f"{self.target_poas}"
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
    verdict: Verdict = "keep"
    why: str = "keep"  # the REASONS key the reason was written from


@dataclass(frozen=True, slots=True)
class Advice:
    budget: Decimal
    allocated: Decimal
    unallocated: Decimal  # budget kept back: no campaign above target could take it this step
    target_poas: Decimal
    cap: Decimal
    campaigns: tuple[CampaignAdvice, ...]
    basis: ProfitBasis = "expected"
    pause_below: Decimal = Decimal("0.5")
    rule: str = RULE
    disclaimer: str = DISCLAIMER
    kept_back: str = field(default="")  # the sentence on `unallocated`, empty when nothing is kept back


def check_basis(basis: str) -> ProfitBasis:
    """The basis named, or a ValueError that lists the choices."""
    for b in PROFIT_BASES:
        if b == basis:
            return b
    raise ValueError(f"profit basis {basis!r}: use one of {', '.join(PROFIT_BASES)}")


def row_poas(row: ReportRow, basis: ProfitBasis) -> Decimal | None:
    """A report line's POAS on `basis`."""
    return row.poas_expected if basis == "expected" else row.poas


def row_profit(row: ReportRow, basis: ProfitBasis) -> Decimal:
    """A report line's known profit on `basis`."""
    f = row.figures
    return f.expected_profit if basis == "expected" else f.gross_profit


def verdict(p: Decimal | None, policy: DecisionPolicy) -> Verdict:
    """What the advice does with a POAS on the policy's basis (None: profit unknown)."""
    if p is None:
        return "unknown"
    if p < policy.pause_below:
        return "pause"
    if p < policy.target_poas:
        return "cut"
    return "keep" if p == policy.target_poas else "grow"


def tone(p: Decimal | None, policy: DecisionPolicy) -> Tone:
    """The colour every page gives a POAS: green only where the advice does not cut."""
    v = verdict(p, policy)
    if v in ("grow", "keep"):
        return "good"
    if v == "unknown" or p is None:
        return ""
    return "warn" if p >= BREAK_EVEN_POAS else "bad"


def campaign_figures(rows: Iterable[ReportRow], basis: ProfitBasis = "expected") -> list[CampaignFigures]:
    """A campaign report's lines (the unattributed line left out) with profit on `basis`."""
    return [
        CampaignFigures(
            r.key,
            r.name,
            r.figures.spend,
            r.figures.revenue,
            row_profit(r, basis),
            r.figures.orders_without_cost,
            r.figures.revenue_without_cost,
        )
        for r in rows
        if r.key
    ]


def _poas_of(c: CampaignFigures) -> Decimal | None:
    return None if c.orders_without_cost else poas(c.profit, c.spend)


def cut_share(p: Decimal, policy: DecisionPolicy) -> Decimal:
    """The share of spend cut below the target: grows linearly to the full step at the pause line."""
    shortfall = (policy.target_poas - p) / (policy.target_poas - policy.pause_below)
    return policy.cap * min(Decimal(1), max(ZERO, shortfall))


def _bounds(c: CampaignFigures, policy: DecisionPolicy) -> tuple[Decimal, Decimal, Decimal]:
    """(lowest, highest, weight) of a campaign's next spend."""
    p = _poas_of(c)
    v = verdict(p, policy)
    if v == "pause":
        return ZERO, ZERO, ZERO
    if v == "cut" and p is not None:
        low = c.spend * (1 - cut_share(p, policy))
        return low, low, ZERO
    if v == "grow" and p is not None:
        return c.spend, c.spend * (1 + policy.cap), c.spend * (p - policy.target_poas)
    return c.spend, c.spend, ZERO  # keep, unknown


def _fill(
    items: Sequence[CampaignFigures], budget: Decimal, policy: DecisionPolicy
) -> tuple[dict[str, Decimal], Decimal]:
    bounds = {c.key: _bounds(c, policy) for c in items}
    alloc = {k: b[0] for k, b in bounds.items()}
    remaining = budget - sum(alloc.values(), ZERO)
    if remaining < 0:
        # Budget below what the campaigns keep: scale them down evenly.
        total = sum(alloc.values(), ZERO)
        factor = budget / total if total else ZERO
        return {k: v * factor for k, v in alloc.items()}, ZERO
    for _ in range(len(items) + 1):  # water-filling: by weight, each up to its step
        open_keys = [k for k in alloc if alloc[k] < bounds[k][1] and bounds[k][2] > 0]
        if remaining <= 0 or not open_keys:
            break
        total_w = sum((bounds[k][2] for k in open_keys), ZERO)
        spent = ZERO
        for k in open_keys:
            add = min(remaining * bounds[k][2] / total_w, bounds[k][1] - alloc[k])
            alloc[k] += add
            spent += add
        remaining -= spent
    return alloc, max(remaining, ZERO)


def _ratio(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _why(c: CampaignFigures, v: Verdict, p: Decimal | None, change: Decimal) -> str:
    if v == "unknown" or p is None:
        return "unknown"
    if v == "cut":
        return "cut_profitable" if p >= BREAK_EVEN_POAS else "cut_losing"
    if v == "grow" and change <= 0:
        return "grow_full"
    return v


def reason_text(why: str, p: Decimal | None, policy: DecisionPolicy, orders_without_cost: int = 0) -> str:
    """The English sentence for a REASONS key (the dashboard translates the same sentences)."""
    return REASONS[why].format(
        poas="–" if p is None else _ratio(p),
        target=_ratio(policy.target_poas),
        pause=_ratio(policy.pause_below),
        cap=f"{(policy.cap * 100).normalize():f} %",
        orders=orders_without_cost,
    )


def advise(
    campaigns: Sequence[CampaignFigures],
    policy: DecisionPolicy | None = None,
    *,
    budget: Decimal | None = None,
) -> Advice:
    """Propose next step's spend per campaign (same period length as the figures).

    The figures carry profit on `policy.basis` (see `campaign_figures`). `budget` defaults to the
    current spend; what no campaign above target can take is kept back (`unallocated`).
    """
    policy = policy or DecisionPolicy()
    items = [c for c in campaigns if c.spend > 0]
    total = sum((c.spend for c in items), ZERO)
    budget = total if budget is None else budget
    if budget < 0:
        raise ValueError(f"budget {budget} is negative")
    alloc, unallocated = _fill(items, budget, policy) if items else ({}, budget)
    out = []
    for c in sorted(items, key=lambda c: c.key):
        held = c.orders_without_cost > 0
        m = None if held else margin(c.profit, c.revenue - c.revenue_without_cost)
        new = alloc[c.key]
        change = new - c.spend
        p = _poas_of(c)
        v = verdict(p, policy)
        why = _why(c, v, p, change)
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
                target_roas=None if m is None else target_roas(policy.target_poas, m),
                reason=reason_text(why, p, policy, c.orders_without_cost),
                verdict=v,
                why=why,
            )
        )
    allocated = sum((a.proposed_spend for a in out), ZERO)
    kept = (
        KEPT_BACK.format(amount=_ratio(unallocated), cap=f"{(policy.cap * 100).normalize():f} %")
        if unallocated > 0
        else ""
    )
    return Advice(
        budget,
        allocated,
        unallocated,
        policy.target_poas,
        policy.cap,
        tuple(out),
        basis=policy.basis,
        pause_below=policy.pause_below,
        kept_back=kept,
    )
