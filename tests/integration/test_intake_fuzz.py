"""Fuzzing webhooks and the API: mutated and hostile bodies and headers never give a 500, store
unsigned data or lose a valid order sent between them (#15: absurd dates, huge integers, lone
surrogates, unknown currencies; both engines)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from test_webhooks import (
    API_TOKEN,
    SHOPIFY_SECRET,
    WOO_SECRET,
    SettledClient,
    amounts,
    api_order,
    fixture_json,
    make_settings,
    shopify_headers,
    woo_headers,
)

from poas.sources.payload import sign_hmac_sha256_base64
from poas.store.tables.intake import inbox
from poas.web.app import create_app

SHOPIFY = fixture_json("shopify/order_paid.json")
REFUND = fixture_json("shopify/refund_create.json")
WOO = fixture_json("woocommerce/order_created.json")

HUGE = "<huge-integer>"  # replaced, after json.dumps, by a 5,000-digit integer literal
HOSTILE = [
    HUGE,
    *("\ud800", "a\udfffb", "\udbff\udbff"),  # lone surrogates (json.dumps sends them as escapes)
    *("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "1970-01-01T00:00:00Z", "1800-01-01T00:00:00Z"),
    *("9999-12-31T23:59:59", "0001-01-01T00:00:00"),  # WooCommerce's *_gmt times have no offset
    *("XYZ", "BTC", "XAU", "123"),
    *(2**63, -(2**63) - 1, 10**40, 10**41),
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "1e999", "NaN", "-0", "2026-13-45T25:61:00Z", "12,50", "\u0000", *HOSTILE]),
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


# Where the hostile values go: fields every endpoint reads (ids, names, SKUs, titles, times, currency).
TARGETS = {
    "shopify": [
        ("id",),
        ("name",),
        ("created_at",),
        ("processed_at",),
        ("updated_at",),
        ("cancelled_at",),
        ("currency",),
        ("line_items", 0, "sku"),
        ("line_items", 0, "title"),
        ("line_items", 0, "quantity"),
        ("line_items", 0, "price"),
    ],
    "shopify-refund": [
        ("id",),
        ("order_id",),
        ("processed_at",),
        ("created_at",),
        ("refund_line_items", 0, "quantity"),
    ],
    "woo": [
        ("id",),
        ("number",),
        ("date_created_gmt",),
        ("date_modified_gmt",),
        ("date_paid_gmt",),
        ("currency",),
        ("line_items", 0, "sku"),
        ("line_items", 0, "name"),
        ("line_items", 0, "quantity"),
    ],
    "api": [
        ("order_id",),
        ("name",),
        ("created_at",),
        ("updated_at",),
        ("currency",),
        ("lines", 0, "sku"),
        ("lines", 0, "title"),
        ("lines", 0, "quantity"),
    ],
    "api-refund": [("order_id",), ("refund_id",), ("processed_at",)],
}
API_REFUND = {
    "order_id": "A-100",
    "refund_id": "R-1",
    "processed_at": "2026-11-23T09:00:00Z",
    "shipping": "0",
}
BASES = {
    "shopify": SHOPIFY,
    "shopify-refund": REFUND,
    "woo": WOO,
    "api": api_order(),
    "api-refund": API_REFUND,
}


@st.composite
def hostile(draw: st.DrawFn, kind: str) -> Any:
    """The platform's own example payload with one to three of its fields given hostile values."""
    data = json.loads(json.dumps(BASES[kind]))
    for path in draw(st.lists(st.sampled_from(TARGETS[kind]), min_size=1, max_size=3, unique=True)):
        node = data
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = draw(st.sampled_from(HOSTILE))
    return data


def encode(data: Any) -> bytes:
    return json.dumps(data).replace(json.dumps(HUGE), "9" * 5000).encode()


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str], bool]:
    """(path, body, headers, signed correctly?)"""
    kind = draw(st.sampled_from(["shopify", "shopify-refund", "woo", "api"]))
    base = {"shopify": SHOPIFY, "shopify-refund": REFUND, "woo": WOO, "api": {"order_id": "1"}}[kind]
    shape = draw(st.sampled_from(["json", "json", "hostile", "bytes", "truncated"]))
    if shape == "hostile":
        target = "api-refund" if kind == "api" and draw(st.booleans()) else kind
        text = encode(draw(hostile(target))).decode()
    else:
        text = encode(draw(mutated(base))).decode()
    if shape == "bytes":
        body = draw(st.binary(max_size=300))
    elif shape == "truncated":
        body = text.encode()[: draw(st.integers(0, min(len(text), 20_000)))]
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


ADMIN = {"Authorization": "Bearer admin-token-fuzz-0123456789"}


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, admin_api_token=SecretStr(ADMIN["Authorization"][7:]))
    with SettledClient(create_app(settings, engine)) as c:
        yield c


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


def check_stored(engine: Engine, r: Any) -> None:
    """A delivery stored is accepted, or (a webhook whose body can never be processed) parked as
    rejected at once with the field named."""
    body = r.json()
    assert r.status_code in (200, 202) and body["status"] in ("accepted", "rejected"), (r.status_code, body)
    if body["status"] == "rejected":
        assert r.status_code == 200
        with engine.connect() as conn:
            row = conn.execute(select(inbox).where(inbox.c.id == body["inbox_id"])).one()
        assert row.status == "rejected" and row.attempts == 0
        assert row.error.startswith(f"invalid payload: {body['field']}"), row.error


@settings(
    max_examples=1000,
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
    answer = r.json().get("status") if r.headers.get("content-type") == "application/json" else None
    event(f"HTTP {r.status_code} {answer or ''}".strip())
    if not signed:
        assert after == before, "an unsigned delivery was stored"
        assert r.status_code not in (202,) and r.json().get("status") in (None, "ping", "ignored")
    if after > before:
        check_stored(engine, r)
    elif r.status_code in (200, 202):
        assert r.json()["status"] in ("duplicate", "ignored", "ping"), r.text
    if signed and r.status_code == 422:
        assert r.headers.get("content-type", "").startswith("application/json") and r.json()["field"]


class Valid:
    """A valid order with a new id each time, through one of the three order endpoints in turn."""

    n = 0

    @classmethod
    def send(cls, client: TestClient) -> tuple[str, str, Decimal]:
        cls.n += 1
        n = cls.n
        kind = ("shopify", "woo", "api")[n % 3]
        if kind == "shopify":
            data = dict(SHOPIFY, id=9_100_000_000 + n, name=f"#V{n}")
            body = json.dumps(data).encode()
            r = client.post(
                "/webhooks/shopify/nordlys",
                content=body,
                headers=shopify_headers(body, "orders/paid", f"v{n}"),
            )
            shop, oid, revenue = "nordlys", str(data["id"]), Decimal("1699.20")
        elif kind == "woo":
            data = dict(WOO, id=9_200_000 + n, number=f"V{n}")
            body = json.dumps(data).encode()
            r = client.post(
                "/webhooks/woocommerce/kaffe",
                content=body,
                headers=woo_headers(body, "order.created", f"v{n}"),
            )
            shop, oid, revenue = "kaffe", str(data["id"]), Decimal(0)
        else:
            data = dict(api_order(), order_id=f"V-{n}", created_at=datetime.now(UTC).isoformat())
            r = client.post("/api/v1/orders", json=data, headers={"Authorization": f"Bearer {API_TOKEN}"})
            shop, oid, revenue = "kaffe", f"V-{n}", Decimal("840.00")
        assert r.status_code in (200, 202) and r.json()["status"] == "accepted", r.text
        return shop, oid, revenue


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=st.lists(requests(), min_size=1, max_size=3), after=st.lists(requests(), max_size=2))
def test_a_valid_order_between_hostile_ones_is_stored_and_priced(
    client: TestClient, engine: Engine, before: Any, after: Any
) -> None:
    for path, body, headers, _ in before:
        assert client.post(path, content=body, headers=headers).status_code < 500
    shop, order_id, revenue = Valid.send(client)
    for path, body, headers, _ in after:
        assert client.post(path, content=body, headers=headers).status_code < 500
    priced = amounts(engine, shop, order_id)
    if revenue:
        assert priced["revenue_ex_vat"] == revenue
    else:
        assert priced["revenue_ex_vat"] > 0
    report = client.get(f"/api/v1/report?by=day&shop_id={shop}", headers=ADMIN)
    assert report.status_code == 200, report.text
