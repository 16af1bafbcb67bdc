"""The stored (packed) form of a profit breakdown gives back exactly the breakdown, for any order."""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_profit_properties import T0, orders, price, refunds_for

from poas.domain.costs import CostBook, CostRow
from poas.domain.order import Order, OrderLine, ShippingLine
from poas.domain.profit import ProfitPolicy, ProfitResult, SharedSource, compute_profit
from poas.domain.rules import load_rules_toml
from poas.store.breakdown_pack import TEMPLATE_V1, VERSION_KEY, pack, pack_result, unpack
from poas.store.snapshots import snapshot_values

FIXED_TEXTS = (
    "qty × unit cost valid at the order time",
    "Σ lines p_return",
    "restock types return, cancel, legacy_restock",
    "return handling per returned line",
    "gross profit − refunded revenue",
    "VAT removed from prices",
)


def _key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return [(k, _key_order(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_key_order(v) for v in value]
    return value


def _stored(result: ProfitResult) -> dict[str, Any]:
    """What the snapshot row holds, read back as the JSON column reads it."""
    stored: dict[str, Any] = json.loads(snapshot_values(result).breakdown_json)
    return stored


def _check(result: ProfitResult) -> None:
    full = result.to_dict()
    packed = pack_result(result)
    assert packed == pack(full)  # the direct build is the generic packing
    back = unpack(_stored(result))
    assert back == full
    assert _key_order(back) == _key_order(json.loads(orjson.dumps(full)))  # the same order of keys


@settings(max_examples=150, deadline=None)
@given(orders(), st.data())
def test_any_breakdown_reads_back_as_computed(order: Order, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        order = replace(order, refunds=refunds_for(order, data.draw))
    if data.draw(st.integers(0, 4)) == 0:
        order = replace(order, cancelled_at=order.created_at + timedelta(hours=2), financial_status="voided")
    policy = data.draw(
        st.sampled_from(
            [
                ProfitPolicy(default_margin=Decimal("0.35")),
                ProfitPolicy(include_shipping_in_revenue=False, default_margin=Decimal("0.2")),
                ProfitPolicy(),  # no fallback: lines without cost are "missing"
            ]
        )
    )
    _check(price(order, policy))


def _plain_order(**changes: Any) -> Order:
    base = Order(
        shop_id="s",
        order_id="1001",
        created_at=T0 + timedelta(days=50),
        currency="NOK",
        lines=(
            OrderLine(
                line_id="L1", quantity=2, unit_price=Decimal("500.00"), sku="SKU-1",
                tax=Decimal("200.00"), tax_rate=Decimal("0.25"),
            ),
            OrderLine(
                line_id="L2", quantity=1, unit_price=Decimal("100.00"), sku="SKU-2",
                tax=Decimal("20.00"), tax_rate=Decimal("0.25"),
            ),
        ),
        prices_include_vat=True,
        shipping_lines=(
            ShippingLine(Decimal("99.00"), method="bring", tax=Decimal("19.80"), tax_rate=Decimal("0.25")),
        ),
        gateway="vipps",
        shipping_country="NO",
    )  # fmt: skip
    return replace(base, **changes)


def test_a_plain_order_stores_none_of_the_texts_every_order_repeats() -> None:
    result = price(_plain_order())
    stored = snapshot_values(result).breakdown_json
    assert stored.startswith('{"' + VERSION_KEY + '":1')
    for text in FIXED_TEXTS:
        assert text not in stored, text  # the template holds it (a changed text needs a new version)
        assert text in json.dumps(result.to_dict(), ensure_ascii=False)
    # what is left is this order's: amounts, the rules and cost rows that matched, its lines
    assert len(stored) < 0.7 * len(orjson.dumps(result.to_dict()))
    _check(result)


def test_other_currencies_vat_on_top_and_rules_that_match_are_kept() -> None:
    rules = load_rules_toml(
        'currency = "SEK"\n[[payment_fees]]\nid = "vipps"\ngateway = "vipps"\npercent = 1.75\nfixed = 1\n'
        '[[shipping]]\nid = "any"\ncost = 49\n[[handling]]\nid = "box"\nper = "order"\ncost = 12.5\n'
    )
    order = _plain_order(currency="SEK", prices_include_vat=False)
    costs = CostBook(
        [CostRow.of("SKU-1", Decimal("40"), "SEK", T0), CostRow.of("SKU-2", Decimal("9"), "SEK", T0)]
    )
    result = compute_profit(order, costs=costs, rules=rules, policy=ProfitPolicy(), shop_currency="SEK")
    stored = _stored(result)
    assert stored["currency"] == "SEK"
    assert stored["vat_treatment"] == {"prices_include_vat": False, "rule": "VAT on top, not revenue"}
    assert stored["components"]["shipping_cost"]["rule"] == "any"
    assert stored["components"]["handling_cost"]["rules"][0]["rule"] == "box"
    _check(result)


def test_a_breakdown_stored_whole_reads_as_it_is() -> None:
    full = price(_plain_order()).to_dict()
    legacy = json.loads(json.dumps(full))  # rows written before packing hold the whole breakdown
    assert unpack(legacy) == full
    assert unpack(None) is None and unpack("text") == "text"


def test_a_breakdown_with_a_key_of_the_packed_form_is_stored_whole() -> None:
    odd = {**price(_plain_order()).to_dict(), "~": ["order_id"]}
    assert pack(odd) is odd
    assert unpack(json.loads(json.dumps(pack(odd)))) == odd


def test_a_key_the_template_does_not_know_and_an_absent_key_survive() -> None:
    full = price(_plain_order()).to_dict()
    changed = {k: v for k, v in full.items() if k != "fx"}
    changed["components"] = {**full["components"], "new_component": {"amount": "1.00"}}
    del changed["components"]["cogs"]
    changed["lines"] = [
        {**full["lines"][0], "extra": 1},
        {k: v for k, v in full["lines"][1].items() if k != "vat"},
    ]
    packed = json.loads(json.dumps(pack(changed)))
    assert unpack(packed) == changed


def test_a_breakdown_packed_by_a_newer_poas_is_refused_with_its_version() -> None:
    with pytest.raises(ValueError, match="unknown packing version 99"):
        unpack({VERSION_KEY: 99, "order_id": "1"})


def test_the_template_reads_as_the_defaults_of_an_empty_breakdown() -> None:
    empty = unpack({VERSION_KEY: 1})
    assert empty["components"]["cancellation"] == {"amount": "0.00", "basis": "not cancelled"}
    assert empty["lines"] == [] and empty["notes"] == []
    empty["notes"].append("changed")  # a caller's change never reaches the template
    assert TEMPLATE_V1["notes"] == []


def test_a_result_with_shared_sources_pickles_copies_and_keeps_them_unchanged() -> None:
    result = price(_plain_order())
    shared = result.sources["cogs"]
    assert isinstance(shared, SharedSource)
    assert pickle.loads(pickle.dumps(result)) == result  # e.g. a worker process sending a result back
    assert copy.deepcopy(result) == result and copy.deepcopy(shared) is shared
    with pytest.raises(TypeError, match="read-only"):
        shared["basis"] = "changed"
    with pytest.raises(TypeError, match="read-only"):
        shared.update(basis="changed")
    assert price(_plain_order()).to_dict()["components"]["cogs"]["basis"].startswith("qty × unit cost")
