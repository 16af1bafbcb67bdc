"""Properties of compute_profit over generated orders: components add up, VAT is never revenue,
a full restocked refund leaves only the costs that are not refunded, currencies never mix."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poas.domain.costs import CostBook, CostRow
from poas.domain.fx import FxError
from poas.domain.money import ISO_CURRENCIES, CurrencyError, Money
from poas.domain.order import Order, OrderLine, Refund, RefundLine, RestockType, ShippingLine
from poas.domain.profit import ProfitPolicy, ProfitResult, compute_profit
from poas.domain.rules import load_rules_toml

D = Decimal
CENT = D("0.01")
T0 = datetime(2025, 1, 1, tzinfo=UTC)

RULES = load_rules_toml(
    """
currency = "NOK"
[[payment_fees]]
id = "vipps"
gateway = "vipps"
percent = 1.75
fixed = 1
[[payment_fees]]
id = "default"
percent = 2.9
fixed = 2.50
[zones]
domestic = ["NO"]
[[shipping]]
id = "domestic-light"
zone = "domestic"
max_grams = 2000
cost = 69
[[shipping]]
id = "any"
cost = 99.90
[[handling]]
id = "box"
per = "order"
cost = 12.5
[[handling]]
id = "line"
per = "line"
cost = 1.25
[[handling]]
id = "unit"
per = "unit"
cost = 3.33
[returns]
rate = 0.07
handling_cost = 45
restock_share = 0.9
[[returns.rules]]
category = "fashion"
rate = 0.31
handling_cost = 61.50
restock_share = 0.75
"""
)
COSTS = CostBook(
    [
        CostRow.of(f"SKU-{k}", D(k * 37 + 11) + D(day) / 100, "NOK", T0 + timedelta(days=day))
        for k in range(4)
        for day in (0, 40, 80)
    ]
)
POLICY = ProfitPolicy(default_margin=D("0.35"), category_margins={"fashion": D("0.55")})

cents = st.integers(0, 300_000).map(lambda c: D(c) * CENT)
vat_rates = st.sampled_from([D(0), D("0.12"), D("0.15"), D("0.25")])


@st.composite
def orders(draw: st.DrawFn, incl: bool | None = None) -> Order:
    include = draw(st.booleans()) if incl is None else incl
    lines = []
    for i in range(draw(st.integers(1, 5))):
        qty, price = draw(st.integers(1, 6)), draw(cents)
        discount = D(draw(st.integers(0, int(price * qty * 100)))) * CENT
        gift = draw(st.integers(0, 9)) == 0
        rate = D(0) if gift else draw(vat_rates)
        net = price * qty - discount
        tax = (net * rate / (1 + rate) if include else net * rate).quantize(CENT)
        lines.append(
            OrderLine(
                line_id=f"L{i}",
                quantity=qty,
                unit_price=price,
                sku=f"SKU-{draw(st.integers(0, 5))}",  # SKU-4 and SKU-5 have no cost: fallback margins
                category=draw(st.sampled_from(["fashion", "home", None])),
                discount=discount,
                tax=tax if draw(st.booleans()) else D(0),
                tax_rate=rate,
                gift_card=gift,
                grams=draw(st.integers(0, 900)),
            )
        )
    shipping = ()
    if draw(st.booleans()):
        price = draw(cents)
        rate = draw(vat_rates)
        tax = (price * rate / (1 + rate) if include else price * rate).quantize(CENT)
        shipping = (ShippingLine(price, method="bring", tax=tax, tax_rate=rate),)
    return Order(
        shop_id="s",
        order_id=str(draw(st.integers(1, 10**6))),
        created_at=T0 + timedelta(days=draw(st.integers(0, 120)), minutes=draw(st.integers(0, 1440))),
        currency="NOK",
        lines=tuple(lines),
        prices_include_vat=include,
        shipping_lines=shipping,
        gateway=draw(st.sampled_from(["vipps", "Vipps", "klarna", None])),
        shipping_country=draw(st.sampled_from(["NO", "SE", None])),
        actual_payment_fee=draw(st.none() | cents.map(lambda c: c / 100)),
    )


def refunds_for(order: Order, draw: st.DrawFn) -> tuple[Refund, ...]:
    lines = tuple(
        RefundLine(ln.line_id, draw(st.integers(1, ln.quantity)), draw(st.sampled_from(list(RestockType))))
        for ln in order.lines
        if draw(st.booleans())
    )
    return (Refund("r1", order.created_at + timedelta(days=9), lines=lines, adjustment=draw(cents) / 10),)


def price(order: Order, policy: ProfitPolicy = POLICY) -> ProfitResult:
    return compute_profit(order, costs=COSTS, rules=RULES, policy=policy)


def total(items: list[Money]) -> Decimal:
    return sum((m.amount for m in items), D(0))


@settings(max_examples=300)
@given(orders(), st.data())
def test_components_add_up(order: Order, data: st.DataObject) -> None:
    order = replace(order, refunds=refunds_for(order, data.draw))
    r = price(order)
    assert r.gross_profit.amount == (
        r.revenue_ex_vat.amount
        - r.cogs.amount
        - r.shipping_cost.amount
        - r.payment_fee.amount
        - r.handling_cost.amount
    )
    assert r.expected_profit.amount == r.gross_profit.amount - r.expected_return_cost.amount
    assert r.realized_profit.amount == (
        r.gross_profit.amount
        - r.refunded_revenue_ex_vat.amount
        + r.recovered_cogs.amount
        - r.return_handling_cost.amount
        - r.cancellation.amount
    )
    assert r.revenue_ex_vat.amount == total([ln.revenue_ex_vat for ln in r.lines]) + r.shipping_revenue.amount
    assert r.cogs.amount == total([ln.cogs for ln in r.lines])
    assert r.expected_return_cost.amount == total([ln.expected_return_cost for ln in r.lines])
    # every component is rounded to the øre and the breakdown carries the same figures
    doc = json.loads(json.dumps(r.to_dict()))
    for name, entry in doc["components"].items():
        amount = getattr(r, name).amount
        assert amount == amount.quantize(CENT)
        assert D(entry["amount"]) == amount
    # no cost is silently zero: a line without a cost row used a flagged fallback margin
    for ln in r.lines:
        if not ln.gift_card and ln.key in ("SKU-4", "SKU-5"):
            assert ln.cost["source"] == "fallback"
    assert r.sendable


@settings(max_examples=300)
@given(orders())
def test_vat_is_never_revenue(order: Order) -> None:
    r = price(order)
    gift_paid = sum((ln.unit_price * ln.quantity - ln.discount for ln in order.lines if ln.gift_card), D(0))
    # what the customer paid splits into revenue, VAT and gift cards: VAT never lands in revenue
    assert r.revenue_ex_vat.amount + r.vat.amount == r.total_paid.amount - gift_paid
    no_vat = replace(
        order,
        lines=tuple(replace(ln, tax=D(0), tax_rate=D(0)) for ln in order.lines),
        shipping_lines=tuple(replace(s, tax=D(0), tax_rate=D(0)) for s in order.shipping_lines),
    )
    r0 = price(no_vat)
    if order.prices_include_vat:
        # the same prices with VAT inside earn exactly the VAT less revenue
        assert r.revenue_ex_vat.amount == r0.revenue_ex_vat.amount - r.vat.amount
    else:
        # VAT on top changes no revenue
        assert r.revenue_ex_vat == r0.revenue_ex_vat
        assert r.cogs == r0.cogs and r.expected_return_cost == r0.expected_return_cost


@settings(max_examples=300)
@given(orders(), st.data())
def test_full_restocked_refund_leaves_only_the_unrefundable_costs(order: Order, data: st.DataObject) -> None:
    first = price(order)
    lines = []
    for ln, lp in zip(order.lines, first.lines, strict=True):
        gross = ln.unit_price * ln.quantity - ln.discount
        how = data.draw(st.sampled_from(["pro-rata", "amount", "amount+tax"]))
        amount = None if how == "pro-rata" else gross
        tax = None
        if how == "amount+tax":
            tax = lp.vat.amount if order.prices_include_vat else D(0)
        lines.append(RefundLine(ln.line_id, ln.quantity, RestockType.RETURN, amount=amount, tax=tax))
    ship_gross = sum((s.price - s.discount for s in order.shipping_lines), D(0))
    ship_tax = sum((s.tax for s in order.shipping_lines), D(0)) if order.prices_include_vat else D(0)
    refund = Refund("full", order.created_at + timedelta(days=5), tuple(lines), ship_gross, ship_tax)
    r = price(replace(order, refunds=(refund,)))
    assert r.refunded_revenue_ex_vat == r.revenue_ex_vat
    assert r.recovered_cogs == r.cogs
    goods = [lp for lp in r.lines if not lp.gift_card]
    assert r.return_handling_cost.amount == total([lp.return_handling for lp in goods])
    assert r.realized_profit.amount == -(
        r.payment_fee.amount + r.shipping_cost.amount + r.handling_cost.amount + r.return_handling_cost.amount
    )


_others = sorted(ISO_CURRENCIES - {"NOK"})


@given(orders(), st.sampled_from(_others))
def test_a_cost_in_another_currency_needs_a_rate(order: Order, currency: str) -> None:
    goods = [ln for ln in order.lines if not ln.gift_card]
    if not goods:
        return
    book = CostBook([CostRow.of(ln.sku or "", "10", currency, T0) for ln in goods])
    with pytest.raises(FxError, match=currency):
        compute_profit(order, costs=book, rules=RULES, policy=POLICY)


@given(orders(), st.sampled_from(_others))
def test_results_never_mix_with_other_currencies(order: Order, currency: str) -> None:
    r = price(order)
    assert {getattr(r, name).currency for name in ("revenue_ex_vat", "cogs", "realized_profit")} == {"NOK"}
    with pytest.raises(CurrencyError):
        _ = r.gross_profit + Money.zero(currency)
