"""One canonical mapping: the same order as a JSON API body and as a canonical JSONL line gives an equal
Order, and the same bad order is refused by both with the same field and message."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poas.domain.order import Order
from poas.services.intake import parse_delivery
from poas.settings import ShopConfig
from poas.sources import canonical_json
from poas.sources.canonical import ImportDefaults, Parsed, RowError, parse_jsonl_record
from poas.sources.payload import PayloadError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
SHOP = ShopConfig(id="s1")
FILE = ImportDefaults("s1")


def docs_example() -> dict[str, Any]:
    """The full JSONL example of docs/formats.md (wrapped there for reading)."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Orders as JSONL", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None
    doc: dict[str, Any] = json.loads(block.group(1))
    return doc


def from_jsonl(doc: Any) -> Parsed | RowError:
    got = parse_jsonl_record("orders.jsonl", 7, json.dumps(doc).encode(), FILE)
    assert got is not None
    return got


def from_api(doc: Any) -> Order:
    return canonical_json.parse_order(json.loads(json.dumps(doc)), "s1", default_prices_include_vat=True)


def test_the_docs_example_gives_one_order_through_the_file_and_the_api() -> None:
    doc = docs_example()
    parsed = from_jsonl(doc)
    assert isinstance(parsed, Parsed) and parsed.line == 7
    api = from_api(doc)
    assert parsed.value.source == "import" and api.source == "api"  # each reader's documented default
    assert replace(api, source="import") == parsed.value
    # what the example says, read the same by both
    order = parsed.value
    assert order.created_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert order.lines[0].unit_price == Decimal("499.00") and order.lines[0].tax_rate == Decimal("0.25")
    assert order.refunds[0].note == "size" and order.refunds[0].lines[0].restock_type == "return"
    assert order.consent.marketing is True and order.consent.ads_tracking is None
    assert order.customer.email == "kari@example.com" and order.shipping_country == "NO"


@pytest.mark.parametrize(
    ("value", "said"), [(True, True), ("denied", False), ("granted", True), ("no", False)]
)
def test_consent_ads_tracking_reads_booleans_and_banner_words(value: object, said: bool) -> None:
    doc = {**docs_example(), "consent": {"marketing": False, "ads_tracking": value}}
    parsed = from_jsonl(doc)
    assert isinstance(parsed, Parsed) and parsed.value.consent.ads_tracking is said
    assert from_api(doc).consent.ads_tracking is said
    bad = from_jsonl({**doc, "consent": {"ads_tracking": "perhaps"}})
    assert isinstance(bad, RowError) and "consent.ads_tracking" in str(bad)


def test_a_source_in_the_record_is_kept_by_both() -> None:
    doc = {**docs_example(), "source": "pos"}
    parsed = from_jsonl(doc)
    assert isinstance(parsed, Parsed)
    assert from_api(doc) == parsed.value and parsed.value.source == "pos"


def test_the_api_route_reads_the_body_like_a_file_line() -> None:
    """Through intake's own JSON decoding and the shop's defaults, as POST /api/v1/orders does."""
    doc = docs_example()
    del doc["prices_include_vat"]  # the shop's VAT basis fills in
    shop = SHOP.model_copy(update={"prices_include_vat": False})
    body = json.dumps(doc).encode()
    delivered = parse_delivery("api", "orders", body, shop, received_at=datetime(2026, 3, 10, tzinfo=UTC))
    parsed = parse_jsonl_record("f", 1, body, ImportDefaults("s1", False, source="api"))
    assert isinstance(parsed, Parsed) and delivered.order == parsed.value
    assert parsed.value.prices_include_vat is False


def test_json_numbers_with_a_fraction_are_exact_in_both() -> None:
    doc = docs_example()
    doc["lines"][0].update(unit_price=499.1, discount=0.1, tax=99, tax_rate=0.25, quantity=2.0)
    parsed = from_jsonl(doc)
    assert isinstance(parsed, Parsed)
    line = from_api(doc).lines[0]
    assert line == parsed.value.lines[0]
    assert (line.unit_price, line.discount, line.tax, line.quantity) == (
        Decimal("499.1"),
        Decimal("0.1"),
        Decimal(99),
        2,
    )


def _outcome(doc: dict[str, Any]) -> tuple[str, Any, Any]:
    """What the file and the API make of `doc`: ("order", file's, api's) or ("error", file's, api's)."""
    jsonl = from_jsonl(doc)
    try:
        api: Order | PayloadError = from_api(doc)
    except PayloadError as exc:
        api = exc
    if isinstance(jsonl, Parsed) and isinstance(api, Order):
        return "order", jsonl.value, replace(api, source="import")
    if isinstance(jsonl, RowError) and isinstance(api, PayloadError):
        field = (jsonl.field or "").removeprefix("order.")  # a file names the record "order"
        return "error", (field, jsonl.message), (api.field, api.message)
    return "differ", jsonl, api


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"currency": "XYZ"}, "currency", "unknown currency 'XYZ'"),
        ({"lines": []}, "lines", "an order needs at least one line"),
        ({"qty": 1}, "qty", "is not a known field"),
        ({"": None}, '""', "is not a known field"),  # an empty key is named, never an empty path
        ({"created_at": "2026-03-01T12:00:00"}, "created_at", "has no timezone offset"),
        ({"created_at": "0001-01-01T00:30:00+01:00"}, "created_at", "is out of range"),
        ({"shipping_country": "Norway"}, "shipping_country", "is longer than 2 characters"),
        ({"gateway": "v" * 101}, "gateway", "is longer than 100 characters"),
        ({"test": "maybe"}, "test", "'maybe' is not true/false"),
        ({"actual_payment_fee": "1e15"}, "actual_payment_fee", "is out of range"),
        ({"attribution": {"utm_source": "x" * 401}}, "attribution.utm_source", "longer than 400"),
    ],
)
def test_a_bad_order_is_refused_by_both_with_the_same_field_and_message(
    change: dict[str, Any], field: str, message: str
) -> None:
    kind, in_file, in_api = _outcome({**docs_example(), **change})
    assert kind == "error" and in_file == in_api
    assert in_file[0] == field and message in in_file[1]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"quantity": 1}, "lines[0].unit_price", "is required"),
        ({"quantity": -1, "unit_price": "1"}, "lines[0].quantity", "-1 is negative"),
        ({"quantity": 10**10, "unit_price": "1"}, "lines[0].quantity", "is out of range"),
        ({"quantity": 1, "unit_price": "1.005"}, "lines[0].unit_price", "more decimals than NOK"),
        ({"quantity": 1, "unit_price": "1", "discount": "-1"}, "lines[0].discount", "is negative"),
        ({"quantity": 1, "unit_price": "1", "tax_rate": "25"}, "lines[0].tax_rate", "fraction in [0, 1)"),
        ({"quantity": 1, "unit_price": "1", "sku": 1.5}, "lines[0].sku", "must be a string, not a number"),
        ({"qty": 1, "unit_price": "1"}, "lines[0].qty", "is not a known field"),
        ({"quantity": 1, "unit_price": "123456789012345678901234567890.001"}, "lines[0].unit_price", "range"),
    ],
)
def test_a_bad_line_is_refused_by_both_with_the_same_field_and_message(
    line: dict[str, Any], field: str, message: str
) -> None:
    doc = {**docs_example(), "refunds": [], "lines": [line]}
    kind, in_file, in_api = _outcome(doc)
    assert kind == "error" and in_file == in_api
    assert in_file[0] == field and message in in_file[1]


def test_refunds_inside_an_order_follow_the_same_rules_in_both() -> None:
    doc = docs_example()
    refund = doc["refunds"][0]
    twice = {**doc, "refunds": [refund, refund]}
    assert _outcome(twice)[1:] == (("refunds[1].refund_id", "'r1' appears twice"),) * 2
    zero = copy.deepcopy(doc)
    zero["refunds"][0]["lines"][0]["quantity"] = 0
    assert _outcome(zero)[1][0] == "refunds[0].lines[0].quantity"
    stranger = copy.deepcopy(doc)
    stranger["refunds"][0]["lines"][0]["line_id"] = "9"
    kind, in_file, in_api = _outcome(stranger)
    assert kind == "error" and in_file == in_api == (
        "refunds[0].lines[0].line_id",
        "'9' is not a line of this order",
    )
    unnamed = copy.deepcopy(doc)
    del unnamed["refunds"][0]["refund_id"]
    kind, in_file, in_api = _outcome(unnamed)
    assert kind == "order" and in_file == in_api and in_file.refunds[0].refund_id == "1"  # its position


# ---- any order, valid or not: the two readers agree ------------------------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "1.5", "-2", "1e3", "NaN", "yes", "NO", "return", "2026-03-01T12:00:00Z"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def _mutated_orders(draw: st.DrawFn) -> dict[str, Any]:
    """The docs example with a few values inside it replaced, removed or added."""
    doc = docs_example()
    for _ in range(draw(st.integers(0, 3))):
        node: Any = doc
        for _depth in range(draw(st.integers(0, 4))):
            children = list(node.values()) if isinstance(node, dict) else node
            inner = [c for c in children if isinstance(c, dict | list) and c]
            if not inner:
                break
            node = draw(st.sampled_from(inner))
        if isinstance(node, dict):
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            key = draw(st.sampled_from(sorted(node))) if action != "add" else draw(st.text(max_size=8))
            if action == "delete":
                node.pop(key, None)
            else:
                node[key] = draw(_values)
        elif node:
            node[draw(st.integers(0, len(node) - 1))] = draw(_values)
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_mutated_orders())
def test_file_and_api_agree_on_every_order(doc: dict[str, Any]) -> None:
    kind, in_file, in_api = _outcome(doc)
    assert kind != "differ", (in_file, in_api)
    assert in_file == in_api
