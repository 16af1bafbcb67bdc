"""The CAPI event builder: Purchase, the profit event, AppendValue and the Graph-ready shape (consent:
test_consent.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from facebook_business.adobjects.serverside.content import Content
from facebook_business.adobjects.serverside.custom_data import CustomData

from poas.domain.capi_events import (
    EventNotBuilt,
    build_append_value,
    build_order_events,
    build_profit_event,
    build_purchase,
    event_id_for,
    json_amount,
)
from poas.domain.capi_validation import validate_batch
from poas.domain.costs import CostBook, CostRow
from poas.domain.money import Money
from poas.domain.order import Attribution, Customer, Order, OrderLine, ShippingLine
from poas.domain.pii import hash_user_data
from poas.domain.profit import ProfitPolicy, ProfitResult, compute_profit
from poas.domain.rules import CostRules
from poas.settings import EventSettings, ShopConfig

D = Decimal
PLACED = datetime(2026, 11, 20, 12, 0, 5, tzinfo=UTC)
NOW = PLACED + timedelta(minutes=3)


def order(**kw: Any) -> Order:
    base = Order(
        shop_id="no-shop",
        order_id="5501",
        name="#1042",
        created_at=PLACED,
        currency="NOK",
        lines=(
            OrderLine("L1", 2, D("1250.00"), variant_id="V-SWEATER", tax=D("500.00")),
            OrderLine("L2", 1, D("200.00"), variant_id="GIFT", gift_card=True),
        ),
        shipping_lines=(ShippingLine(D("99.00"), tax=D("19.80")),),
        customer=Customer(email="kari@example.no", phone="912 34 567", country="NO"),
        attribution=Attribution(
            landing_url="/products/sweater?fbclid=IwAbC", user_agent="Mozilla/5.0", client_ip="203.0.113.9"
        ),
    )
    return replace(base, **kw)


def shop(**events: Any) -> ShopConfig:
    return ShopConfig(id="no-shop", domain="shop.example.no", currency="NOK", events=EventSettings(**events))


def profit_of(o: Order) -> ProfitResult:
    costs = CostBook([CostRow.of("V-SWEATER", "400.00", "NOK", datetime(2025, 1, 1, tzinfo=UTC))])
    return compute_profit(o, costs=costs, rules=CostRules(currency="NOK"), policy=ProfitPolicy())


def user_data(o: Order) -> dict[str, Any]:
    return hash_user_data(o.customer, o.attribution, "NO", event_time=o.created_at).user_data


def test_purchase_event_shape_and_values() -> None:
    o = order()
    p = profit_of(o)
    e = build_purchase(o, user_data(o), p, shop(), NOW)
    assert e["event_name"] == "Purchase"
    assert e["event_time"] == int(PLACED.timestamp())
    assert e["event_id"] == "5501"
    assert e["action_source"] == "website"
    assert e["event_source_url"] == "https://shop.example.no/products/sweater?fbclid=IwAbC"
    assert e["data_processing_options"] == []
    assert e["user_data"]["fbc"].endswith(".IwAbC")
    cd = e["custom_data"]
    assert cd["value"] == 2799.0 == float(p.total_paid.amount)  # 2×1250 + gift card 200 + shipping 99
    assert cd["currency"] == "NOK"
    assert cd["net_revenue"] == float(p.expected_profit.amount) and cd["net_revenue"] > 0
    assert cd["order_id"] == "5501"
    assert cd["contents"] == [{"id": "V-SWEATER", "quantity": 2, "item_price": 1250.0}]
    assert cd["content_type"] == "product" and cd["num_items"] == 2
    json.dumps(e)  # Graph-ready: plain JSON types only


def test_custom_data_matches_the_sdk_field_names() -> None:
    o = order()
    cd = build_purchase(o, user_data(o), profit_of(o), shop(), NOW)["custom_data"]
    sdk = CustomData(
        value=cd["value"],
        currency=cd["currency"],
        net_revenue=cd["net_revenue"],
        order_id=cd["order_id"],
        contents=[Content(product_id="V-SWEATER", quantity=2, item_price=1250.0)],
        content_type="product",
        num_items=2,
    ).normalize()
    assert {**cd, "currency": cd["currency"].lower()} == sdk


def test_built_events_pass_the_sandbox_rules() -> None:
    o = order()
    p = profit_of(o)
    s = shop(profit_event_name="ProfitPurchase")
    events = build_order_events(o, user_data(o), p, s, NOW)
    assert [e["event_name"] for e in events] == ["Purchase", "ProfitPurchase"]
    later = NOW + timedelta(days=2)
    av = build_append_value(events[0], Money(D("350.456"), "NOK"), s, later)
    assert validate_batch([*events, av], int(later.timestamp())) == []


@pytest.mark.parametrize(
    ("basis", "expected"),
    [("total", "2799.00"), ("subtotal", "2700.00"), ("revenue_ex_vat", None), ("profit", None)],
)
def test_value_basis(basis: str, expected: str | None) -> None:
    o = order()
    p = profit_of(o)
    value = build_purchase(o, user_data(o), p, shop(value_basis=basis), NOW)["custom_data"]["value"]
    if basis == "revenue_ex_vat":
        expected = str(p.revenue_ex_vat.amount)
    if basis == "profit":
        expected = str(p.expected_profit.amount)
    assert value == float(D(str(expected)))


def test_negative_profit_zero_by_default_or_sent() -> None:
    o = order(lines=(OrderLine("L1", 1, D("100.00"), variant_id="V-SWEATER", tax=D("20.00")),))
    p = profit_of(o)
    assert p.expected_profit.amount < 0
    assert build_purchase(o, user_data(o), p, shop(), NOW)["custom_data"]["net_revenue"] == 0
    sent = build_purchase(o, user_data(o), p, shop(negative_profit="send"), NOW)["custom_data"]
    assert sent["net_revenue"] == float(p.expected_profit.amount)


def test_event_id_template() -> None:
    o = order()
    assert event_id_for("{shop_id}:{order_name}", o) == "no-shop:#1042"
    e = build_purchase(o, user_data(o), profit_of(o), shop(event_id_template="{order_name}"), NOW)
    assert e["event_id"] == "#1042"
    with pytest.raises(ValueError, match="order_number"):
        event_id_for("{order_number}", o)


def test_ldu() -> None:
    o = order()
    e = build_purchase(o, user_data(o), profit_of(o), shop(ldu=True, ldu_country=1, ldu_state=1000), NOW)
    assert (e["data_processing_options"], e["data_processing_options_country"]) == (["LDU"], 1)
    assert e["data_processing_options_state"] == 1000


def test_no_usable_customer_data_is_not_built() -> None:
    o = order(customer=Customer(city="Oslo"), attribution=Attribution(user_agent="Mozilla/5.0"))
    with pytest.raises(EventNotBuilt) as exc:
        build_purchase(o, user_data(o), profit_of(o), shop(), NOW)
    assert "no usable customer data" in exc.value.reason


def test_website_without_user_agent_falls_back_to_other() -> None:
    o = order(attribution=Attribution())
    e = build_purchase(o, user_data(o), profit_of(o), shop(), NOW)
    assert e["action_source"] == "other"
    assert validate_batch([e], int(NOW.timestamp())) == []


def test_future_order_time_is_clamped_to_now() -> None:
    o = order(created_at=NOW + timedelta(minutes=10))
    assert build_purchase(o, user_data(o), profit_of(o), shop(), NOW)["event_time"] == int(NOW.timestamp())


def test_append_value() -> None:
    o = order()
    purchase = build_purchase(o, user_data(o), profit_of(o), shop(), NOW)
    later = NOW + timedelta(days=3)
    av = build_append_value(purchase, Money(D("-12.5"), "NOK"), shop(negative_profit="send"), later)
    assert av["event_name"] == "AppendValue"
    assert av["event_time"] == int(later.timestamp())
    assert av["original_event_data"] == {
        "event_name": "Purchase",
        "event_time": purchase["event_time"],
        "order_id": "5501",
        "event_id": "5501",
    }
    assert av["custom_data"] == {"currency": "NOK", "net_revenue": -12.5}
    assert av["user_data"] == purchase["user_data"]
    assert av["event_id"] != purchase["event_id"]
    with pytest.raises(EventNotBuilt):
        build_append_value(purchase, Money(D("1"), "EUR"), shop(), later)


def test_profit_event_only_when_configured() -> None:
    o = order()
    assert build_profit_event(o, user_data(o), profit_of(o), shop(), NOW) is None
    s = shop(profit_event_name="ProfitPurchase", send_purchase=False)
    events = build_order_events(o, user_data(o), profit_of(o), s, NOW)
    assert [e["event_name"] for e in events] == ["ProfitPurchase"]
    assert events[0]["custom_data"]["value"] == float(profit_of(o).expected_profit.amount)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("12.345", "NOK", 12.34), ("12.355", "NOK", 12.36), ("1999.5", "JPY", 2000), ("0.0005", "KWD", 0.0)],
)
def test_json_amount_rounds_half_even_at_the_minor_unit(amount: str, currency: str, expected: float) -> None:
    got = json_amount(D(amount), currency)
    assert got == expected and type(got) is type(expected)
