"""Shopify webhook payloads → canonical orders: amounts, VAT, refunds, attribution, consent, triggers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from poas.domain.order import Consent, Order, RestockType
from poas.sources import shopify
from poas.sources.payload import PayloadError, sign_hmac_sha256_base64, verify_hmac_sha256_base64

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def revenue_and_vat(order: Order) -> tuple[Decimal, Decimal]:
    """Net revenue and VAT straight from the canonical lines (the definition in ARCHITECTURE.md)."""
    net = vat = Decimal(0)
    for ln in order.lines:
        gross = ln.unit_price * ln.quantity - ln.discount
        net += gross - ln.tax if order.prices_include_vat else gross
        vat += ln.tax
    for s in order.shipping_lines:
        gross = s.price - s.discount
        net += gross - s.tax if order.prices_include_vat else gross
        vat += s.tax
    return net, vat


def test_paid_order_amounts_match_hand_computed_values() -> None:
    order = shopify.parse_order(load("order_paid.json"), "nordlys")
    assert order.order_id == "5830120800456"
    assert order.name == "#1042"
    assert order.currency == "NOK"
    assert order.prices_include_vat is True
    assert order.created_at == datetime(2026, 11, 20, 13, 3, 11, tzinfo=UTC)
    sweater, hat = order.lines
    assert (sweater.quantity, sweater.unit_price, sweater.discount, sweater.tax) == (
        2,
        Decimal("1000.00"),
        Decimal("200.00"),
        Decimal("360.00"),
    )
    assert sweater.tax_rate == Decimal("0.25")
    assert sweater.variant_id == "44021137555656"
    assert sweater.cost_key == "44021137555656"
    assert sweater.title == "Ullgenser - M / Grå"
    assert (hat.unit_price, hat.discount, hat.tax) == (Decimal("250.00"), Decimal("25.00"), Decimal("45.00"))
    (ship,) = order.shipping_lines
    assert (ship.price, ship.discount, ship.tax, ship.method) == (
        Decimal("99.00"),
        Decimal(0),
        Decimal("19.80"),
        "Bring Hjemlevering",
    )
    # 1800 - 360 + 225 - 45 + 99 - 19.80
    assert revenue_and_vat(order) == (Decimal("1699.20"), Decimal("424.80"))
    assert order.gateway == "klarna"
    assert order.financial_status == "paid"
    assert order.shipping_country == "NO"
    assert order.refunds == ()


def test_attribution_consent_and_contact_data() -> None:
    order = shopify.parse_order(load("order_paid.json"), "nordlys")
    a = order.attribution
    assert a.utm_source == "facebook"
    assert a.utm_campaign == "120210000000000001"
    assert a.utm_term == "120210000000000002"
    assert a.fbclid == "IwAR2xYz_AbC"
    assert a.fbc == "fb.1.1763643791000.IwAR2xYz_AbC"
    assert a.fbp == "fb.1.1763643700000.1234567890"
    assert a.client_ip == "84.212.10.20"
    assert a.user_agent is not None and a.user_agent.startswith("Mozilla/5.0 (iPhone")
    assert a.referrer == "https://l.facebook.com/"
    assert order.consent.marketing is True
    c = order.customer
    assert (c.email, c.phone, c.first_name, c.city, c.zip, c.country, c.external_id) == (
        "kari.nordmann@example.com",
        "+4791234567",
        "Kari",
        "Oslo",
        "0155",
        "NO",
        "7012345678901",
    )


def test_refund_with_restock() -> None:
    refund = shopify.parse_refund(load("refund_create.json"))
    assert refund.refund_id == "1020304050"
    assert refund.processed_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    (line,) = refund.lines
    assert (line.line_id, line.quantity, line.restock_type) == ("13620304560328", 1, RestockType.RETURN)
    assert (line.amount, line.tax) == (Decimal("900.00"), Decimal("180.00"))
    assert line.amount - line.tax == Decimal("720.00")  # refunded revenue without VAT
    assert refund.note == ""  # staff notes can hold personal data
    assert shopify.refund_order_id(load("refund_create.json")) == "5830120800456"


def test_updated_order_carries_its_refunds_and_stored_refunds_merge() -> None:
    order = shopify.parse_order(load("order_updated_refunded.json"), "nordlys")
    assert [r.refund_id for r in order.refunds] == ["1020304050"]
    assert order.financial_status == "partially_refunded"
    extra = [load("refund_create.json")]
    merged = shopify.parse_order(load("order_paid.json"), "nordlys", extra_refunds=extra)
    assert merged.refunds == order.refunds


def test_shipping_refund_adjustment_and_discrepancy() -> None:
    refund = load("refund_create.json")
    refund["order_adjustments"] = [
        {"id": 1, "amount": "-99.00", "tax_amount": "-19.80", "kind": "shipping_refund"},
        {"id": 2, "amount": "-50.00", "tax_amount": "-10.00", "kind": "refund_discrepancy", "reason": "x"},
    ]
    r = shopify.parse_refund(refund)
    assert (r.shipping, r.shipping_tax) == (Decimal("99.00"), Decimal("19.80"))
    assert (r.adjustment, r.adjustment_tax) == (Decimal("50.00"), Decimal("10.00"))


def test_plain_fields_without_sets_and_tax_excluded_shops() -> None:
    data = load("order_paid.json")
    data["taxes_included"] = False
    for li in data["line_items"]:
        del li["price_set"]
        li["price"] = "800.00"
    order = shopify.parse_order(data, "us")
    assert order.prices_include_vat is False
    assert order.lines[0].unit_price == Decimal("800.00")


def test_test_orders_are_flagged_and_removed_shipping_lines_skipped() -> None:
    data = load("order_paid.json")
    data["test"] = True
    data["shipping_lines"][0]["is_removed"] = True
    order = shopify.parse_order(data, "nordlys")
    assert order.test is True
    assert order.shipping_lines == ()


def test_consent_falls_back_to_buyer_accepts_marketing() -> None:
    data = load("order_paid.json")
    data["customer"] = None
    data["buyer_accepts_marketing"] = False
    assert shopify.parse_order(data, "s").consent.marketing is False
    data["customer"] = {"id": 1, "email_marketing_consent": {"state": "unsubscribed"}}
    assert shopify.parse_order(data, "s").consent.marketing is False


def test_ads_consent_comes_from_a_note_attribute_never_from_the_newsletter_box() -> None:
    data = load("order_paid.json")
    data["customer"]["email_marketing_consent"] = {"state": "subscribed"}
    assert shopify.parse_order(data, "s").consent == Consent(marketing=True, ads_tracking=None)
    data["customer"]["email_marketing_consent"] = {"state": "not_subscribed"}
    data["note_attributes"].append({"name": "_consent_ads", "value": "granted"})
    assert shopify.parse_order(data, "s").consent == Consent(marketing=False, ads_tracking=True)
    data["note_attributes"][-1] = {"name": "cookie_banner", "value": "no"}
    assert shopify.parse_order(data, "s").consent.ads_tracking is None  # not one of the default keys
    got = shopify.parse_order(data, "s", consent_keys=["Cookie_Banner"]).consent
    assert got == Consent(marketing=False, ads_tracking=False)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("id"), "id"),
        (lambda d: d.update(created_at="yesterday"), "created_at"),
        (lambda d: d.update(created_at="2026-11-20T14:03:11"), "created_at"),
        (lambda d: d.update(created_at="0001-01-01T00:30:00+01:00"), "created_at"),  # no UTC time
        (lambda d: d["line_items"][1].update(quantity="two"), "line_items[1].quantity"),
        (lambda d: d["line_items"][0]["price_set"]["shop_money"].update(amount="12,5"), "line_items[0]"),
        (lambda d: d["line_items"][0]["tax_lines"][0].update(price_set=None, price=1e400), "price"),
        (lambda d: d.update(line_items="nope"), "line_items"),
        (lambda d: d.pop("line_items"), "line_items"),
        (lambda d: d.update(currency=None), "currency"),
        (lambda d: d["refunds"].append({"id": 5}), "refunds[0].created_at"),
        (lambda d: d.update(payment_gateway_names=1), "payment_gateway_names"),  # was a TypeError
    ],
)
def test_bad_payloads_name_the_field(mutate: Any, field: str) -> None:
    data = load("order_paid.json")
    mutate(data)
    with pytest.raises(PayloadError) as info:
        shopify.parse_order(data, "s")
    assert field in str(info.value)
    assert "kari" not in str(info.value).lower()


def test_purchase_trigger_follows_the_shop_setting() -> None:
    assert shopify.purchase_trigger("orders/paid", "paid", "paid") is True
    assert shopify.purchase_trigger("orders/create", "pending", "paid") is False
    assert shopify.purchase_trigger("orders/create", "paid", "paid") is True
    assert shopify.purchase_trigger("orders/create", "pending", "create") is True
    assert shopify.purchase_trigger("orders/paid", "paid", "create") is False
    assert shopify.purchase_trigger("orders/updated", "paid", "paid") is False


def test_scrub_drops_contact_data_but_keeps_what_the_order_needs() -> None:
    data = load("order_paid.json")
    clean = shopify.scrub(data)
    text = json.dumps(clean)
    for secret in ("kari", "Nordmann", "Storgata", "91234567", "84.212.10.20"):
        assert secret not in text
    order = shopify.parse_order(clean, "s")
    assert order.shipping_country == "NO"
    assert order.consent.marketing is True
    assert revenue_and_vat(order) == (Decimal("1699.20"), Decimal("424.80"))


def test_hmac_accepts_either_rotation_secret() -> None:
    body = json.dumps(load("order_paid.json")).encode()
    sig = sign_hmac_sha256_base64(body, "new-secret")
    assert verify_hmac_sha256_base64(body, sig, ["old-secret", "new-secret"])
    assert not verify_hmac_sha256_base64(body, sig, ["old-secret"])
    assert not verify_hmac_sha256_base64(body + b" ", sig, ["new-secret"])
    assert not verify_hmac_sha256_base64(body, None, ["new-secret"])
    assert not verify_hmac_sha256_base64(body, "ünïcode", ["new-secret"])
