"""A webhook route takes only its own platform's shops: nothing crosses platforms, whatever signed it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from test_webhooks import (
    API_TOKEN,
    SHOPIFY_SECRET,
    WOO_SECRET,
    api_order,
    count,
    fixture_bytes,
    make_settings,
    shopify_headers,
    woo_headers,
)

from poas.settings import Settings, ShopConfig
from poas.sources.payload import sign_hmac_sha256_base64
from poas.store.tables.foundation import orders
from poas.store.tables.intake import inbox
from poas.web.app import create_app
from poas.web.server import run_in_thread

API_SHOP_SECRET = "api-shop-webhook-secret-42"
API_SHOP_TOKEN = "api-token-direkte-0123456789"


def settings_with_api_shop(tmp_path: Path) -> Settings:
    base = make_settings(tmp_path)
    direkte = ShopConfig(
        id="direkte", platform="api", webhook_secrets=[API_SHOP_SECRET], api_token=API_SHOP_TOKEN
    )
    return base.model_copy(update={"shops": [*base.shops, direkte]})


@pytest.fixture
def http(engine: Engine, tmp_path: Path) -> Iterator[httpx.Client]:
    app = create_app(settings_with_api_shop(tmp_path), engine)
    with run_in_thread(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _secret_free(text: str) -> None:
    for secret in (SHOPIFY_SECRET, WOO_SECRET, API_SHOP_SECRET, API_TOKEN, API_SHOP_TOKEN):
        assert secret not in text


def test_shopify_body_signed_with_a_woocommerce_shops_secret_is_refused(
    http: httpx.Client, engine: Engine
) -> None:
    body = fixture_bytes("shopify/order_paid.json")
    r = http.post(
        "/webhooks/shopify/kaffe",
        content=body,
        headers=shopify_headers(body, "orders/paid", "x1", WOO_SECRET),
    )
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "/webhooks/shopify/kaffe takes Shopify webhooks" in detail
    assert "platform = 'woocommerce'" in detail and "/webhooks/woocommerce/kaffe" in detail
    _secret_free(r.text)
    assert count(engine, inbox) == 0 and count(engine, orders) == 0
    # The same body on its own platform's route, signed by its own shop, is accepted.
    ok = http.post(
        "/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, "orders/paid", "x2")
    )
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"
    assert count(engine, inbox) == 1


def test_woocommerce_body_and_ping_for_a_shopify_shop_are_refused(http: httpx.Client, engine: Engine) -> None:
    body = fixture_bytes("woocommerce/order_created.json")
    headers = woo_headers(body, "order.created", "d1")
    headers["X-WC-Webhook-Signature"] = sign_hmac_sha256_base64(body, SHOPIFY_SECRET)
    r = http.post("/webhooks/woocommerce/nordlys", content=body, headers=headers)
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "/webhooks/woocommerce/nordlys takes WooCommerce webhooks" in detail
    assert "platform = 'shopify'" in detail and "/webhooks/shopify/nordlys" in detail
    _secret_free(r.text)
    ping = http.post("/webhooks/woocommerce/nordlys", content=b"webhook_id=17")
    assert ping.status_code == 404, "an unsigned ping must not confirm a route the shop does not use"
    assert count(engine, inbox) == 0


def test_api_shop_takes_no_webhooks_but_the_json_api_serves_every_platform(
    http: httpx.Client, engine: Engine
) -> None:
    shopify_body = fixture_bytes("shopify/order_paid.json")
    r = http.post(
        "/webhooks/shopify/direkte",
        content=shopify_body,
        headers=shopify_headers(shopify_body, "orders/paid", "a1", API_SHOP_SECRET),
    )
    assert r.status_code == 404 and "POST /api/v1/orders" in r.json()["detail"]
    woo_body = fixture_bytes("woocommerce/order_created.json")
    headers = woo_headers(woo_body, "order.created", "a2")
    headers["X-WC-Webhook-Signature"] = sign_hmac_sha256_base64(woo_body, API_SHOP_SECRET)
    r = http.post("/webhooks/woocommerce/direkte", content=woo_body, headers=headers)
    assert r.status_code == 404 and "platform = 'api'" in r.json()["detail"]
    _secret_free(r.text)
    assert count(engine, inbox) == 0
    # The JSON API is the "any system" route: an api shop and a WooCommerce shop both use it.
    for token in (API_SHOP_TOKEN, API_TOKEN):
        order = api_order()
        r = http.post("/api/v1/orders", json=order, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 202, r.text
    assert count(engine, inbox) == 2
