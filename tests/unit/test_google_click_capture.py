"""Google click ids (gclid / gbraid / wbraid) read from what the platforms send: Shopify's
`landing_site` and note attributes, WooCommerce's order attribution meta (`_wc_order_attribution_
session_entry` is the landing URL), and the canonical JSON's `attribution` object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from poas.sources import canonical_json, shopify, woocommerce
from poas.sources.payload import PayloadError

FIXTURES = Path(__file__).parents[1] / "fixtures"
GCLID = "Cj0KCQiA2KitBhCIARIsAPPMEhJ5_x-Yz0vTmAbC1dEfGhIjKlMnOpQrStUvWxYz_BwE"
GBRAID = "0AAAAAoRzXwXkBmJ4Z8b1F2TzR7Q"


def load(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / kind / name).read_text(encoding="utf-8"))
    return data


def _set_meta(data: dict[str, Any], key: str, value: str) -> None:
    for m in data["meta_data"]:
        if m["key"] == key:
            m["value"] = value
            return
    data["meta_data"].append({"id": 9999, "key": key, "value": value})


def test_shopify_gclid_from_landing_site() -> None:
    data = load("shopify", "order_paid.json")
    data["landing_site"] = f"/products/ullgenser?gclid={GCLID}&utm_source=google&utm_medium=cpc"
    a = shopify.parse_order(data, "nordlys").attribution
    assert (a.gclid, a.gbraid, a.wbraid) == (GCLID, None, None)
    assert a.utm_source == "google"


def test_shopify_note_attribute_wins_and_junk_is_passed_over() -> None:
    data = load("shopify", "order_paid.json")
    data["landing_site"] = "/products/ullgenser?gclid=<img%20src=x>&wbraid=CjkKEQiA"
    data["note_attributes"].append({"name": "gbraid", "value": GBRAID})
    a = shopify.parse_order(data, "nordlys").attribution
    assert a.gclid is None  # the URL's value is not a click id
    assert (a.gbraid, a.wbraid) == (GBRAID, "CjkKEQiA")


def test_shopify_scrub_keeps_the_click_id_attributes() -> None:
    data = load("shopify", "order_paid.json")
    data["note_attributes"].append({"name": "gclid", "value": GCLID})
    clean = shopify.scrub(data)
    assert shopify.parse_order(clean, "nordlys").attribution.gclid == GCLID


def test_woocommerce_gclid_from_the_session_entry() -> None:
    data = load("woocommerce", "order_created.json")
    _set_meta(data, "_wc_order_attribution_utm_source", "google")
    _set_meta(data, "_wc_order_attribution_utm_medium", "cpc")
    _set_meta(
        data,
        "_wc_order_attribution_session_entry",
        f"https://kaffebutikk.example/produkt/kaffekvern/?gclid={GCLID}&gad_source=1",
    )
    a = woocommerce.parse_order(data, "kaffe").attribution
    assert a.gclid == GCLID and a.utm_source == "google"
    clean = woocommerce.scrub(data)
    assert woocommerce.parse_order(clean, "kaffe").attribution.gclid == GCLID


def test_woocommerce_click_id_meta_key_is_read_and_kept() -> None:
    data = load("woocommerce", "order_created.json")
    _set_meta(data, "_gclid", GCLID)
    assert woocommerce.known_meta("_gclid")
    assert woocommerce.parse_order(woocommerce.scrub(data), "kaffe").attribution.gclid == GCLID


def test_canonical_json_click_ids() -> None:
    doc = {
        "order_id": "g-1",
        "created_at": "2026-11-20T10:00:00Z",
        "currency": "NOK",
        "lines": [{"line_id": "1", "quantity": 1, "unit_price": "100.00"}],
        "attribution": {"gclid": GCLID, "wbraid": "CjkKEQiA", "utm_source": "google"},
    }
    order = canonical_json.parse_order(doc, "s1", default_prices_include_vat=True)
    assert (order.attribution.gclid, order.attribution.wbraid) == (GCLID, "CjkKEQiA")
    doc["attribution"] = {"gclid": "not a click id"}
    with pytest.raises(PayloadError) as err:
        canonical_json.parse_order(doc, "s1", default_prices_include_vat=True)
    assert "attribution.gclid" in str(err.value)
    doc["attribution"] = {"gbraid": "a" * 256}
    with pytest.raises(PayloadError):
        canonical_json.parse_order(doc, "s1", default_prices_include_vat=True)


def test_a_stored_body_with_a_bad_click_id_is_re_read_without_it() -> None:
    from poas.sources.canonical_fields import Adjustments

    doc = {
        "order_id": "g-2",
        "created_at": "2026-11-20T10:00:00Z",
        "currency": "NOK",
        "lines": [{"line_id": "1", "quantity": 1, "unit_price": "100.00"}],
        "attribution": {"gclid": "not a click id", "wbraid": "CjkKEQiA"},
    }
    done = Adjustments()
    order = canonical_json.parse_order(doc, "s1", default_prices_include_vat=True, lenient=done)
    assert (order.attribution.gclid, order.attribution.wbraid) == (None, "CjkKEQiA")
    assert done.done == [("attribution.gclid", "ignored (not a click id)")]
