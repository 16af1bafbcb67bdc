"""The WooCommerce REST client against the sandbox over real HTTP: discovery errors, pages, costs,
retries classified (429 waits, 5xx backs off, 401 is an auth error), secrets never in messages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from poas.connectors.woocommerce import WooAuthError, WooClient, WooError, check_site_url, unit_cost_of
from poas.connectors.woocommerce_sandbox import RunningWooSandbox, new_woo_state, run_woo_sandbox

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
KEY, SECRET = "ck_live_key_123", "cs_live_secret_456"


@pytest.fixture
def woo() -> Iterator[RunningWooSandbox]:
    with run_woo_sandbox(new_woo_state(SEED, key=KEY, secret=SECRET)) as sb:
        yield sb


def _client(sb: RunningWooSandbox, sleeps: list[float] | None = None, secret: str = SECRET) -> WooClient:
    record = sleeps if sleeps is not None else []
    return WooClient(sb.url, KEY, secret, sleep=record.append)


def test_plain_http_is_refused_except_to_this_machine() -> None:
    with pytest.raises(WooError, match="plain http"):
        check_site_url("http://shop.example")
    assert check_site_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert check_site_url("https://shop.example/") == "https://shop.example"
    with pytest.raises(WooError, match="not a web address"):
        check_site_url("shop.example")


@pytest.mark.parametrize(
    ("mode", "kind", "words"),
    [
        ("permalinks_off", "permalinks_off", "Settings > Permalinks"),
        ("no_woocommerce", "no_woocommerce", "activate WooCommerce"),
        ("not_wordpress", "not_wordpress", "not a WordPress site"),
    ],
)
def test_discovery_names_what_is_wrong(woo: RunningWooSandbox, mode: str, kind: str, words: str) -> None:
    httpx.post(f"{woo.url}/_sandbox/config", json={"mode": mode})
    with _client(woo) as client, pytest.raises(WooError) as caught:
        client.discover()
    assert caught.value.kind == kind and words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_orders_page_by_page_oldest_change_first(woo: RunningWooSandbox) -> None:
    for n in range(150):  # 150 more orders, modified now (many in the same second)
        woo.state.add_order({"id": 10000 + n, "status": "processing"}, deliver=False)
    with _client(woo) as client:
        ids = [o["id"] for p in client.orders() for o in p]
        assert ids[:2] == [7301, 4711] and len(ids) == 152 and len(set(ids)) == 152
        later = [o["id"] for p in client.orders(datetime(2026, 11, 22, tzinfo=UTC)) for o in p]
        assert later[0] == 4711 and 7301 not in later and len(later) == 151


def test_an_order_changed_mid_sync_makes_no_other_order_skip(woo: RunningWooSandbox) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(250):  # one a second, so page numbers would shift when one moves to the end
        when = (start + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S")
        woo.state.orders[20000 + n] = {"id": 20000 + n, "date_created_gmt": when, "date_modified_gmt": when}
    with _client(woo) as client:
        pages = client.orders()
        seen = [o["id"] for o in next(pages)]
        assert seen == list(range(20000, 20100))
        woo.state.add_order({"id": 20005, "status": "completed"}, deliver=False)  # moves to the end
        seen += [o["id"] for p in pages for o in p]
    assert set(range(20000, 20250)) | {7301, 4711} == set(seen)
    assert seen[-1] == 20005  # read again after its change


def test_product_costs_core_cogs_and_plugin_meta(woo: RunningWooSandbox) -> None:
    with _client(woo) as client:
        costs = {c.variant_id: c for c in client.product_costs()}
        assert {k: c.unit_cost for k, c in costs.items()} == {
            "55": Decimal("700.0"),
            "56": Decimal("12.5"),
            "61": Decimal("180.0"),
            "62": Decimal("55.0"),
        }
        assert (costs["61"].product_id, costs["61"].sku, costs["61"].product_type) == (
            "60",
            "BONNER-1KG",
            "Kaffe",
        )
        httpx.post(f"{woo.url}/_sandbox/config", json={"cogs": "_alg_wc_cog_cost"})
        assert {c.variant_id: c.unit_cost for c in client.product_costs()}["61"] == Decimal("180.00")
        # a key the settings do not name is not a cost
        assert {c.unit_cost for c in client.product_costs(["_other_cost"])} == {None}


def test_unit_cost_of_ignores_core_cogs_without_a_defined_value() -> None:
    undefined = {
        "cost_of_goods_sold": {"values": [{"defined_value": None}], "total_value": 0},
        "meta_data": [],
    }
    assert unit_cost_of(undefined, ["_wc_cog_cost"]) is None
    meta = {**undefined, "meta_data": [{"key": "_wc_cog_cost", "value": "9.90"}]}
    assert unit_cost_of(meta, ["_wc_cog_cost"]) == Decimal("9.90")


def test_throttling_slows_and_never_fails(woo: RunningWooSandbox) -> None:
    httpx.post(f"{woo.url}/_sandbox/faults", json={"kind": "throttle", "count": 3, "retry_after": 2})
    sleeps: list[float] = []
    with _client(woo, sleeps) as client:
        ids = [o["id"] for p in client.orders() for o in p]
        assert ids == [7301, 4711]
        assert sleeps == [2.0, 2.0, 2.0] and client.throttled == 3


def test_5xx_backs_off_then_gives_up_with_a_clear_error(woo: RunningWooSandbox) -> None:
    httpx.post(f"{woo.url}/_sandbox/faults", json={"kind": "5xx", "count": 2, "code": 503})
    sleeps: list[float] = []
    with _client(woo, sleeps) as client:
        assert len(next(client.orders())) == 2
        assert sleeps == [0.5, 1.0] and client.retried == 2
        httpx.post(f"{woo.url}/_sandbox/faults", json={"kind": "5xx", "count": None, "code": 500})
        with pytest.raises(WooError, match="answered 500 5 times"):
            next(client.orders())


def test_bad_credentials_are_an_auth_error_without_the_secret(
    woo: RunningWooSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _client(woo, secret="cs_wrong_secret_789") as client, pytest.raises(WooAuthError) as caught:
        next(client.orders())
    message = str(caught.value)
    assert "Consumer secret is invalid." in message
    assert "cs_wrong_secret_789" not in message and KEY not in message
    assert "cs_wrong_secret_789" not in caplog.text and "cs_wrong" not in repr(client)


def test_webhooks_create_update_list(woo: RunningWooSandbox) -> None:
    with _client(woo) as client:
        hook = client.save_webhook(
            None, {"topic": "order.created", "delivery_url": "https://p.example/a", "secret": "x"}
        )
        client.save_webhook(hook["id"], {"delivery_url": "https://p.example/b", "secret": "y"})
        listed = client.webhooks()
        assert [(h["id"], h["delivery_url"]) for h in listed] == [(hook["id"], "https://p.example/b")]
        assert woo.state.webhooks[hook["id"]]["secret"] == "y"
