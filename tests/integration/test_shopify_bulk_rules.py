"""Shopify's documented bulk-query restrictions (shopify.dev bulk-operations/queries, "Operation
restrictions"), enforced by the sandbox as `userErrors` (code INVALID) the way the Admin API answers:
the orders query poas sends passes them; the query poas sent before (refundLineItems, a connection,
inside Order.refunds, a list) is refused; refund line items come from `nodes(ids:)`, batched and
paged; and connect + sync store the seed's orders with their refunds, on both engines."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import Result
from sqlalchemy import Engine
from test_shopify_sandbox import FIXTURES, GQL, SEED_ORDERS, make_seed
from typer.testing import CliRunner

import poas.cli  # registers every command
from poas.connectors.shopify import REFUND_BATCH, REFUND_PAGE, ShopifyClient, ShopifyError
from poas.connectors.shopify_bulk_rules import LIST_FIELD_MESSAGE, bulk_query_problems
from poas.connectors.shopify_query_cost import MAX_QUERY_COST, requested_cost
from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state
from poas.services.shopify_sync import orders_query
from poas.sources import shopify
from poas.store.orders import load_orders, stored_form

appmod = importlib.import_module("poas.cli.app")
_M = "{ shopMoney { amount currencyCode } }"
# The orders query poas sent before: refundLineItems is a connection inside Order.refunds, a list
OLD_QUERY = (
    "{ orders { edges { node { id refunds { id createdAt refundLineItems(first: 250) "
    f"{{ nodes {{ lineItem {{ id }} quantity subtotalSet {_M} }} }} }} "
    "lineItems { edges { node { id } } } } } } }"
)
RUN = (
    "mutation ($query: String!) { bulkOperationRunQuery(query: $query) "
    "{ bulkOperation { id status } userErrors { field message code } } }"
)


def test_the_orders_query_poas_sends_keeps_the_documented_limits() -> None:
    assert bulk_query_problems(orders_query(None)) == []
    assert bulk_query_problems(orders_query(datetime(2026, 11, 1, tzinfo=UTC))) == []
    assert bulk_query_problems(OLD_QUERY) == [LIST_FIELD_MESSAGE]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (  # six connections
            "{ orders { edges { node { id a1: lineItems { nodes { id } } a2: shippingLines { nodes { id } } "
            "a3: events { nodes { id } } a4: metafields { nodes { id } } a5: fulfillmentOrders "
            "{ nodes { id } } } } } }",
            "at most 5 connections; this one has 6",
        ),
        (  # three levels of nested connections (the guide's products/variants/images/metafields)
            "{ products { edges { node { id variants { edges { node { id media { edges { node { id "
            "metafields { edges { node { value } } } } } } } } } } } } }",
            "`metafields` is nested 3 levels deep",
        ),
        ('{ node(id: "gid://shopify/Order/1") { id } }', "top-level `node` and `nodes`"),
        ("{ shop { name } }", "needs a connection field"),
        ("{ orders { edges { node { id } } } products { nodes { id } } }", "exactly one top-level field"),
        ("{ orders { edges { node { id ", "Invalid bulk query"),
    ],
)
def test_a_query_breaking_a_documented_limit_is_named(query: str, problem: str) -> None:
    assert any(problem in p for p in bulk_query_problems(query)), bulk_query_problems(query)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningShopifySandbox]:
    with run_shopify_sandbox(seeded_state(make_seed(tmp_path / "seed"))) as sb:
        yield sb


def test_the_sandbox_refuses_the_old_query_as_shopify_does(sandbox: RunningShopifySandbox) -> None:
    answer = httpx.post(
        sandbox.url + GQL,
        json={"query": RUN, "variables": {"query": OLD_QUERY}},
        headers={"X-Shopify-Access-Token": "shpat_x"},
    ).json()["data"]["bulkOperationRunQuery"]
    assert answer == {
        "bulkOperation": None,
        "userErrors": [{"field": ["query"], "message": LIST_FIELD_MESSAGE, "code": "INVALID"}],
    }
    assert sandbox.state.bulks == {}  # nothing started
    with (
        ShopifyClient("nordlys.myshopify.com", token="shpat_x", base_url=sandbox.url) as client,
        pytest.raises(ShopifyError) as failed,
    ):
        client.bulk_to_file(OLD_QUERY, poll_s=0)
    assert failed.value.kind == "request" and LIST_FIELD_MESSAGE in str(failed.value)


def test_refund_lines_are_read_in_batches_and_pages(sandbox: RunningShopifySandbox) -> None:
    base = orjson.loads((FIXTURES / "order_updated_refunded.json").read_bytes())
    refund = base["refunds"][0]
    many = REFUND_PAGE * 2 + 3  # three pages
    ids = []
    for n in range(REFUND_BATCH + 2):  # two nodes(ids:) batches
        order = copy.deepcopy(base)
        order["id"] = 7700000000 + n
        r = copy.deepcopy(refund)
        r["id"] = 9900000000 + n
        r["refund_line_items"] = [
            {**refund["refund_line_items"][0], "id": 1000 + i, "quantity": 1 + i % 3}
            for i in range(many if n == 0 else 1)
        ]
        order["refunds"] = [r]
        httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order).raise_for_status()
        ids.append(f"gid://shopify/Refund/{r['id']}")
    with ShopifyClient("nordlys.myshopify.com", token="shpat_x", base_url=sandbox.url) as client:
        found = client.refund_lines([*ids, "gid://shopify/Refund/404"])
    assert set(found) == set(ids)  # an unknown refund is null and left out
    assert [ln["quantity"] for ln in found[ids[0]]] == [1 + i % 3 for i in range(many)]  # in order
    assert all(len(found[gid]) == 1 for gid in ids[1:])


@pytest.fixture
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.delenv("POAS_CONFIG_FILE", raising=False)
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield home
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


def poas(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def test_connect_and_sync_store_the_seeds_orders_and_refunds(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sandbox.url)
    connected = poas(
        *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
        *("--token", "shpat_bulk_rules_0123456789", "--public-url", "https://poas.example.no"),
    )
    assert connected.exit_code == 0, connected.output
    synced = poas("sync", "nordlys")
    assert synced.exit_code == 0, synced.output
    seed = [shopify.parse_order(orjson.loads((FIXTURES / n).read_bytes()), "nordlys") for n in SEED_ORDERS]
    with engine.connect() as conn:
        stored = load_orders(conn, "nordlys", [o.order_id for o in seed])
    catalogue = {"ULL-GENSER-M-GRA": "Gensere", "LUE-ULL-SORT": "Luer"}  # variants.csv's product types
    for want in map(stored_form, seed):
        # a bulk row has no weight or user agent; the category is the synced product type
        lines = tuple(replace(li, category=catalogue[li.sku or ""], grams=0) for li in want.lines)
        expected: Any = replace(want, lines=lines, attribution=replace(want.attribution, user_agent=None))
        assert stored[want.order_id] == expected
    refunded = stored["5830120800456"].refunds
    assert len(refunded) == 1 and [ln.quantity for ln in refunded[0].lines] == [1]


def test_every_query_poas_sends_stays_under_the_single_query_cost_limit() -> None:
    from poas.connectors import shopify as api

    assert requested_cost("{ products(first: 1) { edges { node { title } } } }") == 3  # shopify.dev's
    sent = {
        "refund lines": requested_cost(api.REFUND_LINES_QUERY, {"ids": ["gid"] * REFUND_BATCH}),
        "refund lines, more": requested_cost(api.REFUND_LINES_MORE, {"id": "gid", "after": "1"}),
        "variants": requested_cost(api.VARIANTS_QUERY, {"first": 100, "after": None}),
        "webhooks": requested_cost(api.WEBHOOKS_QUERY),
        "shop": requested_cost(api.SHOP_QUERY),
        "poll": requested_cost(api.POLL_BULK, {"id": "gid"}),
    }
    assert all(0 < cost <= MAX_QUERY_COST for cost in sent.values()), sent
    assert requested_cost(api.RUN_BULK, {"query": OLD_QUERY}) == 10  # a mutation


def test_a_query_over_the_cost_limit_is_refused_before_it_runs(sandbox: RunningShopifySandbox) -> None:
    from poas.connectors import shopify as api

    too_many = {"ids": ["gid://shopify/Refund/1020304050"] * 7}  # 7 × 153 points
    with (
        ShopifyClient("nordlys.myshopify.com", token="shpat_x", base_url=sandbox.url) as client,
        pytest.raises(ShopifyError) as refused,
    ):
        client.graphql(api.REFUND_LINES_QUERY, too_many)
    assert refused.value.kind == "request" and "exceeds the single query max cost limit (1000)" in str(
        refused.value
    )
    assert sandbox.state.counters["max_cost_exceeded"] == 1
