"""The JSON API's bodies: where they differ from a file line on purpose (errors by JSON path, a refund
posted on its own, what intake keeps for later rebuilds)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_canonical_order import _mutated_orders, docs_example, from_jsonl

from poas.domain.order import RestockType
from poas.sources import canonical_json
from poas.sources.canonical import RowError
from poas.sources.canonical_fields import MAX_PATH_CHARS, Adjustments
from poas.sources.payload import PayloadError

REFUND: dict[str, Any] = {
    "order_id": "1001",
    "shop_id": "s1",
    "refund_id": "R-1",
    "processed_at": "2026-03-05T10:00:00+01:00",
    "note": "size",
    "lines": [{"line_id": "1", "quantity": 1, "restock_type": "Return", "amount": 224.55, "tax": "44.91"}],
    "shipping": "0",
    "adjustment": "-10.00",
}


def _api_error(data: Any) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        canonical_json.parse_order(data, "s1")
    return caught.value


@pytest.mark.parametrize("body", [[docs_example()], "order", None, 7])
def test_a_body_that_is_not_an_object_is_a_body_error(body: Any) -> None:
    assert _api_error(body).field == "body"  # answered 400, like a body that is not JSON


def test_errors_name_the_json_path_where_a_file_names_file_line_and_field() -> None:
    doc = {**docs_example(), "qty": 2}
    in_file = from_jsonl(doc)
    assert isinstance(in_file, RowError)
    assert str(in_file) == "orders.jsonl:7: order.qty: is not a known field (order 1001)"
    assert str(_api_error(doc)) == "qty: is not a known field"
    deep = docs_example()
    deep["refunds"][0]["lines"][0]["amount"] = "224.555"
    assert (
        str(_api_error(deep)) == "refunds[0].lines[0].amount: 224.555 has more decimals than NOK allows (2)"
    )


def test_the_shop_named_in_a_body_must_be_the_shop_it_is_read_for() -> None:
    assert canonical_json.parse_order({**docs_example(), "shop_id": "s1"}, "s1").shop_id == "s1"
    err = _api_error({**docs_example(), "shop_id": 5})
    assert (err.field, err.message) == ("shop_id", "'5' differs from the shop 's1'")
    in_file = from_jsonl({**docs_example(), "shop_id": "s2"})
    assert isinstance(in_file, RowError) and in_file.message == "'s2' differs from the shop 's1'"


def test_a_refund_posted_alone() -> None:
    refund = canonical_json.parse_refund(json.loads(json.dumps(REFUND)))
    assert canonical_json.refund_order_id(REFUND) == "1001"
    assert (refund.refund_id, refund.note, refund.adjustment) == ("R-1", "size", Decimal("-10.00"))
    line = refund.lines[0]
    assert (line.restock_type, line.amount, line.tax) == (
        RestockType.RETURN,
        Decimal("224.55"),
        Decimal("44.91"),
    )
    # its order (and so its currency and lines) may not be known yet: decimals and line ids wait
    later = canonical_json.parse_refund(
        {**REFUND, "lines": [{**REFUND["lines"][0], "line_id": "x", "amount": "1.005"}]}
    )
    assert later.lines[0].amount == Decimal("1.005")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"refund_id": None}, "refund_id", "is required"),
        ({"order_id": ""}, "order_id", "is required"),
        ({"processed_at": "2026-03-05"}, "processed_at", "has no timezone offset"),
        ({"reason": "size"}, "reason", "is not a known field"),
        ({"shipping": "-1"}, "shipping", "-1 is negative"),
        ({"lines": [{"line_id": "1", "quantity": 0}]}, "lines[0].quantity", "0 is below 1"),
        (
            {"lines": [{"line_id": "1", "quantity": 1, "restock_type": "lost"}]},
            "lines[0].restock_type",
            "'lost'",
        ),
        ({"lines": [{"quantity": 1}]}, "lines[0].line_id", "is required"),
        ({"adjustment": "1e15"}, "adjustment", "is out of range"),
    ],
)
def test_a_bad_refund_names_its_field(change: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        canonical_json.parse_refund({**REFUND, **change})
    assert caught.value.field == field and message in caught.value.message


def test_what_intake_keeps_for_rebuilds_reads_back_as_the_order_without_contact_data() -> None:
    doc = docs_example()
    kept = json.loads(json.dumps(canonical_json.scrub(doc)))
    order, rebuilt = canonical_json.parse_order(doc, "s1"), canonical_json.parse_order(kept, "s1")
    assert rebuilt.customer.email is None and rebuilt.attribution.client_ip is None
    assert rebuilt.customer.country == order.customer.country  # the consent region stays
    assert rebuilt.attribution.fbclid == order.attribution.fbclid
    assert order.refunds[0].note == "size"  # free text: not kept
    assert (rebuilt.lines, rebuilt.refunds) == (
        order.lines,
        tuple(replace(r, note="") for r in order.refunds),
    )


# ---- stored bodies: re-read leniently ------------------------------------------------------------


def _old_style_body() -> dict[str, Any]:
    """A body 0.1.0's JSON API accepted and intake stored (scrubbed) that today's format refuses."""
    doc = canonical_json.scrub(docs_example())
    doc.update(qty=3, shop_id=5, name=1.5, shipping_country="NOR")
    doc["attribution"] |= {"msclkid": "x", "utm_source": "u" * 700}
    line = doc["lines"][0]
    line.update(colour="red", sku="S" * 300, title="T" * 800, discount="-5", unit_cost="40.005")
    line.update(tax_rate="25", grams=-5)
    refund = doc["refunds"][0]
    refund.update(note="n" * 3000, shipping="-1")
    refund["lines"] = [{**refund["lines"][0], "quantity": 0}, {"line_id": "9", "quantity": 1}]
    return json.loads(json.dumps(doc))


def test_a_stored_body_is_re_read_the_way_0_1_0_read_it_and_every_adjustment_is_noted() -> None:
    body = _old_style_body()
    assert _api_error(body).field == "qty"  # a new delivery of it is refused
    adjusted = Adjustments()
    order = canonical_json.parse_order(body, "s1", lenient=adjusted)
    line, refund = order.lines[0], order.refunds[0]
    assert (order.shop_id, order.name, order.shipping_country) == ("s1", "1.5", "NO")
    assert order.attribution.utm_source == "u" * 400 and order.attribution.fbclid == "AbC"
    assert (line.sku, line.title) == ("S" * 200, "T" * 500)
    assert (line.discount, line.unit_cost, line.tax_rate, line.grams) == (
        Decimal("-5"),
        Decimal("40.005"),
        Decimal("25"),
        -5,
    )
    assert (refund.note, refund.shipping) == ("n" * 2000, Decimal("-1"))
    assert [(rl.line_id, rl.quantity) for rl in refund.lines] == [("1", 0), ("9", 1)]
    assert adjusted.done == [
        ("qty", "ignored (not a known field)"),
        ("shop_id", "ignored (the body is read for the shop it was stored under)"),
        ("lines[0].colour", "ignored (not a known field)"),
        ("lines[0].sku", "cut to 200 characters"),
        ("lines[0].title", "cut to 500 characters"),
        ("lines[0].discount", "negative amount kept"),
        ("lines[0].tax_rate", "rate outside [0, 1) kept"),
        ("lines[0].grams", "kept below 0"),
        ("lines[0].unit_cost", "more decimals than NOK allows kept"),
        ("attribution.msclkid", "ignored (not a known field)"),
        ("name", "number read as text"),
        ("shipping_country", "cut to 2 characters"),
        ("attribution.utm_source", "cut to 400 characters"),
        ("refunds[0].lines[0].quantity", "kept below 1"),
        ("refunds[0].lines[1].line_id", "kept though not a line of this order"),
        ("refunds[0].shipping", "negative amount kept"),
        ("refunds[0].note", "cut to 2000 characters"),
    ]
    noted = " ".join(adjusted.lines())
    assert "SSS" not in noted and "uuu" not in noted and "1.5" not in noted  # paths, never values


def test_a_lenient_read_does_not_let_a_later_strict_read_pass() -> None:
    doc = {**docs_example(), "refunds": []}
    doc["lines"] = [{**doc["lines"][0], "unit_price": "499.005"}]
    assert canonical_json.parse_order(doc, "s1", lenient=Adjustments()).lines[0].unit_price == Decimal(
        "499.005"
    )
    assert "more decimals" in _api_error(doc).message  # the kept value was not remembered as accepted


@pytest.mark.parametrize(
    ("change", "field"),
    [  # what 0.1.0 refused too, or accepted but could never store (its ingest failed on it)
        ({"currency": "XYZ"}, "currency"),
        ({"lines": None}, "lines"),
        ({"order_id": "x" * 101}, "order_id"),
        ({"created_at": "2026-03-01T12:00:00"}, "created_at"),
        ({"actual_payment_fee": "1e15"}, "actual_payment_fee"),
        ({"lines": [{"line_id": "1", "quantity": 1, "unit_price": "1"}] * 2}, "lines"),
        ({"lines": [{"line_id": "1", "quantity": -1, "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"line_id": "x" * 101, "quantity": 1, "unit_price": "1"}]}, "lines[0].line_id"),
        ({"attribution": "facebook"}, "attribution"),
    ],
)
def test_what_stays_refused_when_re_read(change: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        canonical_json.parse_order({**docs_example(), "refunds": None, **change}, "s1", lenient=Adjustments())
    assert caught.value.field == field


def test_duplicate_refund_ids_stay_refused_when_re_read() -> None:
    doc = docs_example()
    doc["refunds"] = doc["refunds"] * 2
    with pytest.raises(PayloadError, match="appears twice"):
        canonical_json.parse_order(doc, "s1", lenient=Adjustments())


def test_an_empty_line_list_that_0_1_0_stored_is_kept() -> None:
    adjusted = Adjustments()
    order = canonical_json.parse_order({**docs_example(), "lines": [], "refunds": []}, "s1", lenient=adjusted)
    assert order.lines == () and adjusted.lines() == ["lines: order without lines kept"]


def test_a_refund_kept_alone_is_re_read_leniently() -> None:
    stored = {**REFUND, "reason_code": "x", "shop_id": {"a": 1}, "shipping": "-1"}
    stored["lines"] = [{**REFUND["lines"][0], "quantity": 0, "colour": "red"}]
    with pytest.raises(PayloadError):
        canonical_json.parse_refund(stored)
    adjusted = Adjustments()
    refund = canonical_json.parse_refund(stored, lenient=adjusted)
    assert (refund.refund_id, refund.shipping, refund.lines[0].quantity) == ("R-1", Decimal("-1"), 0)
    assert [path for path, _ in adjusted.done] == [
        "reason_code",
        "shop_id",
        "lines[0].colour",
        "lines[0].quantity",
        "shipping",
    ]


def test_a_long_unknown_key_is_noted_shortened() -> None:
    adjusted = Adjustments()
    canonical_json.parse_order({**docs_example(), "k" * 5000: 1}, "s1", lenient=adjusted)
    assert len(adjusted.done[0][0]) == MAX_PATH_CHARS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_mutated_orders())
def test_a_lenient_read_changes_nothing_the_strict_reader_accepts(doc: dict[str, Any]) -> None:
    """Only bodies the strict reader refuses are read differently: a new delivery read again from the
    inbox gives the same order, with nothing adjusted."""
    body = json.loads(json.dumps(doc))
    adjusted = Adjustments()
    try:
        strict = canonical_json.parse_order(body, "s1")
    except PayloadError as exc:
        try:
            canonical_json.parse_order(body, "s1", lenient=adjusted)
        except PayloadError:
            return
        assert adjusted, exc  # accepted only by adjusting something, and that was noted
        return
    assert canonical_json.parse_order(body, "s1", lenient=adjusted) == strict
    assert not adjusted
