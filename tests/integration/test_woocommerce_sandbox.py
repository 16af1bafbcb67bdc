"""The WooCommerce sandbox over real HTTP: auth, discovery modes, pagination headers, costs, webhooks
and their signed delivery, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from local_http import serve
from test_sandbox_commands import serving
from typer.testing import CliRunner

from poas.cli.app import app
from poas.connectors.woocommerce_sandbox import RunningWooSandbox, new_woo_state, run_woo_sandbox
from poas.connectors.woocommerce_seed import WooSeedError, load_seed

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
AUTH = ("ck_test", "cs_test")


@pytest.fixture
def woo() -> Iterator[RunningWooSandbox]:
    with run_woo_sandbox(new_woo_state(SEED, key="ck_test", secret="cs_test")) as sb:
        yield sb


def test_bad_and_missing_credentials_answer_401_in_woocommerce_shape(woo: RunningWooSandbox) -> None:
    url = f"{woo.url}/wp-json/wc/v3/orders"
    none = httpx.get(url)
    assert none.status_code == 401 and none.json()["code"] == "woocommerce_rest_cannot_view"
    wrong = httpx.get(url, auth=("ck_other", "cs_test"))
    assert wrong.status_code == 401
    assert wrong.json() == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Consumer key is invalid.",
        "data": {"status": 401},
    }
    assert httpx.get(url, auth=("ck_test", "cs_nope")).json()["message"] == "Consumer secret is invalid."


def test_orders_paginate_with_wp_headers_and_modified_after(woo: RunningWooSandbox) -> None:
    url = f"{woo.url}/wp-json/wc/v3/orders"
    first = httpx.get(
        url, params={"per_page": 1, "page": 1, "orderby": "modified", "order": "asc"}, auth=AUTH
    )
    assert first.status_code == 200
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("2", "2")
    assert [o["id"] for o in first.json()] == [7301]  # modified 2026-11-21, before 4711's refund update
    second = httpx.get(
        url, params={"per_page": 1, "page": 2, "orderby": "modified", "order": "asc"}, auth=AUTH
    )
    assert [o["id"] for o in second.json()] == [4711]
    later = httpx.get(url, params={"modified_after": "2026-11-22T00:00:00Z"}, auth=AUTH)
    assert [o["id"] for o in later.json()] == [4711] and later.headers["X-WP-Total"] == "1"
    assert httpx.get(url, params={"per_page": 101}, auth=AUTH).json()["code"] == "rest_invalid_param"


def test_products_and_variations_carry_core_cogs_or_plugin_meta(woo: RunningWooSandbox) -> None:
    products = httpx.get(f"{woo.url}/wp-json/wc/v3/products", params={"per_page": 100}, auth=AUTH).json()
    by_name = {p["name"]: p for p in products}
    assert by_name["Kaffekvern Comandante"]["id"] == 55
    assert by_name["Kaffekvern Comandante"]["cost_of_goods_sold"]["total_value"] == 700.0
    beans = by_name["Kaffebønner"]
    assert beans["id"] == 60 and beans["type"] == "variable" and beans["variations"] == [61, 62]
    assert beans["categories"][0]["name"] == "Kaffe"
    variations = httpx.get(f"{woo.url}/wp-json/wc/v3/products/60/variations", auth=AUTH).json()
    assert [(v["sku"], v["cost_of_goods_sold"]["total_value"]) for v in variations] == [
        ("BONNER-1KG", 180.0),
        ("BONNER-250G", 55.0),
    ]
    httpx.post(f"{woo.url}/_sandbox/config", json={"cogs": "_alg_wc_cog_cost"})
    variations = httpx.get(f"{woo.url}/wp-json/wc/v3/products/60/variations", auth=AUTH).json()
    assert "cost_of_goods_sold" not in variations[0]
    assert variations[0]["meta_data"][0]["key"] == "_alg_wc_cog_cost"
    assert variations[0]["meta_data"][0]["value"] == "180.00"


def test_discovery_modes(woo: RunningWooSandbox) -> None:
    assert "wc/v3" in httpx.get(f"{woo.url}/wp-json/").json()["namespaces"]
    httpx.post(f"{woo.url}/_sandbox/config", json={"mode": "permalinks_off"})
    assert httpx.get(f"{woo.url}/wp-json/").status_code == 404
    home = httpx.get(f"{woo.url}/")
    assert "?rest_route=/" in home.headers["Link"]
    via_query = httpx.get(f"{woo.url}/", params={"rest_route": "/wc/v3/orders"}, auth=AUTH)
    assert via_query.status_code == 200 and via_query.headers["X-WP-Total"] == "2"
    httpx.post(f"{woo.url}/_sandbox/config", json={"mode": "no_woocommerce"})
    assert "wc/v3" not in httpx.get(f"{woo.url}/?rest_route=/").json()["namespaces"]
    assert httpx.get(f"{woo.url}/?rest_route=/wc/v3/orders", auth=AUTH).json()["code"] == "rest_no_route"
    httpx.post(f"{woo.url}/_sandbox/config", json={"mode": "not_wordpress"})
    assert httpx.get(f"{woo.url}/?rest_route=/").status_code == 404


def test_read_only_key_cannot_create_webhooks(woo: RunningWooSandbox) -> None:
    httpx.post(f"{woo.url}/_sandbox/config", json={"access": "read"})
    resp = httpx.post(
        f"{woo.url}/wp-json/wc/v3/webhooks",
        json={"topic": "order.created", "delivery_url": "https://poas.example/x"},
        auth=AUTH,
    )
    assert resp.status_code == 401 and "write permissions" in resp.json()["message"]
    assert woo.state.webhooks == {}


def test_faults_throttle_with_retry_after_then_clear(woo: RunningWooSandbox) -> None:
    httpx.post(f"{woo.url}/_sandbox/faults", json={"kind": "throttle", "count": 1, "retry_after": 2})
    throttled = httpx.get(f"{woo.url}/wp-json/wc/v3/orders", auth=AUTH)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert httpx.get(f"{woo.url}/wp-json/wc/v3/orders", auth=AUTH).status_code == 200


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhooks_hide_the_secret_and_deliver_signed_orders(woo: RunningWooSandbox) -> None:
    _Receiver.got.clear()
    with serve(_Receiver) as receiver:
        created = httpx.post(
            f"{woo.url}/wp-json/wc/v3/webhooks",
            json={"topic": "order.created", "delivery_url": f"{receiver}/hook", "secret": "s3cret"},
            auth=AUTH,
        )
        assert created.status_code == 201
        hook = created.json()
        assert "secret" not in hook and hook["status"] == "active" and hook["resource"] == "order"
        listed = httpx.get(f"{woo.url}/wp-json/wc/v3/webhooks", auth=AUTH).json()
        assert [h["id"] for h in listed] == [hook["id"]]
        order = {**orjson.loads((SEED / "orders" / "7301.json").read_bytes()), "id": 9001}
        httpx.post(f"{woo.url}/_sandbox/orders", json=order)
    headers, body = _Receiver.got[-1]
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert headers["x-wc-webhook-signature"] == expected
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert headers["x-wc-webhook-id"] == str(hook["id"]) and headers["x-wc-webhook-delivery-id"]
    assert orjson.loads(body)["id"] == 9001


def test_a_bad_seed_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "variants.csv").write_text(
        "variant_id,sku,product_title,variant_title,product_type,unit_cost,currency\n5,A,T,,X,abc,NOK\n"
    )
    with pytest.raises(WooSeedError, match=r"variants.csv line 2: unit_cost 'abc' is not a number"):
        load_seed(tmp_path)


def test_poas_sandbox_woocommerce_serves_the_seed_with_its_key(tmp_path: Path) -> None:
    args = ["sandbox", "woocommerce", "--seed", str(SEED), "--key", "ck_only", "--secret", "cs_only"]
    with serving(args, "/wp-json/") as url:
        assert "wc/v3" in httpx.get(f"{url}/wp-json/").json()["namespaces"]
        orders = f"{url}/wp-json/wc/v3/orders"
        assert httpx.get(orders, auth=("ck_other", "cs_only")).status_code == 401
        ok = httpx.get(orders, auth=("ck_only", "cs_only"))
        assert ok.status_code == 200 and ok.headers["X-WP-Total"] == "2"


def test_poas_sandbox_woocommerce_names_a_bad_seed(tmp_path: Path) -> None:
    (tmp_path / "variants.csv").write_text("variant_id,sku\n1,A\n")
    result = CliRunner().invoke(app, ["sandbox", "woocommerce", "--seed", str(tmp_path)])
    assert result.exit_code == 1 and "missing column(s) product_title" in " ".join(result.output.split())
