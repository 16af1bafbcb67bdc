"""Customer cohorts: cumulative profit per customer N days after the first order, and LTV:CAC.

Customers are grouped by the month of their first order (shop calendar) or by the campaign their
first order is attributed to. For each horizon (30/60/90/180/365 days) a cohort's figure is the
profit of all its customers' orders placed within that many days of their first order (the first
order included), divided by the customers old enough to have lived the whole horizon at `as_of`:
only those count, so a young cohort shows no figure yet rather than a figure that is too low.
Orders whose profit is unknown (a missing cost) add nothing and are counted apart.

LTV:CAC per acquiring campaign: CAC = the campaign's spend in the period / the new customers its
first orders brought; LTV:CAC at horizon h = (profit per customer at h) / CAC. A campaign with no
spend has no CAC (None), as an unattributed first order has no campaign spend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

HORIZONS = (30, 60, 90, 180, 365)
_DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class CustomerOrder:
    """One counted order: its customer, when, its profit (minor units; None = unknown)."""

    customer_key: str
    placed_at: datetime
    profit_minor: int | None


@dataclass(frozen=True, slots=True)
class Acquired:
    """A customer's first order: when, the cohort month and the campaign it is attributed to."""

    first_at: datetime
    month: str  # YYYY-MM, shop calendar
    campaign_id: str  # "" = unattributed


@dataclass
class Cohort:
    key: str  # month "YYYY-MM" or campaign id
    name: str
    customers: int = 0
    first_order_profit_minor: int = 0
    orders_without_cost: int = 0
    spend_minor: int | None = None  # by campaign only
    # horizon -> (customers who lived it, Σ their profit within it)
    matured: dict[int, int] = field(default_factory=dict)
    profit_minor: dict[int, int] = field(default_factory=dict)

    def per_customer_minor(self, horizon: int) -> Decimal | None:
        n = self.matured.get(horizon, 0)
        return None if n == 0 else Decimal(self.profit_minor.get(horizon, 0)) / n

    @property
    def cac_minor(self) -> Decimal | None:
        if not self.spend_minor or self.customers == 0:
            return None
        return Decimal(self.spend_minor) / self.customers

    def ltv_cac(self, horizon: int) -> Decimal | None:
        ltv, cac = self.per_customer_minor(horizon), self.cac_minor
        return None if ltv is None or cac is None else ltv / cac


def build_cohorts(
    orders: Iterable[CustomerOrder],
    acquired: Mapping[str, Acquired],
    *,
    by: str,
    as_of: datetime,
    names: Mapping[str, str] | None = None,
    spend_minor: Mapping[str, int] | None = None,
    horizons: tuple[int, ...] = HORIZONS,
) -> list[Cohort]:
    """Cohorts `by` "month" or "campaign" of the customers in `acquired` (others' orders are ignored)."""
    if by not in ("month", "campaign"):
        raise ValueError(f"cohorts by {by!r}: month or campaign")
    names = names or {}
    cohorts: dict[str, Cohort] = {}

    def key_of(a: Acquired) -> str:
        return a.month if by == "month" else a.campaign_id

    for a in acquired.values():
        k = key_of(a)
        c = cohorts.get(k)
        if c is None:
            c = cohorts[k] = Cohort(k, names.get(k, k) if by == "campaign" else k)
        c.customers += 1
        age = (as_of - a.first_at).total_seconds() / _DAY_S
        for h in horizons:
            if age >= h:
                c.matured[h] = c.matured.get(h, 0) + 1
    per_horizon: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for o in orders:
        got = acquired.get(o.customer_key)
        if got is None or o.placed_at < got.first_at:
            continue
        a = got
        c = cohorts[key_of(a)]
        if o.profit_minor is None:
            c.orders_without_cost += 1
            continue
        if o.placed_at == a.first_at:
            c.first_order_profit_minor += o.profit_minor
        age = (as_of - a.first_at).total_seconds() / _DAY_S
        since = (o.placed_at - a.first_at).total_seconds() / _DAY_S
        for h in horizons:
            if age >= h and since <= h:
                per_horizon[c.key][h] += o.profit_minor
    for k, sums in per_horizon.items():
        cohorts[k].profit_minor = dict(sums)
    if by == "campaign" and spend_minor is not None:
        for k, c in cohorts.items():
            c.spend_minor = spend_minor.get(k, 0) if k else None
    return sorted(cohorts.values(), key=lambda c: c.key)
