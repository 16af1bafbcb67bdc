"""A webhook is deduplicated by the platform's delivery id, not by its body (docs/contracts.md, Intake):
the same id with a different body is a duplicate, different ids with the same body are each accepted;
a delivery without an id falls back to its body's digest. Shopify's `X-Shopify-Event-Id` (else
`X-Shopify-Webhook-Id`) and WooCommerce's `X-WC-Webhook-Delivery-ID`, over the real routes, on both
engines. Every other resend test sends the identical body, so dropping the id went unnoticed there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from poas.settings import Settings, ShopConfig
from poas.sources.payload import sign_hmac_sha256_base64
from poas.store.tables.intake import inbox
from poas.web.app import create_app

FIXTURES = Path(__file__).parents[1] / "fixtures"
SHOPIFY_SECRET = "shpss_dedup_secret_0123456789"
WOO_SECRET = "woo-dedup-secret-abcdef"


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    shops = [
        ShopConfig(
            id="nordlys",
            platform="shopify",
            domain="nordlys.myshopify.com",
            webhook_secrets=[SHOPIFY_SECRET],
            default_margin=Decimal("0.5"),
        ),
        ShopConfig(
            id="kaffe", platform="woocommerce", webhook_secrets=[WOO_SECRET], default_margin=Decimal("0.5")
        ),
    ]
    settings = Settings(home=tmp_path, shops=shops, intake_process_in_web=False)  # accepting is the point
    with TestClient(create_app(settings, engine)) as c:
        yield c


def _body(name: str, **changes: Any) -> bytes:
    data = json.loads((FIXTURES / name).read_bytes())
    data.update(changes)
    return json.dumps(data).encode()


def _shopify(body: bytes, *, event_id: str | None, webhook_id: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64(body, SHOPIFY_SECRET),
        "X-Shopify-Shop-Domain": "nordlys.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Triggered-At": "2026-11-20T13:03:12.123Z",
    }
    if event_id is not None:
        headers["X-Shopify-Event-Id"] = event_id
    if webhook_id is not None:
        headers["X-Shopify-Webhook-Id"] = webhook_id
    return headers


def _woo(body: bytes, delivery_id: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://kaffebutikk.example/",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-Signature": sign_hmac_sha256_base64(body, WOO_SECRET),
        "X-WC-Webhook-ID": "17",
    }
    if delivery_id is not None:
        headers["X-WC-Webhook-Delivery-ID"] = delivery_id
    return headers


def _inbox_rows(engine: Engine, shop: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(inbox).where(inbox.c.shop_id == shop)).scalar_one()
        )


SHOPIFY_ORDER = "shopify/order_paid_not_subscribed.json"
WOO_ORDER = "woocommerce/order_processing_no_consent.json"


def _post_shopify(client: TestClient, body: bytes, **ids: str | None) -> str:
    answer = client.post("/webhooks/shopify/nordlys", content=body, headers=_shopify(body, **ids))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def _post_woo(client: TestClient, body: bytes, delivery_id: str | None) -> str:
    answer = client.post("/webhooks/woocommerce/kaffe", content=body, headers=_woo(body, delivery_id))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def test_shopify_same_event_id_with_another_body_is_a_duplicate(client: TestClient, engine: Engine) -> None:
    first = _body(SHOPIFY_ORDER)
    edited = _body(SHOPIFY_ORDER, note="gift wrap, please")  # a different body, signed as well
    assert first != edited
    assert _post_shopify(client, first, event_id="evt-1001", webhook_id="wh-a") == "accepted"
    # Shopify's retry of the event: the same event id (a new webhook id), whatever the body holds now.
    assert _post_shopify(client, edited, event_id="evt-1001", webhook_id="wh-b") == "duplicate"
    assert _inbox_rows(engine, "nordlys") == 1


def test_shopify_different_event_ids_with_the_same_body_are_each_accepted(
    client: TestClient, engine: Engine
) -> None:
    body = _body(SHOPIFY_ORDER)
    statuses = [_post_shopify(client, body, event_id=f"evt-{n}", webhook_id=f"wh-{n}") for n in range(3)]
    assert statuses == ["accepted"] * 3  # three events that happen to carry the same order state
    assert _inbox_rows(engine, "nordlys") == 3


def test_shopify_webhook_id_dedups_when_there_is_no_event_id(client: TestClient, engine: Engine) -> None:
    first = _body(SHOPIFY_ORDER)
    edited = _body(SHOPIFY_ORDER, note="leave at the door")
    assert _post_shopify(client, first, event_id=None, webhook_id="wh-only-1") == "accepted"
    assert _post_shopify(client, edited, event_id=None, webhook_id="wh-only-1") == "duplicate"
    assert _post_shopify(client, first, event_id=None, webhook_id="wh-only-2") == "accepted"
    assert _inbox_rows(engine, "nordlys") == 2


def test_woocommerce_delivery_id_decides_not_the_body(client: TestClient, engine: Engine) -> None:
    first = _body(WOO_ORDER)
    edited = _body(WOO_ORDER, customer_note="Ring the bell")
    assert first != edited
    assert _post_woo(client, first, "9001") == "accepted"
    assert _post_woo(client, edited, "9001") == "duplicate"  # same delivery, another body
    assert _post_woo(client, first, "9002") == "accepted"  # another delivery, the same body
    assert _inbox_rows(engine, "kaffe") == 2


def test_without_a_delivery_id_the_body_decides(client: TestClient, engine: Engine) -> None:
    first = _body(WOO_ORDER)
    assert _post_woo(client, first, None) == "accepted"
    assert _post_woo(client, first, None) == "duplicate"
    assert _post_woo(client, _body(WOO_ORDER, customer_note="Ring the bell"), None) == "accepted"
    shop_body = _body(SHOPIFY_ORDER)
    assert _post_shopify(client, shop_body, event_id=None, webhook_id=None) == "accepted"
    assert _post_shopify(client, shop_body, event_id=" ", webhook_id=None) == "duplicate"  # blank: no id
    assert _inbox_rows(engine, "kaffe") == 2 and _inbox_rows(engine, "nordlys") == 1
