"""The Shopify Admin API client against the sandbox over real HTTP: tokens (client credentials,
refreshed before expiry and after a 401; static), throttling waits, 5xx backoff, bulk operations,
variant costs, and one-line errors; no token in any error or repr."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from test_shopify_sandbox import Clock, make_seed

from poas.connectors.shopify import ShopifyClient, ShopifyError, check_store
from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state

STORE = "nordlys.myshopify.com"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(tmp_path: Path, clock: Clock) -> Iterator[RunningShopifySandbox]:
    state = seeded_state(make_seed(tmp_path / "seed"))
    state.now_s = clock
    with run_shopify_sandbox(state) as running:
        yield running


def client(sb: RunningShopifySandbox, clock: Clock, **kw: object) -> ShopifyClient:
    def sleep(s: float) -> None:
        clock.t += s  # the sandbox's bucket refills on the same clock

    args: dict[str, object] = {"client_id": "cid", "client_secret": "shpss_very_secret"} | kw
    return ShopifyClient(STORE, base_url=sb.url, sleep=sleep, clock=clock, **args)  # type: ignore[arg-type]


def test_client_credentials_token_is_refreshed_before_it_expires(
    sandbox: RunningShopifySandbox, clock: Clock
) -> None:
    with client(sandbox, clock) as c:
        assert c.shop_info().currency == "NOK"
        assert c.refreshes == 1
        clock.t += 86399 - 200  # within the refresh margin
        assert c.shop_info().scopes >= {"read_orders", "read_products"}
        assert c.refreshes == 2
        assert sandbox.state.counters["tokens_issued"] == 2


def test_a_401_with_client_credentials_refreshes_once(sandbox: RunningShopifySandbox, clock: Clock) -> None:
    with client(sandbox, clock) as c:
        c.shop_info()
        sandbox.add_fault(kind="token_expired")
        assert c.shop_info().name == "Sandbox shop"
        assert c.refreshes == 2


def test_a_static_token_that_is_refused_is_an_auth_error(tmp_path: Path, clock: Clock) -> None:
    with run_shopify_sandbox(seeded_state(None, token="shpat_right")) as sb:
        assert client(sb, clock, client_id=None, client_secret=None, token="shpat_right").shop_info().currency
        c = client(sb, clock, client_id=None, client_secret=None, token="shpat_wrong_secret_value")
        with pytest.raises(ShopifyError) as err:
            c.shop_info()
        assert err.value.kind == "auth" and "shpat_wrong" not in str(err.value) and "shpat" not in repr(c)


def test_refused_client_credentials_and_a_host_that_is_not_shopify(clock: Clock) -> None:
    state = seeded_state(None)
    state.client_credentials = ("cid", "the_right_secret")
    with run_shopify_sandbox(state) as sb:
        assert client(sb, clock, client_secret="the_right_secret").shop_info().currency == "NOK"
        with pytest.raises(ShopifyError, match="client id or client secret was refused") as err:
            client(sb, clock, client_secret="shpss_wrong_one").shop_info()
        assert err.value.kind == "auth" and "shpss_wrong_one" not in str(err.value)
        with pytest.raises(ShopifyError, match="no Shopify token endpoint") as err:
            ShopifyClient(
                STORE, client_id="cid", client_secret="s", base_url=sb.url + "/elsewhere"
            ).shop_info()
        assert err.value.kind == "not_shopify"


def test_throttling_waits_for_the_bucket_and_never_fails(
    sandbox: RunningShopifySandbox, clock: Clock
) -> None:
    with client(sandbox, clock) as c:
        sandbox.add_fault(kind="throttle", count=3)
        costs = list(c.variant_costs(page_size=2))
        assert [v.sku for v in costs] == ["ULL-GENSER-M-GRA", "LUE-ULL-SORT", "SKJERF-RODT"]
        assert c.throttle_waits >= 1 and sandbox.state.counters["throttled"] >= 1
        assert costs[0].unit_cost == Decimal("310.50") and costs[0].currency == "NOK"
        assert costs[0].product_type == "Gensere" and costs[2].unit_cost is None


def test_5xx_backs_off_then_gives_up_with_one_line(sandbox: RunningShopifySandbox, clock: Clock) -> None:
    with client(sandbox, clock, max_retries=2) as c:
        sandbox.add_fault(kind="5xx", count=2)
        assert c.shop_info().currency == "NOK"
        sandbox.add_fault(kind="5xx", count=5)
        with pytest.raises(ShopifyError, match=r"kept failing \(503\)") as err:
            c.shop_info()
        assert err.value.kind == "server"


def test_bulk_to_file_downloads_the_jsonl_and_a_failed_operation_is_named(
    sandbox: RunningShopifySandbox, clock: Clock
) -> None:
    with client(sandbox, clock) as c:
        path = c.bulk_to_file("{ orders { edges { node { id } } } }", poll_s=0.0)
        assert path is not None
        try:
            assert path.read_bytes().count(b'"gid://shopify/Order/') >= 2
        finally:
            path.unlink()
        sandbox.add_fault(kind="bulk_failed")
        with pytest.raises(ShopifyError, match=r"ended FAILED \(INTERNAL_SERVER_ERROR\)"):
            c.bulk_to_file("{ orders { edges { node { id } } } }", poll_s=0.0)


def test_webhooks_create_list_update(sandbox: RunningShopifySandbox, clock: Clock) -> None:
    with client(sandbox, clock) as c:
        made = c.create_webhook("ORDERS_PAID", "https://poas.example/webhooks/shopify/nordlys")
        assert c.webhooks() == [made]
        moved = c.update_webhook(made["id"], "https://new.example/webhooks/shopify/nordlys")
        assert moved["uri"] == "https://new.example/webhooks/shopify/nordlys"
        with pytest.raises(ShopifyError, match="already been taken"):
            c.create_webhook("ORDERS_PAID", "https://new.example/webhooks/shopify/nordlys")


def test_check_store_wants_a_myshopify_domain() -> None:
    assert check_store("https://Nordlys.myshopify.com/") == "nordlys.myshopify.com"
    with pytest.raises(ValueError, match=r"NAME\.myshopify\.com"):
        check_store("nordlys.no")
