"""Fuzzing webhooks and the API: mutated bodies and headers never give a 500 or store unsigned data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from test_webhooks import API_TOKEN, SHOPIFY_SECRET, WOO_SECRET, SettledClient, fixture_json, make_settings

from poas.sources.payload import sign_hmac_sha256_base64
from poas.store.tables.intake import inbox
from poas.web.app import create_app

SHOPIFY = fixture_json("shopify/order_paid.json")
REFUND = fixture_json("shopify/refund_create.json")
WOO = fixture_json("woocommerce/order_created.json")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "1e999", "NaN", "-0", "2026-13-45T25:61:00Z", "12,50", "\u0000"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """The base payload with a few values somewhere in it replaced, removed or retyped."""
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 4))):
        node: Any = data
        for _depth in range(draw(st.integers(0, 3))):
            if isinstance(node, dict) and node:
                nxt = node[draw(st.sampled_from(sorted(node)))]
            elif isinstance(node, list) and node:
                nxt = node[draw(st.integers(0, len(node) - 1))]
            else:
                break
            if not isinstance(nxt, dict | list):
                break
            node = nxt
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.booleans()):
                node[key] = draw(json_values)
            else:
                del node[key]
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(json_values)
    return data if draw(st.integers(0, 9)) else draw(json_values)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str], bool]:
    """(path, body, headers, signed correctly?)"""
    kind = draw(st.sampled_from(["shopify", "shopify-refund", "woo", "api"]))
    base = {"shopify": SHOPIFY, "shopify-refund": REFUND, "woo": WOO, "api": {"order_id": "1"}}[kind]
    shape = draw(st.sampled_from(["json", "bytes", "truncated"]))
    text = json.dumps(draw(mutated(base)))
    if shape == "bytes":
        body = draw(st.binary(max_size=300))
    elif shape == "truncated":
        body = text.encode()[: draw(st.integers(0, len(text)))]
    else:
        body = text.encode()
    sig_mode = draw(
        st.sampled_from(["good", "good", "good", "other-body", "garbage", "missing", "wrong-secret"])
    )
    secret = WOO_SECRET if kind == "woo" else SHOPIFY_SECRET
    sig = {
        "good": sign_hmac_sha256_base64(body, secret),
        "other-body": sign_hmac_sha256_base64(body + b"x", secret),
        "garbage": draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)),
        "missing": None,
        "wrong-secret": sign_hmac_sha256_base64(body, "not-the-secret"),
    }[sig_mode]
    headers: dict[str, str] = {"Content-Type": draw(st.sampled_from(["application/json", "text/plain", ""]))}
    topic = draw(
        st.sampled_from(["orders/paid", "orders/create", "refunds/create", "orders/edited", "order.updated"])
        | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20)
    )
    event = draw(st.text(alphabet="abcdef0123456789-", max_size=40))
    if kind == "api":
        token = API_TOKEN if sig_mode != "missing" else draw(st.text(max_size=10).map(lambda s: s.strip()))
        headers["Authorization"] = f"Bearer {token}" if token else ""
        path = draw(st.sampled_from(["/api/v1/orders", "/api/v1/refunds"]))
        return path, body, {k: v for k, v in headers.items() if v.isascii()}, sig_mode != "missing"
    if kind == "woo":
        headers.update({"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": event})
        if sig is not None:
            headers["X-WC-Webhook-Signature"] = sig
        path = "/webhooks/woocommerce/" + draw(st.sampled_from(["kaffe", "kaffe", "ukjent"]))
    else:
        headers.update({"X-Shopify-Topic": topic, "X-Shopify-Event-Id": event})
        headers["X-Shopify-Triggered-At"] = draw(st.sampled_from(["2026-11-20T13:03:12Z", "igår", ""]))
        if sig is not None:
            headers["X-Shopify-Hmac-Sha256"] = sig
        path = "/webhooks/shopify/" + draw(st.sampled_from(["nordlys", "nordlys", "ukjent"]))
    return path, body, {k: v for k, v in headers.items() if v.isascii()}, sig_mode == "good"


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with SettledClient(create_app(make_settings(tmp_path), engine)) as c:
        yield c


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(req=requests())
def test_no_500_and_nothing_unsigned_is_stored(client: TestClient, engine: Engine, req: Any) -> None:
    path, body, headers, signed = req
    before = stored(engine)
    r = client.post(path, content=body, headers=headers)
    assert r.status_code in (200, 202, 400, 401, 403, 404, 413, 422), (r.status_code, r.text)
    after = stored(engine)
    event(f"HTTP {r.status_code}")
    if not signed:
        assert after == before, "an unsigned delivery was stored"
        assert r.status_code not in (202,) and r.json().get("status") in (None, "ping", "ignored")
    if after > before:
        assert r.status_code in (200, 202) and r.json()["status"] == "accepted"
