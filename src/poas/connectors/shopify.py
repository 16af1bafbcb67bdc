"""Shopify Admin GraphQL client on httpx: a client-credentials token refreshed before it expires (or
a static `shpat_` token), a pinned API version, and classified retries: THROTTLED waits for the cost
bucket to refill at its restoreRate, 5xx and network errors back off, a 401 with client credentials
refreshes the token once. Tokens and secrets never appear in errors, logs or `repr`.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import httpx

Kind = Literal["auth", "scope", "not_shopify", "server", "request", "bulk_failed"]
REFRESH_MARGIN_S = 300.0  # a token this close to expiry is replaced before use
STORE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")

WEBHOOKS_QUERY = "{ webhookSubscriptions(first: 100) { nodes { id topic uri } } }"
CREATE_WEBHOOK = (
    "mutation ($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) "
    "{ webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) "
    "{ webhookSubscription { id topic uri } userErrors { field message } } }"
)
UPDATE_WEBHOOK = (
    "mutation ($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) "
    "{ webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) "
    "{ webhookSubscription { id topic uri } userErrors { field message } } }"
)
DELETE_WEBHOOK = (
    "mutation ($id: ID!) { webhookSubscriptionDelete(id: $id) "
    "{ deletedWebhookSubscriptionId userErrors { field message } } }"
)
RUN_BULK = (
    "mutation ($query: String!) { bulkOperationRunQuery(query: $query) "
    "{ bulkOperation { id status } userErrors { field message code } } }"
)
BULK_BUSY = ("OPERATION_IN_PROGRESS", "LIMIT_REACHED")  # BulkOperationUserErrorCode: wait, then retry
POLL_BULK = (
    "query ($id: ID!) { node(id: $id) { ... on BulkOperation "
    "{ id status errorCode objectCount fileSize url partialDataUrl } } }"
)
VARIANTS_QUERY = (
    "query ($first: Int!, $after: String) { productVariants(first: $first, after: $after) "
    "{ nodes { id sku title product { title productType } "
    "inventoryItem { unitCost { amount currencyCode } } } "
    "pageInfo { hasNextPage endCursor } } }"
)
# A refund line costs 6 points (itself, lineItem, two MoneyBags of 2), a page of 25 is 152 and a refund
# node 153: six refunds a request stay under Shopify's 1,000-point single-query limit (918).
REFUND_PAGE = 25  # refund line items a page
REFUND_BATCH = 6  # refunds a `nodes(ids:)` request
_REFUND_LINE = (
    "nodes { lineItem { id } quantity restockType "
    "subtotalSet { shopMoney { amount currencyCode } } totalTaxSet { shopMoney { amount currencyCode } } } "
    "pageInfo { hasNextPage endCursor }"
)
REFUND_LINES_QUERY = (
    "query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Refund { id "
    f"refundLineItems(first: {REFUND_PAGE}) {{ {_REFUND_LINE} }} }} }} }}"
)
REFUND_LINES_MORE = (
    "query ($id: ID!, $after: String) { node(id: $id) { ... on Refund { id "
    f"refundLineItems(first: {REFUND_PAGE}, after: $after) {{ {_REFUND_LINE} }} }} }} }}"
)
COST_PROBE = "{ productVariants(first: 1) { nodes { id inventoryItem { unitCost { amount } } } } }"
SHOP_QUERY = (
    "{ shop { name currencyCode ianaTimezone taxesIncluded myshopifyDomain } "
    "currentAppInstallation { accessScopes { handle } } }"
)


class ShopifyError(RuntimeError):
    """A failed Admin API call; `kind` says what to fix (the message never holds a token)."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_store(store: str) -> str:
    """`NAME.myshopify.com` (lower-cased, without scheme or path), or a ValueError naming the rule."""
    value = store.strip().lower().removeprefix("https://").rstrip("/")
    if not STORE_RE.fullmatch(value):
        raise ValueError(f"--store {store!r}: expected the shop's NAME.myshopify.com domain")
    return value


@dataclass(frozen=True, slots=True)
class ShopInfo:
    name: str
    currency: str
    timezone: str
    taxes_included: bool
    domain: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class VariantCost:
    variant_id: str
    sku: str
    product_title: str
    variant_title: str
    product_type: str
    unit_cost: Decimal | None
    currency: str | None


class ShopifyClient:
    """One store's Admin API. With `client_id`/`client_secret` it exchanges them for tokens
    (client-credentials grant); with `token` it uses that static token."""

    def __init__(
        self,
        store: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        token: str | None = None,
        base_url: str = "",
        api_version: str = "2025-10",
        timeout_s: float = 30.0,
        max_retries: int = 5,
        max_throttle_waits: int = 200,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token and not (client_id and client_secret):
            raise ValueError("give either a token or a client id and client secret")
        self.store = store
        self.base_url = (base_url or f"https://{store}").rstrip("/")
        self.api_version = api_version
        self._client_id = client_id
        self._client_secret = client_secret
        self._static = token
        self._token: str | None = token
        self._expires_at = float("inf") if token else 0.0
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._max_retries = max_retries
        self._max_throttle_waits = max_throttle_waits
        self._sleep = sleep
        self._clock = clock
        self.throttle_waits = 0  # seconds spent waiting for the cost bucket (for progress / tests)
        self.refreshes = 0
        self.bulk_waits = 0  # times a bulk query waited for another one to finish

    def __repr__(self) -> str:
        return f"ShopifyClient(store={self.store!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def uses_client_credentials(self) -> bool:
        return self._static is None

    def _refresh(self) -> None:
        url = f"{self.base_url}/admin/oauth/access_token"
        body = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        try:
            resp = self._http.post(url, json=body)
        except httpx.TransportError as exc:
            raise ShopifyError(
                "server", f"{self.store}: cannot reach the shop ({type(exc).__name__})"
            ) from None
        if resp.status_code in (400, 401, 403):
            raise ShopifyError("auth", f"{self.store}: the client id or client secret was refused")
        try:
            data = resp.json()
            token = str(data["access_token"])
            ttl = float(data.get("expires_in", 86399))
        except (ValueError, KeyError, TypeError):
            raise ShopifyError(
                "not_shopify", f"{self.store}: no Shopify token endpoint answered there"
            ) from None
        self._token = token
        self._expires_at = self._clock() + ttl
        self.refreshes += 1

    def _current_token(self) -> str:
        if self._static is None and (
            self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_S
        ):
            self._refresh()
        assert self._token is not None
        return self._token

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a query, after throttle waits and classified retries."""
        url = f"{self.base_url}/admin/api/{self.api_version}/graphql.json"
        failures = 0
        refreshed = False
        throttled = 0
        while True:
            headers = {"X-Shopify-Access-Token": self._current_token(), "Content-Type": "application/json"}
            try:
                resp = self._http.post(
                    url, json={"query": query, "variables": dict(variables or {})}, headers=headers
                )
            except httpx.TransportError as exc:
                failures += 1
                if failures > self._max_retries:
                    raise ShopifyError(
                        "server", f"{self.store}: the Admin API did not answer ({type(exc).__name__})"
                    ) from None
                self._sleep(min(30.0, 0.5 * 2**failures))
                continue
            if resp.status_code == 401:
                if self.uses_client_credentials and not refreshed:
                    refreshed = True
                    self._token = None
                    continue
                raise ShopifyError("auth", f"{self.store}: the access token was refused (401)")
            if resp.status_code == 403:
                raise ShopifyError("scope", f"{self.store}: the app lacks a permission this call needs (403)")
            if resp.status_code == 404:
                raise ShopifyError(
                    "not_shopify", f"{self.store}: no Admin API {self.api_version} there (404)"
                )
            if resp.status_code == 429 or resp.status_code >= 500:
                failures += 1
                if failures > self._max_retries:
                    raise ShopifyError(
                        "server", f"{self.store}: the Admin API kept failing ({resp.status_code})"
                    )
                retry_after = resp.headers.get("Retry-After")
                wait = (
                    float(retry_after)
                    if retry_after and retry_after.replace(".", "", 1).isdigit()
                    else 0.5 * 2**failures
                )
                self._sleep(min(60.0, wait))
                continue
            try:
                body = resp.json()
            except ValueError:
                raise ShopifyError(
                    "not_shopify", f"{self.store}: the Admin API answered something not JSON"
                ) from None
            errors = body.get("errors") if isinstance(body, dict) else None
            if errors:
                if _throttled(errors):
                    throttled += 1
                    if throttled > self._max_throttle_waits:
                        raise ShopifyError(
                            "server", f"{self.store}: still throttled after {throttled - 1} waits"
                        )
                    wait = _throttle_wait(body)
                    self.throttle_waits += 1
                    self._sleep(wait)
                    continue
                if _denied(errors):
                    raise ShopifyError("scope", f"{self.store}: Shopify refused a field: {_messages(errors)}")
                raise ShopifyError("request", f"{self.store}: GraphQL error: {_messages(errors)}")
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise ShopifyError("not_shopify", f"{self.store}: the Admin API answer has no data")
            return data

    # --- what poas reads and writes ---

    def shop_info(self) -> ShopInfo:
        data = self.graphql(SHOP_QUERY)
        shop = data.get("shop") or {}
        scopes = (data.get("currentAppInstallation") or {}).get("accessScopes") or []
        return ShopInfo(
            name=str(shop.get("name") or ""),
            currency=str(shop.get("currencyCode") or ""),
            timezone=str(shop.get("ianaTimezone") or ""),
            taxes_included=bool(shop.get("taxesIncluded")),
            domain=str(shop.get("myshopifyDomain") or self.store),
            scopes=frozenset(str(s.get("handle")) for s in scopes if isinstance(s, Mapping)),
        )

    def webhooks(self) -> list[dict[str, Any]]:
        nodes = (self.graphql(WEBHOOKS_QUERY).get("webhookSubscriptions") or {}).get("nodes") or []
        return [dict(n) for n in nodes if isinstance(n, Mapping)]

    def create_webhook(self, topic: str, uri: str) -> dict[str, Any]:
        out = self.graphql(
            CREATE_WEBHOOK, {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}}
        )
        return _mutation_result(out, "webhookSubscriptionCreate", self.store)

    def update_webhook(self, gid: str, uri: str) -> dict[str, Any]:
        out = self.graphql(UPDATE_WEBHOOK, {"id": gid, "webhookSubscription": {"uri": uri}})
        return _mutation_result(out, "webhookSubscriptionUpdate", self.store)

    def delete_webhook(self, gid: str) -> None:
        out = self.graphql(DELETE_WEBHOOK, {"id": gid})
        errors = (out.get("webhookSubscriptionDelete") or {}).get("userErrors") or []
        if errors:
            raise ShopifyError("request", f"{self.store}: webhookSubscriptionDelete: {_messages(errors)}")

    def bulk_to_file(self, inner_query: str, *, poll_s: float = 1.0, max_polls: int = 100_000) -> Path | None:
        """Run a bulk query to COMPLETED and download its JSONL to a temporary file (the caller
        deletes it); None when the result is empty."""
        op = self._start_bulk(inner_query, poll_s, max_polls)
        gid = str(op["id"])
        node: Mapping[str, Any] = op
        for _ in range(max_polls):
            node = self.graphql(POLL_BULK, {"id": gid}).get("node") or {}
            status = node.get("status")
            if status == "COMPLETED":
                break
            if status in ("FAILED", "CANCELED", "CANCELLED", "EXPIRED"):
                raise ShopifyError(
                    "bulk_failed",
                    f"{self.store}: the bulk operation ended {status} ({node.get('errorCode')})",
                )
            self._sleep(poll_s)
        else:
            raise ShopifyError("bulk_failed", f"{self.store}: the bulk operation did not finish")
        url = node.get("url")
        if not url:
            return None
        handle = tempfile.NamedTemporaryFile(prefix="poas-shopify-", suffix=".jsonl", delete=False)  # noqa: SIM115
        try:
            with handle, self._http.stream("GET", str(url)) as resp:  # a signed URL: no token sent
                if resp.status_code != 200:
                    raise ShopifyError(
                        "server", f"{self.store}: the bulk result download failed ({resp.status_code})"
                    )
                for chunk in resp.iter_bytes():
                    handle.write(chunk)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        return Path(handle.name)

    def refund_lines(self, refund_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Every refund line item of the given Refund gids (`nodes(ids:)` in batches, then the further
        pages of a refund with more); a refund Shopify does not know is left out."""
        found: dict[str, list[dict[str, Any]]] = {}
        more: list[tuple[str, str]] = []
        for start in range(0, len(refund_ids), REFUND_BATCH):
            batch = list(refund_ids[start : start + REFUND_BATCH])
            for node in self.graphql(REFUND_LINES_QUERY, {"ids": batch}).get("nodes") or []:
                if isinstance(node, Mapping) and node.get("id"):
                    gid = str(node["id"])
                    cursor = _take_page(found.setdefault(gid, []), node.get("refundLineItems"))
                    if cursor is not None:
                        more.append((gid, cursor))
        for gid, cursor in more:
            after: str | None = cursor
            while after is not None:
                node = self.graphql(REFUND_LINES_MORE, {"id": gid, "after": after}).get("node") or {}
                page = node.get("refundLineItems") if isinstance(node, Mapping) else None
                after = _take_page(found[gid], page)
        return found

    def _start_bulk(self, inner_query: str, poll_s: float, max_waits: int) -> dict[str, Any]:
        """Start the bulk query; while the shop is running as many as the API version allows (another
        poas process's sync or reconciliation), wait for a place instead of failing."""
        for _ in range(max_waits):
            result = self.graphql(RUN_BULK, {"query": inner_query}).get("bulkOperationRunQuery") or {}
            errors = result.get("userErrors") or []
            busy = [e for e in errors if isinstance(e, Mapping) and e.get("code") in BULK_BUSY]
            if not busy or len(busy) != len(errors):
                return _mutation_result({"bulkOperationRunQuery": result}, "bulkOperationRunQuery",
                                        self.store, key="bulkOperation")  # fmt: skip
            self.bulk_waits += 1
            self._sleep(max(poll_s, 0.05))
        raise ShopifyError(
            "bulk_failed", f"{self.store}: another bulk operation kept running; try again later"
        )

    def can_read_costs(self) -> None:
        """Raise ShopifyError (kind `scope`) when Shopify will not show this app the unit costs."""
        self.graphql(COST_PROBE)

    def variant_costs(self, page_size: int = 100) -> Iterator[VariantCost]:
        after: str | None = None
        while True:
            conn = (
                self.graphql(VARIANTS_QUERY, {"first": page_size, "after": after}).get("productVariants")
                or {}
            )
            for node in conn.get("nodes") or []:
                if isinstance(node, Mapping):
                    yield _variant(node)
            info = conn.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = str(info.get("endCursor"))


def _take_page(into: list[dict[str, Any]], conn: Any) -> str | None:
    """Append a connection page's nodes; the cursor of the next page, or None when it was the last."""
    if not isinstance(conn, Mapping):
        return None
    into.extend(dict(n) for n in conn.get("nodes") or [] if isinstance(n, Mapping))
    info = conn.get("pageInfo") or {}
    return str(info["endCursor"]) if info.get("hasNextPage") and info.get("endCursor") else None


def _denied(errors: Any) -> bool:
    """An ACCESS_DENIED error (a scope or a staff permission the app lacks, e.g. unitCost without the
    permission to view product costs)."""
    return isinstance(errors, list) and any(
        isinstance(e, Mapping) and (e.get("extensions") or {}).get("code") == "ACCESS_DENIED" for e in errors
    )


def _throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, Mapping) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    )


def _throttle_wait(body: Mapping[str, Any]) -> float:
    """Seconds until the bucket holds the requested cost again, from extensions.cost."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        need = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 50.0)
    except (TypeError, ValueError):
        return 1.0
    return min(60.0, max(0.1, need / rate if rate > 0 else 1.0))


def _messages(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(str(e.get("message")) for e in errors if isinstance(e, Mapping))[:300]
    return str(errors)[:300]


def _mutation_result(
    data: Mapping[str, Any], name: str, store: str, key: str = "webhookSubscription"
) -> dict[str, Any]:
    result = data.get(name) or {}
    errors = result.get("userErrors") or []
    if errors:
        raise ShopifyError("request", f"{store}: {name}: {_messages(errors)}")
    value = result.get(key)
    if not isinstance(value, Mapping):
        raise ShopifyError("request", f"{store}: {name} returned nothing")
    return dict(value)


def _variant(node: Mapping[str, Any]) -> VariantCost:
    product = node.get("product") or {}
    cost = (node.get("inventoryItem") or {}).get("unitCost")
    amount: Decimal | None = None
    currency: str | None = None
    if isinstance(cost, Mapping) and cost.get("amount") is not None:
        try:
            amount = Decimal(str(cost["amount"]))
        except InvalidOperation:
            amount = None
        currency = str(cost.get("currencyCode") or "") or None
    return VariantCost(
        variant_id=str(node.get("id") or "").rsplit("/", 1)[-1],
        sku=str(node.get("sku") or ""),
        product_title=str(product.get("title") or ""),
        variant_title=str(node.get("title") or ""),
        product_type=str(product.get("productType") or ""),
        unit_cost=amount,
        currency=currency,
    )
