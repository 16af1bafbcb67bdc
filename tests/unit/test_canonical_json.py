"""The JSON API's bodies: where they differ from a file line on purpose (errors by JSON path, a refund
posted on its own, what intake keeps for later rebuilds)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from test_canonical_order import docs_example, from_jsonl

from poas.domain.order import RestockType
from poas.sources import canonical_json
from poas.sources.canonical import RowError
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
    assert rebuilt.attribution.fbclid == order.attribution.fbclid
    assert (rebuilt.lines, rebuilt.refunds) == (order.lines, order.refunds)
