"""Contribution margins, fixed costs spread over days, and their break-even figures (docs/metrics.md).

CM1 = revenue ex VAT − COGS; CM2 = CM1 − shipping − payment fees − handling − returns (expected, or
realized for final orders); CM3 = CM2 − ad spend; net profit = CM3 − fixed costs. Only orders whose
profit is known enter CM1 and CM2 (their revenue is `Figures.priced_revenue`); orders without a cost
stay in revenue and are counted apart, as everywhere else.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from poas.domain.metrics import break_even_roas, margin, roas


@dataclass(frozen=True, slots=True)
class FixedCost:
    """One fixed cost's monthly amount from `valid_from` until the next entry of the same name."""

    name: str
    valid_from: date
    monthly: Decimal  # shop currency; 0 ends the cost
    category: str = ""


def daily_fixed(costs: Iterable[FixedCost], day: date) -> Fraction:
    """The fixed costs of one day, exact: each name's amount in force that day / the days of its month."""
    in_force: dict[str, FixedCost] = {}
    for c in costs:
        if c.valid_from <= day and (c.name not in in_force or c.valid_from > in_force[c.name].valid_from):
            in_force[c.name] = c
    days = calendar.monthrange(day.year, day.month)[1]
    return sum((Fraction(c.monthly) / days for c in in_force.values()), Fraction(0))


def fixed_between(costs: Iterable[FixedCost], date_from: date, date_to: date, places: int = 2) -> Decimal:
    """Fixed costs of the days date_from..date_to (inclusive), summed exactly, rounded once (half up):
    a whole calendar month gives exactly the monthly amounts in force."""
    rows = list(costs)
    total = Fraction(0)
    day = date_from
    while day <= date_to:
        total += daily_fixed(rows, day)
        day += timedelta(days=1)
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(total.numerator) / Decimal(total.denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


def split_fixed(total: Decimal, weights: dict[str, Decimal], places: int = 2) -> dict[str, Decimal]:
    """Share `total` by weights (revenue), exactly to the minor unit (the remainder to the largest)."""
    positive = {k: w for k, w in weights.items() if w > 0}
    whole = sum(positive.values(), Decimal(0))
    if not positive or whole == 0:
        return {}
    scale = Decimal(1).scaleb(-places)
    minor = int((total / scale).to_integral_value())
    parts = {k: int(minor * w / whole) for k, w in positive.items()}
    biggest = max(positive, key=lambda k: (positive[k], k))
    parts[biggest] += minor - sum(parts.values())
    return {k: Decimal(v) * scale for k, v in parts.items()}


@dataclass(frozen=True, slots=True)
class Margins:
    revenue: Decimal  # revenue ex VAT of the orders whose profit is known
    cm1: Decimal
    cm2: Decimal  # on the basis asked (expected returns, or realized)
    cm3: Decimal
    fixed_costs: Decimal | None  # None: not allocated to this line
    net_profit: Decimal | None
    break_even_roas_cm3: Decimal | None  # ROAS at which CM3 = 0 (1 / CM2 margin)
    break_even_spend_cm3: Decimal  # the ad spend CM2 pays for (CM3 = 0)
    break_even_revenue_net: Decimal | None  # revenue at this CM2 margin where net profit = 0
    break_even_roas_net: Decimal | None  # that revenue / the spend


def margins(
    *,
    priced_revenue: Decimal,
    cogs: Decimal,
    cm2: Decimal,
    spend: Decimal,
    fixed_costs: Decimal | None,
) -> Margins:
    """The CM ladder and break-evens for one report line (`cm2` is the profit on the chosen basis)."""
    cm1 = priced_revenue - cogs
    cm3 = cm2 - spend
    net = None if fixed_costs is None else cm3 - fixed_costs
    m = margin(cm2, priced_revenue)
    be_rev = None
    if m is not None and m > 0:
        be_rev = (spend + (fixed_costs or Decimal(0))) / m
    return Margins(
        revenue=priced_revenue,
        cm1=cm1,
        cm2=cm2,
        cm3=cm3,
        fixed_costs=fixed_costs,
        net_profit=net,
        break_even_roas_cm3=None if m is None else break_even_roas(m),
        break_even_spend_cm3=cm2,
        break_even_revenue_net=be_rev,
        break_even_roas_net=None if be_rev is None else roas(be_rev, spend),
    )


def new_customer_cac(spend: Decimal, new_customers: int) -> Decimal | None:
    """Ad spend / new customers (each new customer has exactly one "new" order); None without any."""
    return None if new_customers == 0 else spend / new_customers
