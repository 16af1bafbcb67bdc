"""On a simulated shop with known true return rates, the learned model's expected return cost over
10,000 orders lands within 5 % of the return cost the refunds really caused."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from poas.domain.costs import CostBook, CostRow
from poas.domain.order import Order, OrderLine, Refund, RefundLine, RestockType
from poas.domain.profit import ProfitPolicy, compute_profit
from poas.domain.returns import count_units, fit
from poas.domain.rules import load_rules_toml

D = Decimal
CATEGORY_RATE = {"fashion": 0.30, "home": 0.08, "beauty": 0.10, "electronics": 0.12}
RULES = load_rules_toml(
    """
currency = "NOK"
[returns]
rate = 0.05
handling_cost = 45
restock_share = 1
"""
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def _catalog(rng: random.Random) -> list[tuple[str, str, float, Decimal, Decimal]]:
    items = []
    for cat, rate in CATEGORY_RATE.items():
        for i in range(12):
            true = min(0.95, max(0.0, rate * rng.uniform(0.5, 1.5)))
            price = D(rng.randrange(99, 1999))
            cost = (price / D("1.25") * D(str(rng.uniform(0.3, 0.7)))).quantize(D("0.01"))
            items.append((f"{cat}-{i}", cat, true, price, cost))
    return items


def _orders(rng: random.Random, catalog: list, n: int, start: datetime) -> list[Order]:
    out = []
    for k in range(n):
        at = start + timedelta(minutes=k)
        lines, refund_lines = [], []
        for j in range(rng.choice((1, 1, 2, 3))):
            sku, cat, true, price, _ = rng.choice(catalog)
            qty = rng.choice((1, 1, 2))
            lid = f"{k}-{j}"
            gross = price * qty
            lines.append(
                OrderLine(lid, qty, price, sku=sku, category=cat, tax=(gross / 5).quantize(D("0.01")))
            )
            if rng.random() < true:  # the whole line comes back, as the expected-cost formula assumes
                refund_lines.append(RefundLine(lid, qty, RestockType.RETURN))
        refunds = (Refund(f"r{k}", at + timedelta(days=10), tuple(refund_lines)),) if refund_lines else ()
        out.append(Order("shop", str(k), at, "NOK", tuple(lines), refunds=refunds))
    return out


def test_expected_return_cost_within_5_percent_of_realized() -> None:
    rng = random.Random(20261128)
    catalog = _catalog(rng)
    book = CostBook(
        [CostRow.of(sku, cost, "NOK", START - timedelta(days=365)) for sku, _, _, _, cost in catalog]
    )
    history = _orders(rng, catalog, 20_000, START - timedelta(days=200))
    now = START
    counts, cats = count_units(
        history, now=now, lookback=timedelta(days=400), return_window=timedelta(days=30)
    )
    model = fit(counts, cats)

    policy = ProfitPolicy(missing_cost="block")
    expected = realized = D(0)
    for order in _orders(rng, catalog, 10_000, START):
        result = compute_profit(order, costs=book, rules=RULES, policy=policy, return_rates=model)
        expected += result.expected_return_cost.amount
        realized += result.gross_profit.amount - result.realized_profit.amount
    assert realized > 0
    error = abs(expected - realized) / realized
    print(f"expected {expected}, realized {realized}, error {error:.2%}")
    assert error < D("0.05"), f"expected {expected}, realized {realized}, error {error:.2%}"
    # The learned rates, not the 5 % shop default, did the work: with the default it is far off.
    naive = D(0)
    for order in _orders(random.Random(1), catalog, 2_000, START):
        naive_result = compute_profit(order, costs=book, rules=RULES, policy=policy)
        naive += naive_result.expected_return_cost.amount
    assert naive * 5 < expected  # 2,000 orders at the default rate vs 10,000 at learned rates
