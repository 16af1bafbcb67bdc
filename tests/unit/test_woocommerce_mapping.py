"""WooCommerce REST v3 orders → canonical orders: ex-VAT lines, fees, COGS meta, refunds, attribution."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from poas.domain.order import Order, RestockType
from poas.sources import woocommerce
from poas.sources.payload import PayloadError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "woocommerce"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def revenue_and_vat(order: Order) -> tuple[Decimal, Decimal]:
    assert order.prices_include_vat is False
    net = sum((ln.unit_price * ln.quantity - ln.discount for ln in order.lines), Decimal(0))
    net += sum((s.price - s.discount for s in order.shipping_lines), Decimal(0))
    vat = sum((ln.tax for ln in order.lines), Decimal(0)) + sum(
        (s.tax for s in order.shipping_lines), Decimal(0)
    )
    return net, vat


def test_created_order_amounts_match_hand_computed_values() -> None:
    order = woocommerce.parse_order(load("order_created.json"), "kaffe")
    assert (order.order_id, order.name, order.currency) == ("4711", "4711", "NOK")
    assert order.created_at == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert order.processed_at == datetime(2026, 11, 21, 9, 31, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 11, 21, 9, 31, 2, tzinfo=UTC)
    grinder, filters, fee = order.lines
    assert (grinder.quantity, grinder.unit_price, grinder.discount, grinder.tax) == (
        1,
        Decimal("1600.00"),
        Decimal("160.00"),
        Decimal("360.00"),
    )
    assert (filters.quantity, filters.unit_price, filters.discount, filters.tax) == (
        2,
        Decimal("80"),
        Decimal("16.00"),
        Decimal("36.00"),
    )
    assert grinder.tax_rate == Decimal("0.25")
    assert (fee.line_id, fee.unit_price, fee.tax, fee.unit_cost) == (
        "fee:330",
        Decimal("39.20"),
        Decimal("9.80"),
        0,
    )
    (ship,) = order.shipping_lines
    assert (ship.price, ship.tax, ship.method, ship.title) == (
        Decimal("79.20"),
        Decimal("19.80"),
        "flat_rate",
        "Posten Hjem",
    )
    # 1440 + 144 + 39.20 + 79.20 net; 360 + 36 + 9.80 + 19.80 VAT; together the order total 2128.00
    assert revenue_and_vat(order) == (Decimal("1702.40"), Decimal("425.60"))
    assert order.financial_status == "paid"
    assert order.gateway == "vipps"
    assert order.refunds == ()


def test_cost_of_goods_meta_keys() -> None:
    data = load("order_created.json")
    order = woocommerce.parse_order(data, "kaffe")
    assert order.lines[0].unit_cost == Decimal("700.00")  # _wc_cog_item_cost
    assert order.lines[1].unit_cost == Decimal("25.00")  # _yith_cog_item_cost
    data["line_items"][1]["meta_data"] = [{"id": 1, "key": "_alg_wc_cog_item_cost", "value": "26.50"}]
    assert woocommerce.parse_order(data, "kaffe").lines[1].unit_cost == Decimal("26.50")
    data["line_items"][1]["meta_data"] = []
    data["line_items"][1]["cogs_value"] = "51.00"  # core COGS is the line total
    assert woocommerce.parse_order(data, "kaffe").lines[1].unit_cost == Decimal("25.50")
    del data["line_items"][1]["cogs_value"]
    assert woocommerce.parse_order(data, "kaffe").lines[1].unit_cost is None


def test_attribution_meta_and_contact_data() -> None:
    order = woocommerce.parse_order(load("order_created.json"), "kaffe")
    a = order.attribution
    assert (a.utm_source, a.utm_medium, a.utm_campaign, a.utm_content) == (
        "facebook",
        "paid_social",
        "120210000000000011",
        "120210000000000013",
    )
    assert a.fbclid == "IwAR3WooKvern"
    assert a.landing_url is not None and a.landing_url.startswith("https://kaffebutikk.example/produkt/")
    assert a.referrer == "https://l.facebook.com/"
    assert a.client_ip == "84.213.1.2"
    c = order.customer
    assert (c.email, c.phone, c.city, c.zip, c.country, c.external_id) == (
        "ola.nordmann@example.com",
        "+4798765432",
        "Bergen",
        "5003",
        "NO",
        "88",
    )
    assert order.consent.marketing is None and order.consent.ads_tracking is None


@pytest.mark.parametrize(("value", "said"), [("granted", True), ("denied", False), ("yes", True), (0, False)])
def test_ads_consent_comes_from_the_order_meta_key(value: object, said: bool) -> None:
    data = load("order_created.json")
    data["meta_data"].append({"id": 9001, "key": "_consent_ads", "value": value})
    assert woocommerce.parse_order(data, "kaffe").consent.ads_tracking is said
    data["meta_data"][-1]["key"] = "_my_cmp_marketing"
    assert woocommerce.parse_order(data, "kaffe").consent.ads_tracking is None
    got = woocommerce.parse_order(data, "kaffe", consent_keys=["_my_cmp_marketing"]).consent
    assert got.ads_tracking is said and got.marketing is None


def test_partial_refund_with_line_items_and_restock() -> None:
    order = woocommerce.parse_order(load("order_updated_refunded.json"), "kaffe")
    (refund,) = order.refunds
    assert refund.refund_id == "4790"
    assert refund.processed_at == datetime(2026, 11, 25, 12, 4, 40, tzinfo=UTC)
    (line,) = refund.lines
    assert (line.line_id, line.quantity, line.restock_type) == ("301", 1, RestockType.RETURN)
    assert (line.amount, line.tax) == (Decimal("1440.00"), Decimal("360.00"))
    assert (refund.adjustment, refund.adjustment_tax) == (0, 0)
    assert order.financial_status == "partially_refunded"


def test_refund_with_only_a_total_becomes_an_adjustment_split_at_the_order_tax_ratio() -> None:
    data = load("order_created.json")
    data["refunds"] = [{"id": 4791, "reason": "", "total": "-100.00"}]
    (refund,) = woocommerce.parse_order(data, "kaffe").refunds
    assert refund.lines == ()
    # the order's tax ratio is 425.60 / 1702.40 = 25 %: 100 = 80 + 20
    assert (refund.adjustment, refund.adjustment_tax) == (Decimal("80.00"), Decimal("20.00"))
    assert refund.processed_at == datetime(2026, 11, 21, 9, 31, 2, tzinfo=UTC)  # falls back to date_modified


def test_negative_fee_is_spread_as_a_discount() -> None:
    data = load("order_created.json")
    data["fee_lines"] = [{"id": 331, "name": "Rabatt", "total": "-158.40", "total_tax": "-39.60"}]
    order = woocommerce.parse_order(data, "kaffe")
    assert len(order.lines) == 2
    net, vat = revenue_and_vat(order)
    assert (net, vat) == (Decimal("1504.80"), Decimal("376.20"))  # 1663.20 - 158.40; 415.80 - 39.60


def test_status_mapping_and_cancellation() -> None:
    data = load("order_created.json")
    data.update(status="cancelled", date_paid_gmt=None)
    order = woocommerce.parse_order(data, "kaffe")
    assert order.financial_status == "voided"  # cancelled before payment: nothing was captured
    assert order.cancelled_at == datetime(2026, 11, 21, 9, 31, 2, tzinfo=UTC)
    assert order.cancelled and not order.payment_captured


def test_a_paid_order_cancelled_without_a_refund_keeps_its_payment() -> None:
    data = load("order_created.json")  # date_paid_gmt 2026-11-21T09:31:00
    data["status"] = "cancelled"
    order = woocommerce.parse_order(data, "kaffe")
    assert order.financial_status == "paid"
    assert order.cancelled_at == datetime(2026, 11, 21, 9, 31, 2, tzinfo=UTC)
    assert order.cancelled and order.payment_captured
    data["status"] = "on-hold"
    assert woocommerce.parse_order(data, "kaffe").financial_status == "pending"


def test_purchase_trigger() -> None:
    order = woocommerce.parse_order(load("order_created.json"), "kaffe")
    assert woocommerce.purchase_trigger("order.updated", order, "paid") is True
    data = load("order_created.json")
    data.update(status="pending", date_paid_gmt=None)
    pending = woocommerce.parse_order(data, "kaffe")
    assert woocommerce.purchase_trigger("order.created", pending, "paid") is False
    assert woocommerce.purchase_trigger("order.created", pending, "create") is True


def test_ping_is_recognised() -> None:
    assert woocommerce.is_ping(b"webhook_id=12")
    assert not woocommerce.is_ping(b"webhook_id=12&x=1")
    assert not woocommerce.is_ping(b'{"id": 1}')


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("id"), "id"),
        (lambda d: d.update(date_created_gmt="21/11/2026"), "date_created_gmt"),
        (lambda d: d["line_items"][0].update(total="abc"), "line_items[0].total"),
        (lambda d: d["line_items"][0].update(quantity=-1), "line_items[0].quantity"),
        (lambda d: d["shipping_lines"][0].pop("total"), "shipping_lines[0].total"),
        (
            lambda d: d.update(refunds=[{"id": 1, "total": "-1", "line_items": [{"total": "-1"}]}]),
            "refunds[0]",
        ),
        (lambda d: d.update(meta_data={"a": 1}), "meta_data"),
        (lambda d: d.update(currency=""), "currency"),
    ],
)
def test_bad_payloads_name_the_field(mutate: Any, field: str) -> None:
    data = load("order_created.json")
    mutate(data)
    with pytest.raises(PayloadError) as info:
        woocommerce.parse_order(data, "kaffe")
    assert field in str(info.value)


def test_scrub_drops_contact_data() -> None:
    clean = woocommerce.scrub(load("order_created.json"))
    text = json.dumps(clean)
    for secret in ("ola.nordmann", "98765432", "Kirkegata", "84.213.1.2"):
        assert secret not in text
    order = woocommerce.parse_order(clean, "kaffe")
    assert order.shipping_country == "NO"
    assert revenue_and_vat(order) == (Decimal("1702.40"), Decimal("425.60"))


def test_a_completed_order_without_date_paid_counts_as_paid_when_completed() -> None:
    """Cash on delivery / bank transfer: WooCommerce's is_paid() holds for completed orders whatever
    date_paid says, and maybe_set_date_paid() dates a completed order without one (docs/formats.md)."""
    data = load("order_created.json")
    data.update(payment_method="cod", date_paid=None, date_paid_gmt=None, status="processing")
    processing = woocommerce.parse_order(data, "kaffe")
    assert processing.processed_at is None
    assert woocommerce.purchase_trigger("order.updated", processing, "paid") is False  # not paid yet
    data.update(status="completed", date_completed_gmt="2026-11-22T15:00:00")
    completed = woocommerce.parse_order(data, "kaffe")
    assert completed.processed_at == datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    assert woocommerce.purchase_trigger("order.updated", completed, "paid") is True
    data.update(date_completed_gmt=None)  # no completion date either: the last change dates it
    assert woocommerce.parse_order(data, "kaffe").processed_at == datetime(2026, 11, 21, 9, 31, 2, tzinfo=UTC)
    data.update(date_paid_gmt="2026-11-21T09:31:00")  # a real payment date always wins
    assert woocommerce.parse_order(data, "kaffe").processed_at == datetime(2026, 11, 21, 9, 31, tzinfo=UTC)
