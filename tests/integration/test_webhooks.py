"""Webhooks and the JSON API end to end: signed deliveries become stored orders with the right profit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from poas.settings import Settings, ShopConfig
from poas.sources.payload import sign_hmac_sha256_base64
from poas.store.orders import load_order, load_user_data
from poas.store.snapshots import latest_snapshot
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import orders
from poas.store.tables.intake import inbox
from poas.web.app import create_app
from poas.web.server import run_in_thread

FIXTURES = Path(__file__).parents[1] / "fixtures"
SHOPIFY_SECRET = "shpss_test_secret_0123456789"
OLD_SECRET = "shpss_old_secret_9876543210"
WOO_SECRET = "woo-secret-abcdef"
API_TOKEN = "api-token-kaffe-0123456789"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes(name))
    return data


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    shops = [
        ShopConfig(
            id="nordlys",
            platform="shopify",
            domain="nordlys.myshopify.com",
            webhook_secrets=[OLD_SECRET, SHOPIFY_SECRET],
            default_margin=Decimal("0.5"),
            pixel_id="1234567890123456",
            access_token="EAAtesttoken0123456789",
        ),
        ShopConfig(
            id="kaffe",
            platform="woocommerce",
            webhook_secrets=[WOO_SECRET],
            api_token=API_TOKEN,
            default_margin=Decimal("0.5"),
        ),
    ]
    return Settings(home=tmp_path, shops=shops, **overrides)


def shopify_headers(body: bytes, topic: str, event_id: str, secret: str = SHOPIFY_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64(body, secret),
        "X-Shopify-Shop-Domain": "nordlys.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": f"wh-{event_id}",
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": "2026-11-20T13:03:12.123Z",
    }


def woo_headers(body: bytes, topic: str, delivery_id: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://kaffebutikk.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": sign_hmac_sha256_base64(body, WOO_SECRET),
        "X-WC-Webhook-ID": "17",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }


class SettledClient(TestClient):
    """A TestClient whose POST returns once the web process has processed what it accepted."""

    def post(self, *args: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().post(*args, **kwargs)
        processor = getattr(self.app.state, "intake_processor", None)  # type: ignore[attr-defined]
        if processor is not None:
            assert processor.wait_idle(), "the intake processor did not finish"
        return response


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with SettledClient(create_app(make_settings(tmp_path), engine)) as c:
        yield c


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def amounts(engine: Engine, shop: str, order_id: str) -> dict[str, Decimal]:
    with engine.connect() as conn:
        snap = latest_snapshot(conn, shop, order_id)
    assert snap is not None, "no profit snapshot stored"
    components = snap.breakdown.get("components", {})
    out = {name: Decimal(c["amount"]) for name, c in components.items()}
    out.update(snap.amounts)
    return out


def test_shopify_paid_then_refund_matches_hand_computed_values(client: TestClient, engine: Engine) -> None:
    body = fixture_bytes("shopify/order_paid.json")
    r = client.post(
        "/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, "orders/paid", "e1")
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    a = amounts(engine, "nordlys", "5830120800456")
    assert a["revenue_ex_vat"] == Decimal("1699.20")
    assert a["vat"] == Decimal("424.80")
    refund = fixture_bytes("shopify/refund_create.json")
    r = client.post(
        "/webhooks/shopify/nordlys", content=refund, headers=shopify_headers(refund, "refunds/create", "e2")
    )
    assert r.status_code == 200, r.text
    a = amounts(engine, "nordlys", "5830120800456")
    assert a["revenue_ex_vat"] == Decimal("1699.20")
    assert a["refunded_revenue_ex_vat"] == Decimal("720.00")
    with engine.connect() as conn:
        order = load_order(conn, "nordlys", "5830120800456")
    assert order is not None
    (stored_refund,) = order.refunds
    assert stored_refund.lines[0].restock_type.value == "return"
    assert (stored_refund.lines[0].amount, stored_refund.lines[0].tax) == (
        Decimal("900.00"),
        Decimal("180.00"),
    )
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(inbox.c.status, inbox.c.body))]
        bodies = [r.body for r in conn.execute(select(inbox.c.body))]
    with engine.connect() as conn:
        kept = load_user_data(conn, "nordlys", "5830120800456") or {}
    assert {"em", "ph", "fbc"} <= set(kept)  # the refund (no contact data) keeps the stored hashes
    assert statuses == ["done", "done"]
    assert bodies == [None, None]  # raw bodies (contact data) are dropped once processed


def test_woocommerce_created_then_refund_matches_hand_computed_values(
    client: TestClient, engine: Engine
) -> None:
    body = fixture_bytes("woocommerce/order_created.json")
    r = client.post(
        "/webhooks/woocommerce/kaffe", content=body, headers=woo_headers(body, "order.created", "d1")
    )
    assert r.status_code == 200, r.text
    a = amounts(engine, "kaffe", "4711")
    assert a["revenue_ex_vat"] == Decimal("1702.40")
    assert a["vat"] == Decimal("425.60")
    assert a["cogs"] == Decimal("750.00")  # 700 + 2 × 25 from the COGS plugins' meta, fee line at 0
    upd = fixture_bytes("woocommerce/order_updated_refunded.json")
    r = client.post(
        "/webhooks/woocommerce/kaffe", content=upd, headers=woo_headers(upd, "order.updated", "d2")
    )
    assert r.status_code == 200, r.text
    a = amounts(engine, "kaffe", "4711")
    assert a["refunded_revenue_ex_vat"] == Decimal("1440.00")


def test_same_delivery_five_times_stores_one_order(client: TestClient, engine: Engine) -> None:
    body = fixture_bytes("shopify/order_paid.json")
    headers = shopify_headers(body, "orders/paid", "evt-5")
    answers = [client.post("/webhooks/shopify/nordlys", content=body, headers=headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["status"] for a in answers] == ["accepted"] + ["duplicate"] * 4
    assert count(engine, orders) == 1
    assert count(engine, inbox) == 1
    with engine.connect() as conn:
        assert list(conn.execute(select(outbox.c.event_name)).scalars()) == ["Purchase"]
    # Shopify's retry of the same event carries a new webhook id but the same event id.
    headers["X-Shopify-Webhook-Id"] = "another"
    assert (
        client.post("/webhooks/shopify/nordlys", content=body, headers=headers).json()["status"]
        == "duplicate"
    )


def test_purchase_is_queued_once(client: TestClient, engine: Engine) -> None:
    body = fixture_bytes("shopify/order_paid.json")
    for i in range(5):
        headers = shopify_headers(body, "orders/paid", f"evt-{i}")  # even distinct deliveries
        assert client.post("/webhooks/shopify/nordlys", content=body, headers=headers).status_code == 200
    with engine.connect() as conn:
        names = list(conn.execute(select(outbox.c.event_name)).scalars())
    assert names.count("Purchase") == 1


def test_out_of_order_updates_keep_the_newest(client: TestClient, engine: Engine) -> None:
    newer = fixture_json("shopify/order_updated_refunded.json")
    older = fixture_json("shopify/order_create.json")
    for data, topic, eid in ((newer, "orders/updated", "n1"), (older, "orders/create", "o1")):
        body = json.dumps(data).encode()
        r = client.post("/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, topic, eid))
        assert r.status_code == 200
    with engine.connect() as conn:
        order = load_order(conn, "nordlys", "5830120800456")
        outcomes = list(conn.execute(select(inbox.c.outcome).order_by(inbox.c.id)).scalars())
    assert order is not None
    assert order.financial_status == "partially_refunded"
    assert len(order.refunds) == 1
    assert outcomes[1].startswith("stale")


def test_rotation_secret_and_bad_signatures(client: TestClient, engine: Engine) -> None:
    body = fixture_bytes("shopify/order_paid.json")
    ok = shopify_headers(body, "orders/paid", "r1", secret=OLD_SECRET)
    assert client.post("/webhooks/shopify/nordlys", content=body, headers=ok).status_code == 200
    bad = shopify_headers(body, "orders/paid", "r2", secret="wrong")
    assert client.post("/webhooks/shopify/nordlys", content=body, headers=bad).status_code == 401
    missing = {k: v for k, v in shopify_headers(body, "orders/paid", "r3").items() if "Hmac" not in k}
    assert client.post("/webhooks/shopify/nordlys", content=body, headers=missing).status_code == 401
    tampered = shopify_headers(body, "orders/paid", "r4")
    assert client.post("/webhooks/shopify/nordlys", content=body + b" ", headers=tampered).status_code == 401
    woo = fixture_bytes("woocommerce/order_created.json")
    h = woo_headers(woo, "order.created", "w1")
    h["X-WC-Webhook-Signature"] = sign_hmac_sha256_base64(woo, SHOPIFY_SECRET)
    assert client.post("/webhooks/woocommerce/kaffe", content=woo, headers=h).status_code == 401
    assert count(engine, inbox) == 1


def test_bad_input_codes(client: TestClient, engine: Engine) -> None:
    body = fixture_bytes("shopify/order_paid.json")
    assert (
        client.post("/webhooks/shopify/nope", content=body, headers=shopify_headers(body, "orders/paid", "x"))
    ).status_code == 404
    # A signed body that can never be processed is answered 200 (a platform disables a webhook that
    # keeps failing) and parked as rejected with the field named; nothing of it is processed.
    junk = b"{not json"
    r = client.post(
        "/webhooks/shopify/nordlys", content=junk, headers=shopify_headers(junk, "orders/paid", "j")
    )
    assert (r.status_code, r.json()["status"], r.json()["field"]) == (200, "rejected", "body")
    not_order = json.dumps({"id": 5, "created_at": "2026-11-20T10:00:00Z", "currency": "NOK"}).encode()
    r = client.post(
        "/webhooks/shopify/nordlys", content=not_order, headers=shopify_headers(not_order, "orders/paid", "n")
    )
    assert (r.status_code, r.json()["status"], r.json()["field"]) == (200, "rejected", "line_items")
    with engine.connect() as conn:
        parked = conn.execute(select(inbox.c.status, inbox.c.error).order_by(inbox.c.id)).all()
    assert [p.status for p in parked] == ["rejected", "rejected"]
    assert "body: is not valid JSON" in parked[0].error and "line_items: is required" in parked[1].error
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    r = client.post(
        "/webhooks/shopify/nordlys", content=big, headers=shopify_headers(big, "orders/paid", "b")
    )
    assert r.status_code == 413
    ignored = client.post(
        "/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, "carts/update", "c")
    )
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert count(engine, inbox) == 2  # the two parked above


def test_streamed_body_over_the_limit_is_refused(engine: Engine, tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, webhook_max_bytes=1000), engine)
    body = fixture_bytes("shopify/order_paid.json")
    headers = shopify_headers(body, "orders/paid", "s")

    def chunks() -> Iterator[bytes]:  # no Content-Length: only the streamed size can tell
        for i in range(0, len(body), 256):
            yield body[i : i + 256]

    with SettledClient(app) as c:
        assert c.post("/webhooks/shopify/nordlys", content=chunks(), headers=headers).status_code == 413
    assert count(engine, inbox) == 0


def test_woocommerce_ping_is_answered_without_storing(client: TestClient, engine: Engine) -> None:
    r = client.post(
        "/webhooks/woocommerce/kaffe",
        content=b"webhook_id=17",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.json()["status"] == "ping"
    assert count(engine, inbox) == 0


def test_test_orders_are_accepted_but_not_ingested(client: TestClient, engine: Engine) -> None:
    data = fixture_json("shopify/order_paid.json")
    data["test"] = True
    body = json.dumps(data).encode()
    r = client.post(
        "/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, "orders/paid", "t")
    )
    assert r.status_code == 200
    assert count(engine, orders) == 0
    with engine.connect() as conn:
        assert conn.execute(select(inbox.c.status)).scalar_one() == "skipped"


def api_order() -> dict[str, Any]:
    return {
        "order_id": "A-100",
        "name": "A-100",
        "created_at": "2026-11-22T10:00:00+01:00",
        "updated_at": "2026-11-22T10:00:00+01:00",
        "currency": "NOK",
        "prices_include_vat": True,
        "financial_status": "paid",
        "gateway": "vipps",
        "lines": [
            {"line_id": "1", "quantity": 2, "unit_price": "500.00", "sku": "KVERN-01", "tax": "200.00"},
        ],
        "shipping_lines": [{"price": "50.00", "tax": "10.00", "method": "pickup"}],
        "customer": {"email": "kunde@example.com", "country": "NO"},
    }


def test_json_api_orders_and_refunds(client: TestClient, engine: Engine) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    assert client.post("/api/v1/orders", json=api_order()).status_code == 401
    assert (
        client.post("/api/v1/orders", json=api_order(), headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    r = client.post("/api/v1/orders", json=api_order(), headers=auth)
    assert r.status_code == 202, r.text
    assert amounts(engine, "kaffe", "A-100")["revenue_ex_vat"] == Decimal("840.00")  # 1000 - 200 + 50 - 10
    refund = {
        "order_id": "A-100",
        "refund_id": "R-1",
        "processed_at": "2026-11-25T09:00:00Z",
        "lines": [
            {"line_id": "1", "quantity": 1, "restock_type": "return", "amount": "500.00", "tax": "100.00"}
        ],
    }
    r = client.post("/api/v1/refunds", json=refund, headers=auth)
    assert r.status_code == 202, r.text
    assert amounts(engine, "kaffe", "A-100")["refunded_revenue_ex_vat"] == Decimal("400.00")
    other = dict(api_order(), shop_id="nordlys")
    assert client.post("/api/v1/orders", json=other, headers=auth).status_code == 403
    bad = dict(api_order(), lines=[{"line_id": "1", "quantity": 1}])
    r = client.post("/api/v1/orders", json=bad, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "lines[0].unit_price"


def test_real_uvicorn_round_trip(engine: Engine, tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), engine)
    body = fixture_bytes("shopify/order_paid.json")
    with run_in_thread(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        r = http.post(
            "/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, "orders/paid", "u1")
        )
        assert r.status_code == 200
        assert (
            http.post(
                "/webhooks/shopify/nordlys", content=body, headers={"X-Shopify-Topic": "orders/paid"}
            ).status_code
            == 401
        )
        deadline = datetime.now(UTC).timestamp() + 10
        while datetime.now(UTC).timestamp() < deadline and count(engine, orders) == 0:
            import time

            time.sleep(0.05)
    assert amounts(engine, "nordlys", "5830120800456")["revenue_ex_vat"] == Decimal("1699.20")


def test_a_sender_that_disconnects_mid_body_gets_400_and_nothing_is_stored(
    engine: Engine, tmp_path: Path
) -> None:
    app = create_app(make_settings(tmp_path), engine)
    body = fixture_bytes("shopify/order_paid.json")
    headers = shopify_headers(body, "orders/paid", "gone")
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:100], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/shopify/nordlys",
        "raw_path": b"/webhooks/shopify/nordlys",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    # A loop of its own in a thread: the browser tests' Playwright may own this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [400]
    assert count(engine, inbox) == 0
