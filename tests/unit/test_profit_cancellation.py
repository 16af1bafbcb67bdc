"""Cancelled and voided orders: only the costs really incurred are realized (the refund, when there is
one, carries revenue and goods)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from poas.domain.costs import CostBook, CostRow
from poas.domain.money import Money
from poas.domain.order import Order, OrderLine, Refund, RefundLine, RestockType, ShippingLine
from poas.domain.profit import ProfitPolicy, ProfitResult, compute_profit
from poas.domain.rules import load_rules_toml

D = Decimal
PLACED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RULES = load_rules_toml(
    """
currency = "NOK"

[[payment_fees]]
id = "vipps"
gateway = "vipps"
percent = 2.5
fixed = 1

[[shipping]]
id = "bring"
cost = 72

[[handling]]
id = "pack"
per = "order"
cost = 15

[returns]
rate = 0.1
handling_cost = 45
"""
)
COSTS = CostBook([CostRow.of("JACKET", "300.00", "NOK", datetime(2025, 1, 1, tzinfo=UTC))])


def nok(x: str) -> Money:
    return Money(D(x), "NOK")


def order(**kw: object) -> Order:
    base = Order(
        shop_id="no-shop",
        order_id="7001",
        created_at=PLACED,
        currency="NOK",
        prices_include_vat=True,
        gateway="vipps",
        shipping_country="NO",
        financial_status="paid",
        lines=(
            OrderLine("L1", 2, D("1000.00"), sku="JACKET", discount=D("200.00"), tax=D("360.00"), grams=900),
        ),
        shipping_lines=(ShippingLine(D("99.00"), method="bring", tax=D("19.80")),),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def price(o: Order) -> ProfitResult:
    return compute_profit(o, costs=COSTS, rules=RULES, policy=ProfitPolicy())


def test_an_open_order_is_not_touched() -> None:
    r = price(order())
    # 1800 − 360 VAT = 1440 + shipping 79.20 = 1519.20; cogs 600; fee 1899 × 2.5 % + 1 = 48.48
    assert r.revenue_ex_vat == nok("1519.20")
    assert r.gross_profit == nok("783.72")  # 1519.20 − 600 − 72 − 48.48 − 15
    assert r.cancellation == nok("0.00")
    assert r.realized_profit == r.gross_profit
    assert r.to_dict()["components"]["cancellation"]["basis"] == "not cancelled"


def test_a_voided_authorization_realizes_nothing_and_costs_nothing() -> None:
    # Shopify: an authorized payment voided (orders/cancelled, financial_status "voided")
    r = price(order(financial_status="voided", cancelled_at=PLACED + timedelta(hours=2)))
    assert r.gross_profit == nok("783.72")  # what the purchase looked like: unchanged
    assert r.expected_profit == price(order()).expected_profit
    assert r.cancellation == r.gross_profit  # revenue, goods, shipping, packing and the fee all undone
    assert r.realized_profit == nok("0.00")
    src = r.to_dict()["components"]["cancellation"]
    assert src["basis"] == "order cancelled, no refund"
    assert src["not_realized_revenue_ex_vat"] == "1519.20"
    assert src["not_realized_cogs"] == "-600.00"
    assert src["not_realized_payment_fee"] == "-48.48"
    assert any("cancelled (voided)" in n for n in r.notes)


def test_voided_without_cancelled_at_counts_as_cancelled() -> None:
    r = price(order(financial_status="voided"))
    assert r.realized_profit == nok("0.00")
    assert r.to_dict()["components"]["cancellation"]["basis"] == "order voided, no refund"


def test_a_cancelled_paid_order_without_a_refund_yet_keeps_only_the_fee() -> None:
    r = price(order(cancelled_at=PLACED + timedelta(days=1)))  # still "paid": the money was captured
    assert r.realized_profit == nok("-48.48")
    assert "not_realized_payment_fee" not in r.to_dict()["components"]["cancellation"]


def test_a_recorded_gateway_fee_is_kept_even_on_a_void() -> None:
    r = price(order(financial_status="voided", actual_payment_fee=D("3.00")))
    assert r.payment_fee == nok("3.00")
    assert r.realized_profit == nok("-3.00")


def test_a_cancelled_and_refunded_order_lets_the_refund_carry_revenue_and_goods() -> None:
    refund = Refund(
        "r1",
        PLACED + timedelta(days=1),
        lines=(RefundLine("L1", 2, RestockType.CANCEL, amount=D("1800.00"), tax=D("360.00")),),
        shipping=D("99.00"),
        shipping_tax=D("19.80"),
    )
    r = price(order(cancelled_at=PLACED + timedelta(days=1), financial_status="refunded", refunds=(refund,)))
    assert r.refunded_revenue_ex_vat == nok("1519.20")
    assert r.recovered_cogs == nok("600.00")
    # never shipped (restock type cancel): shipping and packing were not incurred; the fee stays
    assert r.cancellation == nok("-87.00")
    assert r.realized_profit == nok("-48.48")


def test_goods_that_came_back_had_been_shipped() -> None:
    refund = Refund("r1", PLACED + timedelta(days=9), lines=(RefundLine("L1", 2, RestockType.RETURN),))
    r = price(order(cancelled_at=PLACED + timedelta(days=9), financial_status="refunded", refunds=(refund,)))
    assert r.cancellation == nok("0.00")
    # every cost stays and the returned line costs its handling (45 per line); the shipping charged
    # (79.20 ex VAT) was not refunded: 783.72 − 1440.00 + 600.00 − 45.00
    assert r.realized_profit == nok("-101.28")


def test_woocommerce_cancelled_maps_to_a_realized_zero() -> None:
    # WooCommerce "cancelled": financial_status voided, cancelled_at = date_modified (sources/woocommerce)
    o = order(prices_include_vat=False, financial_status="voided", cancelled_at=PLACED + timedelta(hours=5))
    line = replace(o.lines[0], unit_price=D("800.00"), discount=D("160.00"), tax=D("360.00"))
    o = replace(o, lines=(line,))
    r = price(o)
    assert r.revenue_ex_vat > nok("0")
    assert r.realized_profit == nok("0.00")
