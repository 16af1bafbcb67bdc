"""VAT worked out from a rate when the order carries no tax amount: a second, independent check beside
test_profit.py's one example. VAT-inclusive prices hold rate / (1 + rate) of VAT (25 % MVA is a fifth
of the price, 15 % food MVA 15/115), shipping the same way; VAT-exclusive prices carry rate × price on
top. Hand-computed Norwegian lines, and a property over prices and rates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from poas.domain.costs import CostBook, CostRow
from poas.domain.money import Money
from poas.domain.order import Order, OrderLine, ShippingLine
from poas.domain.profit import ProfitPolicy, compute_profit
from poas.domain.rules import load_rules_toml

D = Decimal
PLACED = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
RULES = load_rules_toml('currency = "NOK"\n')
COSTS = CostBook(
    [
        CostRow.of("KAFFE", "40.00", "NOK", datetime(2025, 1, 1, tzinfo=UTC)),
        CostRow.of("KOPP", "60.00", "NOK", datetime(2025, 1, 1, tzinfo=UTC)),
    ]
)


def nok(x: str) -> Money:
    return Money(D(x), "NOK")


def _order(
    lines: tuple[OrderLine, ...], shipping: tuple[ShippingLine, ...] = (), *, incl: bool = True
) -> Order:
    return Order(
        shop_id="nordlys",
        order_id="2001",
        created_at=PLACED,
        currency="NOK",
        prices_include_vat=incl,
        shipping_country="NO",
        lines=lines,
        shipping_lines=shipping,
    )


def test_inclusive_prices_with_rates_only_lose_their_vat_by_hand() -> None:
    order = _order(
        (
            OrderLine("L1", 2, D("115.00"), sku="KAFFE", tax_rate=D("0.15")),  # food: 15 % MVA
            OrderLine("L2", 1, D("249.00"), sku="KOPP", discount=D("24.00"), tax_rate=D("0.25")),
        ),
        (ShippingLine(D("99.00"), method="bring", tax_rate=D("0.25")),),
    )
    res = compute_profit(order, costs=COSTS, rules=RULES, policy=ProfitPolicy())
    lines = {ln.line_id: ln for ln in res.lines}
    # L1: 230.00 incl. 15 % → 230 × 15/115 = 30.00 VAT, 200.00 revenue
    assert lines["L1"].revenue_ex_vat == nok("200.00")
    assert lines["L1"].vat_source == "line rate 0.15"
    # L2: 249.00 − 24.00 = 225.00 incl. 25 % → 45.00 VAT, 180.00 revenue
    assert lines["L2"].revenue_ex_vat == nok("180.00")
    # shipping 99.00 incl. 25 % → 19.80 VAT, 79.20
    assert res.shipping_revenue == nok("79.20")
    assert res.vat == nok("94.80")  # 30.00 + 45.00 + 19.80
    assert res.revenue_ex_vat == nok("459.20")  # 200.00 + 180.00 + 79.20
    assert res.total_paid == nok("554.00")  # 230.00 + 225.00 + 99.00: VAT inside, not added


def test_the_shops_default_rate_stands_in_for_a_missing_one() -> None:
    order = _order((OrderLine("L1", 4, D("62.50"), sku="KOPP"),))  # no tax, no rate
    res = compute_profit(order, costs=COSTS, rules=RULES, policy=ProfitPolicy(default_vat_rate=D("0.25")))
    assert res.revenue_ex_vat == nok("200.00") and res.vat == nok("50.00")  # 250.00 incl. 25 %
    assert res.lines[0].vat_source == "shop default rate 0.25"


def test_exclusive_prices_carry_the_rate_on_top() -> None:
    order = _order((OrderLine("L1", 2, D("100.00"), sku="KOPP", tax_rate=D("0.25")),), incl=False)
    res = compute_profit(order, costs=COSTS, rules=RULES, policy=ProfitPolicy())
    assert res.revenue_ex_vat == nok("200.00") and res.vat == nok("50.00")
    assert res.total_paid == nok("250.00")


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=1, max_value=10_000_000),
    qty=st.integers(min_value=1, max_value=20),
    rate=st.sampled_from([D("0.06"), D("0.12"), D("0.15"), D("0.25"), D("0.20"), D("0.07")]),
)
def test_inclusive_price_splits_into_revenue_and_vat_at_the_rate(cents: int, qty: int, rate: Decimal) -> None:
    price = D(cents).scaleb(-2)
    order = _order((OrderLine("L1", qty, price, sku="KOPP", tax_rate=rate),))
    res = compute_profit(order, costs=COSTS, rules=RULES, policy=ProfitPolicy())
    gross = price * qty
    revenue, vat = res.revenue_ex_vat.amount, res.vat.amount
    assert revenue + vat == gross  # the VAT is inside the price: nothing added, nothing lost
    # VAT is `rate` of the revenue, to the øre the rounding allows
    assert abs(vat - revenue * rate) <= D("0.01") * (1 + rate)
