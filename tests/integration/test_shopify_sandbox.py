"""The Shopify sandbox over real HTTP: the client-credentials grant and token expiry, cost throttling,
webhook subscriptions, the bulk-operation lifecycle and its JSONL (read back by the bulk importer into
the same orders as the REST webhook bodies), variants with unit costs, and injected faults."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from poas.connectors.shopify import ShopifyClient
from poas.connectors.shopify_refund_lines import attach_refund_lines
from poas.connectors.shopify_sandbox import (
    INVALID_TOKEN,
    RunningShopifySandbox,
    ShopifyState,
    run_shopify_sandbox,
    seeded_state,
)
from poas.connectors.shopify_sandbox_data import SeedError, load_variants
from poas.domain.order import Order
from poas.sources import shopify
from poas.sources.shopify_bulk import read_bulk

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
SEED_ORDERS = ("order_paid_not_subscribed.json", "order_updated_refunded.json")
VARIANTS_CSV = (
    "variant_id,sku,product_title,variant_title,product_type,unit_cost,currency\n"
    "44021137555656,ULL-GENSER-M-GRA,Ullgenser,M / Grå,Gensere,310.50,NOK\n"
    "44021137588424,LUE-ULL-SORT,Lue,Sort,Luer,42.00,NOK\n"
    "44021137599999,SKJERF-RODT,Skjerf,Rødt,Skjerf,,NOK\n"
)
GQL = "/admin/api/2025-10/graphql.json"


def make_seed(root: Path) -> Path:
    (root / "orders").mkdir(parents=True)
    for name in SEED_ORDERS:
        shutil.copy(FIXTURES / name, root / "orders" / name)
    (root / "variants.csv").write_text(VARIANTS_CSV, encoding="utf-8")
    return root


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(tmp_path: Path, clock: Clock) -> Iterator[RunningShopifySandbox]:
    state = seeded_state(make_seed(tmp_path / "seed"))
    state.now_s = clock
    with run_shopify_sandbox(state) as running:
        yield running


def gql(
    sb: RunningShopifySandbox, query: str, variables: dict[str, Any] | None = None, token: str = "shpat_x"
) -> httpx.Response:
    return httpx.post(
        sb.url + GQL,
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
    )


def test_client_credentials_grant_issues_a_token_that_expires(
    sandbox: RunningShopifySandbox, clock: Clock
) -> None:
    r = httpx.post(
        sandbox.url + "/admin/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 86399
    assert set(body["scope"].split(",")) == {"read_orders", "read_products", "read_inventory"}
    token = body["access_token"]
    assert gql(sandbox, "{ shop { name } }", token=token).status_code == 200
    clock.t += 86400
    expired = gql(sandbox, "{ shop { name } }", token=token)
    assert expired.status_code == 401
    assert expired.json() == {"errors": INVALID_TOKEN}


def test_token_grant_rejects_another_grant_type_and_missing_secret(sandbox: RunningShopifySandbox) -> None:
    url = sandbox.url + "/admin/oauth/access_token"
    assert httpx.post(url, json={"grant_type": "authorization_code", "client_id": "a"}).status_code == 400
    r = httpx.post(url, json={"grant_type": "client_credentials", "client_id": "a"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"


def test_no_token_or_the_wrong_static_token_is_refused(tmp_path: Path) -> None:
    with run_shopify_sandbox(seeded_state(None, token="shpat_right")) as sb:
        assert gql(sb, "{ shop { name } }", token="").status_code == 401
        assert gql(sb, "{ shop { name } }", token="shpat_wrong").status_code == 401
        ok = gql(sb, "{ shop { name currencyCode } }", token="shpat_right")
        assert ok.status_code == 200 and ok.json()["data"]["shop"]["currencyCode"] == "NOK"


def test_shop_and_scopes_carry_cost_extensions(sandbox: RunningShopifySandbox) -> None:
    r = gql(
        sandbox,
        "{ shop { name currencyCode ianaTimezone taxesIncluded myshopifyDomain } "
        "currentAppInstallation { accessScopes { handle } } }",
    )
    body = r.json()
    assert body["data"]["shop"]["taxesIncluded"] is True
    assert body["data"]["shop"]["ianaTimezone"] == "Europe/Oslo"
    handles = {s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]}
    assert "read_orders" in handles
    status = body["extensions"]["cost"]["throttleStatus"]
    assert status["maximumAvailable"] == 2000.0 and status["currentlyAvailable"] < 2000


def test_throttling_answers_throttled_until_the_bucket_restores(
    sandbox: RunningShopifySandbox, clock: Clock
) -> None:
    sandbox.add_fault(kind="throttle")
    r = gql(sandbox, "{ productVariants(first: 100) { nodes { id } } }")
    body = r.json()
    assert r.status_code == 200
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in body
    status = body["extensions"]["cost"]["throttleStatus"]
    assert status["currentlyAvailable"] == 0 and status["restoreRate"] == 100.0
    clock.t += 2  # 200 points restored: enough for a 103-point query
    assert "errors" not in gql(sandbox, "{ productVariants(first: 100) { nodes { id } } }").json()


def test_faults_5xx_and_expired_token(sandbox: RunningShopifySandbox) -> None:
    httpx.post(sandbox.url + "/_sandbox/faults", json={"kind": "5xx", "code": 502})
    assert gql(sandbox, "{ shop { name } }").status_code == 502
    assert gql(sandbox, "{ shop { name } }").status_code == 200  # count 1: once
    grant = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}
    token = httpx.post(sandbox.url + "/admin/oauth/access_token", json=grant).json()["access_token"]
    sandbox.add_fault(kind="token_expired")
    assert gql(sandbox, "{ shop { name } }", token=token).status_code == 401
    fresh = httpx.post(sandbox.url + "/admin/oauth/access_token", json=grant).json()["access_token"]
    assert gql(sandbox, "{ shop { name } }", token=fresh).status_code == 200


CREATE = (
    "mutation ($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) "
    "{ webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) "
    "{ webhookSubscription { id topic uri } userErrors { field message } } }"
)


def test_webhook_subscriptions_are_unique_per_topic_and_url(sandbox: RunningShopifySandbox) -> None:
    variables = {
        "topic": "ORDERS_PAID",
        "webhookSubscription": {"uri": "https://poas.example/webhooks/shopify/s"},
    }
    first = gql(sandbox, CREATE, variables).json()["data"]["webhookSubscriptionCreate"]
    assert first["userErrors"] == [] and first["webhookSubscription"]["topic"] == "ORDERS_PAID"
    again = gql(sandbox, CREATE, variables).json()["data"]["webhookSubscriptionCreate"]
    assert again["webhookSubscription"] is None
    assert "already been taken" in again["userErrors"][0]["message"]
    listed = gql(sandbox, "{ webhookSubscriptions(first: 100) { nodes { id topic uri } } }").json()
    assert [n["topic"] for n in listed["data"]["webhookSubscriptions"]["nodes"]] == ["ORDERS_PAID"]
    bad = gql(
        sandbox, CREATE, {"topic": "ORDERS_PAID", "webhookSubscription": {"uri": "http://plain"}}
    ).json()
    assert bad["data"]["webhookSubscriptionCreate"]["userErrors"][0]["field"] == ["callbackUrl"]


RUN = (
    "mutation ($query: String!) { bulkOperationRunQuery(query: $query) "
    "{ bulkOperation { id status } userErrors { field message } } }"
)
POLL = "query ($id: ID!) { node(id: $id) { ... on BulkOperation { id status errorCode url objectCount } } }"


def run_bulk(sb: RunningShopifySandbox, inner: str) -> tuple[list[str], dict[str, Any]]:
    op = gql(sb, RUN, {"query": inner}).json()["data"]["bulkOperationRunQuery"]
    assert op["userErrors"] == []
    statuses = [op["bulkOperation"]["status"]]
    node: dict[str, Any] = {}
    while statuses[-1] not in ("COMPLETED", "FAILED"):
        node = gql(sb, POLL, {"id": op["bulkOperation"]["id"]}).json()["data"]["node"]
        statuses.append(node["status"])
    return statuses, node


def test_bulk_orders_jsonl_reads_back_as_the_webhook_orders(
    sandbox: RunningShopifySandbox, tmp_path: Path
) -> None:
    statuses, node = run_bulk(
        sandbox, "{ orders { edges { node { id lineItems { edges { node { id } } } } } } }"
    )
    assert statuses == ["CREATED", "RUNNING", "COMPLETED"]
    body = httpx.get(node["url"]).content
    rows = [orjson.loads(line) for line in body.splitlines()]
    assert int(node["objectCount"]) == len(rows)
    kinds = {r["id"].split("/")[3] for r in rows if "__parentId" in r}
    assert kinds == {"LineItem", "ShippingLine"}
    # a bulk query cannot select a refund's line items (Order.refunds is a list): read with nodes(ids:)
    refunds = [r for row in rows for r in row.get("refunds") or []]
    assert refunds and all("refundLineItems" not in r for r in refunds)
    jsonl = tmp_path / "orders.jsonl"
    jsonl.write_bytes(body)
    with ShopifyClient("nordlys.myshopify.com", token="shpat_x", base_url=sandbox.url) as client:
        assert attach_refund_lines(client, jsonl) == len(refunds)
    body = jsonl.read_bytes()
    from_bulk = [o for o in read_bulk(io.BytesIO(body), "nordlys") if isinstance(o, Order)]
    expected = [
        shopify.parse_order(orjson.loads((FIXTURES / n).read_bytes()), "nordlys") for n in SEED_ORDERS
    ]
    assert len(from_bulk) == 2
    for got, want in zip(from_bulk, expected, strict=True):
        # the bulk rows carry no product type or weight (the importer's GraphQL query reads neither)
        lines = tuple(replace(li, category=None, grams=0) for li in want.lines)
        # nor the browser's user agent (an Order has no such field)
        attribution = replace(want.attribution, user_agent=None)
        assert got == replace(want, lines=lines, attribution=attribution)


def test_bulk_orders_since_filters_by_updated_at(sandbox: RunningShopifySandbox) -> None:
    _, node = run_bulk(
        sandbox, "{ orders(query: \"updated_at:>='2026-11-22T00:00:00Z'\") { edges { node { id } } } }"
    )
    ids = [
        orjson.loads(x)["id"] for x in httpx.get(node["url"]).content.splitlines() if b"__parentId" not in x
    ]
    assert ids == ["gid://shopify/Order/5830120800456"]


def test_a_failing_bulk_operation_ends_failed_without_a_file(sandbox: RunningShopifySandbox) -> None:
    sandbox.add_fault(kind="bulk_failed")
    statuses, node = run_bulk(sandbox, "{ orders { edges { node { id } } } }")
    assert statuses[-1] == "FAILED" and node["errorCode"] == "INTERNAL_SERVER_ERROR" and node["url"] is None


def test_one_bulk_operation_at_a_time(sandbox: RunningShopifySandbox) -> None:
    gql(sandbox, RUN, {"query": "{ orders { edges { node { id } } } }"})
    second = gql(sandbox, RUN, {"query": "{ orders { edges { node { id } } } }"}).json()
    assert "already in progress" in second["data"]["bulkOperationRunQuery"]["userErrors"][0]["message"]


def test_product_variants_carry_unit_costs_and_page(sandbox: RunningShopifySandbox) -> None:
    q = (
        "query ($first: Int, $after: String) "
        "{ productVariants(first: $first, after: $after) { nodes { id } } }"
    )
    page1 = gql(sandbox, q, {"first": 2}).json()["data"]["productVariants"]
    assert page1["pageInfo"]["hasNextPage"] is True
    first = page1["nodes"][0]
    assert first["sku"] == "ULL-GENSER-M-GRA"
    assert first["inventoryItem"]["unitCost"] == {"amount": "310.50", "currencyCode": "NOK"}
    assert first["product"] == {"title": "Ullgenser", "productType": "Gensere"}
    page2 = gql(sandbox, q, {"first": 2, "after": page1["pageInfo"]["endCursor"]}).json()["data"][
        "productVariants"
    ]
    assert (
        page2["nodes"][0]["inventoryItem"]["unitCost"] is None and page2["pageInfo"]["hasNextPage"] is False
    )


def test_a_bad_seed_names_the_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "variants.csv"
    path.write_text(
        "variant_id,sku,product_title,variant_title,product_type,unit_cost,currency\n1,A,T,V,P,abc,NOK\n"
    )
    with pytest.raises(SeedError, match=r"variants.csv line 2: unit_cost 'abc'"):
        load_variants(path)
    path.write_text("variant_id,sku\n1,A\n")
    with pytest.raises(SeedError, match="missing column"):
        load_variants(path)
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "x.json").write_text("{not json")
    with pytest.raises(SeedError, match=r"x.json: not valid JSON"):
        seeded_state(tmp_path)


def test_state_default_is_empty() -> None:
    assert ShopifyState().orders == [] and ShopifyState().variants == []
