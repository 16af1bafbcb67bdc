"""Return-rate model: each SKU's rate shrunk toward its category's, the category's toward the shop's.

Empirical Bayes with beta priors (beta-binomial): a level with `n` units sold and `r` returned gets
the posterior mean (r + k·p_parent) / (n + k), where p_parent is the parent level's rate and `k` the
prior strength in pseudo-units. Thin data therefore stays close to the parent; plenty of data
follows the level's own history. A SKU's own rate counts only after `min_sample` units sold.
Configured rates (from the cost rules) always win over learned ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from poas.domain.order import Order, RestockType

ZERO = Decimal(0)
ONE = Decimal(1)

# Units that count as "returned": refunded after shipping. A cancel is refunded before shipping
# and is not a return.
RETURNED_TYPES = frozenset({RestockType.RETURN, RestockType.LEGACY_RESTOCK, RestockType.NO_RESTOCK})


@dataclass(slots=True)
class UnitCounts:
    sold: int = 0
    returned: int = 0

    def add(self, sold: int, returned: int) -> None:
        self.sold += sold
        self.returned += returned


@dataclass(frozen=True, slots=True)
class RateEstimate:
    rate: Decimal
    source: str  # "configured", "sku", "category", "shop" or "prior"
    sold: int = 0
    returned: int = 0


@dataclass(frozen=True, slots=True)
class ReturnRateModel:
    shop: RateEstimate
    categories: Mapping[str, RateEstimate] = field(default_factory=dict)
    skus: Mapping[str, RateEstimate] = field(default_factory=dict)
    sku_category: Mapping[str, str] = field(default_factory=dict)

    def rate(self, sku: str | None, category: str | None) -> RateEstimate:
        """The rate for a line: SKU (configured or learned), else its category, else the shop's."""
        if sku is not None and sku in self.skus:
            return self.skus[sku]
        cat = category or (self.sku_category.get(sku) if sku else None)
        if cat is not None and cat in self.categories:
            return self.categories[cat]
        return self.shop


def shrink(returned: int, sold: int, parent: Decimal, strength: Decimal) -> Decimal:
    """Posterior mean of a rate under a Beta(k·p, k·(1−p)) prior: (r + k·p) / (n + k)."""
    if sold < 0 or returned < 0 or returned > sold:
        raise ValueError(f"counts must satisfy 0 <= returned <= sold, got {returned}/{sold}")
    if strength <= 0:
        return Decimal(returned) / Decimal(sold) if sold else parent
    return (Decimal(returned) + strength * parent) / (Decimal(sold) + strength)


@dataclass(frozen=True, slots=True)
class FitSettings:
    prior_strength: Decimal = Decimal(30)  # pseudo-units the parent's rate is worth
    min_sample: int = 30  # units sold before a SKU's own history counts
    shop_prior: Decimal = Decimal("0.10")  # used only for a shop without history
    shop_prior_strength: Decimal = Decimal(10)


def fit(
    counts: Mapping[str, UnitCounts],
    sku_category: Mapping[str, str | None],
    *,
    settings: FitSettings = FitSettings(),
    configured_sku: Mapping[str, Decimal] | None = None,
    configured_category: Mapping[str, Decimal] | None = None,
) -> ReturnRateModel:
    """Fit the three-level model from units sold and returned per SKU."""
    configured_sku = configured_sku or {}
    configured_category = configured_category or {}
    total = UnitCounts()
    by_cat: dict[str, UnitCounts] = {}
    for sku, c in counts.items():
        if c.returned > c.sold:
            raise ValueError(f"SKU {sku}: {c.returned} units returned but only {c.sold} sold")
        total.add(c.sold, c.returned)
        cat = sku_category.get(sku)
        if cat is not None:
            by_cat.setdefault(cat, UnitCounts()).add(c.sold, c.returned)
    shop_rate = shrink(total.returned, total.sold, settings.shop_prior, settings.shop_prior_strength)
    shop = RateEstimate(shop_rate, "shop" if total.sold else "prior", total.sold, total.returned)

    categories: dict[str, RateEstimate] = {}
    for cat, c in by_cat.items():
        categories[cat] = RateEstimate(
            shrink(c.returned, c.sold, shop_rate, settings.prior_strength), "category", c.sold, c.returned
        )
    for cat, rate in configured_category.items():
        categories[cat] = RateEstimate(_check_rate(rate, f"category {cat}"), "configured")

    skus: dict[str, RateEstimate] = {}
    for sku, c in counts.items():
        cat = sku_category.get(sku)
        parent = categories[cat].rate if cat is not None and cat in categories else shop_rate
        if c.sold >= settings.min_sample:
            rate = shrink(c.returned, c.sold, parent, settings.prior_strength)
            skus[sku] = RateEstimate(rate, "sku", c.sold, c.returned)
    for sku, rate in configured_sku.items():
        skus[sku] = RateEstimate(_check_rate(rate, f"SKU {sku}"), "configured")
    cats = {k: v for k, v in sku_category.items() if v is not None}
    return ReturnRateModel(shop=shop, categories=categories, skus=skus, sku_category=cats)


def _check_rate(rate: Decimal, where: str) -> Decimal:
    if not ZERO <= rate <= ONE:
        raise ValueError(f"return rate for {where} must be between 0 and 1, got {rate}")
    return rate


def count_units(
    orders: Iterable[Order], *, now: datetime, lookback: timedelta, return_window: timedelta
) -> tuple[dict[str, UnitCounts], dict[str, str | None]]:
    """Units sold and returned per SKU from orders whose return window has closed.

    Only orders placed in [now − lookback, now − return_window] count: younger orders may still
    be returned and would bias the rate down.
    """
    start, end = now - lookback, now - return_window
    counts: dict[str, UnitCounts] = {}
    categories: dict[str, str | None] = {}
    for order in orders:
        if order.test or order.cancelled_at is not None or not start <= order.placed_at <= end:
            continue
        returned_by_line: dict[str, int] = {}
        for refund in order.refunds:
            for rl in refund.lines:
                if rl.restock_type in RETURNED_TYPES:
                    returned_by_line[rl.line_id] = returned_by_line.get(rl.line_id, 0) + rl.quantity
        for line in order.lines:
            key = line.sku or line.variant_id
            if key is None or line.gift_card or line.quantity <= 0:
                continue
            returned = min(returned_by_line.get(line.line_id, 0), line.quantity)
            counts.setdefault(key, UnitCounts()).add(line.quantity, returned)
            if line.category is not None or key not in categories:
                categories[key] = line.category
    return counts, categories
