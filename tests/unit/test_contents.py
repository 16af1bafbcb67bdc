"""Purchase `contents`: prices after line and order discounts, on the value's basis, adding up to the
value less shipping (Shopify's published REST order example and a Norwegian VAT-inclusive order)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poas.domain.capi_events import build_purchase
from poas.domain.capi_validation import validate_batch
from poas.domain.contents import items
from poas.domain.costs import CostBook
from poas.domain.fx import FxRate, FxTable
from poas.domain.order import Customer, Order, OrderLine, ShippingLine
from poas.domain.pii import hash_user_data
from poas.domain.profit import ProfitPolicy, ProfitResult, compute_profit
from poas.domain.rules import CostRules
from poas.settings import EventSettings, ShopConfig
from poas.sources import shopify

D = Decimal
FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
BASES = ("total", "subtotal", "revenue_ex_vat")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def price(o: Order, currency: str | None = None, fx: FxTable | None = None) -> ProfitResult:
    policy = ProfitPolicy(default_margin=D("0.5"))
    return compute_profit(
        o, costs=CostBook([]), rules=CostRules(currency="NOK"), policy=policy, fx=fx, shop_currency=currency
    )


def purchase(o: Order, p: ProfitResult, basis: str) -> dict[str, Any]:
    shop = ShopConfig(
        id=o.shop_id, domain="shop.example.com", currency=p.currency, events=EventSettings(value_basis=basis)
    )
    ud = hash_user_data(o.customer, o.attribution, "US", event_time=o.created_at).user_data
    return build_purchase(o, ud, p, shop, o.created_at + timedelta(minutes=1))


def summed(cd: dict[str, Any]) -> Decimal:
    return sum((D(str(c["item_price"])) * c["quantity"] for c in cd["contents"]), D(0))


def test_the_shopify_doc_example_items_add_up_to_the_value() -> None:
    doc = fixture("order_doc_example.json")
    o = shopify.parse_order(doc, "us-shop")
    assert [ln.discount for ln in o.lines] == [D("3.34"), D("3.33"), D("3.33")]  # TENOFF, across
    p = price(o)
    cd = purchase(o, p, "total")["custom_data"]
    assert cd["value"] == float(doc["total_price"]) == 598.94
    # 199.00 − its share of the 10.00 discount + 3.98 sales tax; shipping is free
    assert cd["contents"] == [
        {"id": "39072856", "quantity": 1, "item_price": 199.64},
        {"id": "49148385", "quantity": 1, "item_price": 199.65},
        {"id": "457924702", "quantity": 1, "item_price": 199.65},
    ]
    assert summed(cd) == D(doc["total_price"])  # was 608.94: the discount was left out
    assert cd["num_items"] == 3
    sub = purchase(o, p, "subtotal")["custom_data"]
    assert summed(sub) == D(str(sub["value"])) == D("598.94")  # tax comes on top in the US
    ex = purchase(o, p, "revenue_ex_vat")["custom_data"]
    assert [c["item_price"] for c in ex["contents"]] == [195.66, 195.67, 195.67]
    assert summed(ex) == D(str(ex["value"])) == D(doc["subtotal_price"])  # 587.00, no tax, no shipping
    now = int((o.created_at + timedelta(minutes=2)).timestamp())
    assert validate_batch([purchase(o, p, b) for b in BASES], now) == []


def test_a_norwegian_vat_inclusive_order_with_a_percentage_discount() -> None:
    doc = fixture("order_create.json")
    doc["customer"]["email_marketing_consent"]["state"] = "not_subscribed"
    doc["buyer_accepts_marketing"] = False
    o = shopify.parse_order(doc, "no-shop")
    p = price(o)
    total = purchase(o, p, "total")["custom_data"]
    assert total["value"] == 2124.0
    # VINTER10: 2 × 1000.00 − 200.00 and 250.00 − 25.00, MVA inside; shipping 99.00 is no item
    assert [(c["quantity"], c["item_price"]) for c in total["contents"]] == [(2, 900.0), (1, 225.0)]
    assert summed(total) == D("2124.00") - D("99.00")
    ex = purchase(o, p, "revenue_ex_vat")["custom_data"]
    assert [(c["quantity"], c["item_price"]) for c in ex["contents"]] == [(2, 720.0), (1, 180.0)]
    assert summed(ex) == p.revenue_ex_vat.amount - p.shipping_revenue.amount  # 1620.00
    sub = purchase(o, p, "subtotal")["custom_data"]
    assert summed(sub) == D(str(sub["value"])) == D(doc["subtotal_price"])  # 2025.00


def nordic(*lines: OrderLine, **kw: Any) -> Order:
    base = Order(
        shop_id="no-shop",
        order_id="9001",
        created_at=datetime(2026, 5, 4, 12, tzinfo=UTC),
        currency="NOK",
        prices_include_vat=True,
        lines=lines,
        shipping_lines=(ShippingLine(D("79.00"), tax=D("15.80")),),
        customer=Customer(email="kunde@example.no", country="NO"),
    )
    return replace(base, **kw)


def test_a_remainder_below_one_ore_is_split_over_the_units() -> None:
    # 3 × 399.00 − 100.00 = 1097.00 kr: no price in øre times 3 makes it, so one unit at 365.66
    # and two at 365.67, the same id twice
    o = nordic(OrderLine("L1", 3, D("399.00"), sku="LUE", discount=D("100.00"), tax=D("219.40")))
    p = price(o)
    for basis in ("total", "subtotal"):
        got = [(i.id, i.quantity, i.item_price) for i in items(o, p, basis, D(1))]
        assert got == [("LUE", 1, D("365.66")), ("LUE", 2, D("365.67"))]
    cd = purchase(o, p, "total")["custom_data"]
    assert cd["num_items"] == 3
    assert summed(cd) == D(str(cd["value"])) - D("79.00")


def test_gift_cards_are_no_items_but_stay_in_the_value() -> None:
    o = nordic(
        OrderLine("L1", 1, D("500.00"), sku="GENSER", tax=D("100.00")),
        OrderLine("G", 1, D("200.00"), sku="GAVEKORT", gift_card=True),
    )
    p = price(o)
    cd = purchase(o, p, "total")["custom_data"]
    assert cd["contents"] == [{"id": "GENSER", "quantity": 1, "item_price": 500.0}]
    assert D(str(cd["value"])) == D("779.00")  # 500 + gift card 200 + shipping 79


def test_order_currency_converted_items_still_add_up() -> None:
    fx = FxTable([FxRate("EUR", "NOK", D("11.7713"), datetime(2026, 5, 4).date())], use_ecb=False)
    o = nordic(
        OrderLine("L1", 3, D("33.33"), sku="A", discount=D("1.11"), tax=D("19.78")),
        OrderLine("L2", 7, D("9.99"), sku="B", tax=D("13.99")),
        currency="EUR",
    )
    p = price(o, "NOK", fx)
    sub = purchase(o, p, "subtotal")["custom_data"]
    assert sub["currency"] == "NOK"
    assert summed(sub) == D(str(sub["value"]))  # exact, although 11.7713 × each price is not
    total = purchase(o, p, "total")["custom_data"]
    shipping = D("79.00") * D("11.7713")  # 929.93: the breakdown rounds its ex-VAT part and VAT apart
    assert abs(summed(total) - (D(str(total["value"])) - shipping)) <= D("0.01")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 9),
            st.integers(1, 500_000),
            st.integers(0, 100),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
    st.sampled_from(BASES),
)
def test_items_add_up_to_the_value_less_shipping(
    spec: list[tuple[int, int, int, bool]], inclusive: bool, basis: str
) -> None:
    lines = []
    for n, (qty, cents, pct, gift) in enumerate(spec):
        unit = D(cents).scaleb(-2)
        discount = (unit * qty * pct / 100).quantize(D("0.01"))
        gross = unit * qty - discount
        tax = (gross * D("0.2") if inclusive else gross * D("0.25")).quantize(D("0.01"))
        lines.append(
            OrderLine(
                f"L{n}", qty, unit, sku=f"S{n}", discount=discount, tax=D(0) if gift else tax, gift_card=gift
            )
        )
    o = nordic(*lines, prices_include_vat=inclusive)
    p = price(o)
    cd = purchase(o, p, basis)["custom_data"]
    gifts = sum(
        (
            ln.unit_price * ln.quantity - ln.discount + (0 if inclusive else ln.tax)
            for ln in lines
            if ln.gift_card
        ),
        D(0),
    )
    shipping = {"total": D("79.00") if inclusive else D("94.80"), "subtotal": D(0)}.get(
        basis, p.shipping_revenue.amount
    )
    assert summed(cd) == D(str(cd["value"])) - shipping - (0 if basis == "revenue_ex_vat" else gifts)
    assert cd["num_items"] == sum(ln.quantity for ln in lines if not ln.gift_card)
    assert all(c["item_price"] >= 0 for c in cd["contents"])


@pytest.mark.parametrize("basis", ["profit"])
def test_the_profit_basis_carries_the_price_paid(basis: str) -> None:
    o = shopify.parse_order(fixture("order_doc_example.json"), "us-shop")
    p = price(o)
    assert (
        purchase(o, p, basis)["custom_data"]["contents"] == purchase(o, p, "total")["custom_data"]["contents"]
    )
