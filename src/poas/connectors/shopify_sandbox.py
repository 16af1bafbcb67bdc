"""The Shopify sandbox: a local Admin API (client-credentials grant, GraphQL with cost throttling,
webhook subscriptions, bulk operations) over seeded orders and variants, with injectable faults.

It answers the GraphQL documents poas sends by the root fields they name (it is no GraphQL engine):
`shop`, `currentAppInstallation`, `webhookSubscriptions`, `webhookSubscriptionCreate`/`Update`,
`bulkOperationRunQuery`, `currentBulkOperation`, `node(id:)` and `productVariants`; each root is
answered with all the fields poas reads. Control routes live under `/_sandbox/`.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import io
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from poas.connectors.shopify_bulk_rules import bulk_query_problems
from poas.connectors.shopify_query_cost import MAX_QUERY_COST, requested_cost
from poas.connectors.shopify_sandbox_data import (
    Variant,
    bulk_rows,
    load_orders,
    load_variants,
    refund_nodes,
    variant_node,
)
from poas.local_server import serve_in_thread

FaultKind = Literal["throttle", "5xx", "token_expired", "bulk_failed", "webhook_create"]
TOKEN_TTL_S = 86399
CONCURRENT_BULK_VERSION = "2026-01"  # from this API version an app may run several bulk queries
MAX_CONCURRENT_BULK = 5
BUCKET_MAX = 2000.0
RESTORE_RATE = 100.0
DEFAULT_SCOPES = ("read_orders", "read_products", "read_inventory")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class FaultSpec(BaseModel):
    """A fault to inject on the next `count` matching requests (None: until cleared)."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    count: int | None = Field(1, ge=1)
    code: int = Field(503, ge=500, le=599)  # 5xx: the status
    after: int = Field(0, ge=0)  # let this many matching requests through first


@dataclass
class Bulk:
    id: str
    query: str
    polls: int = 0
    status: str = "CREATED"
    error_code: str | None = None
    body: bytes = b""
    object_count: int = 0


@dataclass
class ShopifyState:
    """Everything the sandbox remembers; every method takes the lock."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    shop_name: str = "Sandbox shop"
    currency: str = "NOK"
    timezone: str = "Europe/Oslo"
    taxes_included: bool = True
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    static_token: str | None = None
    client_credentials: tuple[str, str] | None = None  # set: only this client id and secret get tokens
    webhook_secret: str = (
        "shpss_sandbox_webhook_secret"  # signs deliveries; a granted client secret replaces it
    )
    domain: str = "sandbox.myshopify.com"
    now_s: Callable[[], float] = time.time
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, float] = field(default_factory=dict)  # issued token → expiry (epoch s)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulks: dict[str, Bulk] = field(default_factory=dict)
    faults: list[tuple[FaultSpec, list[int | None]]] = field(default_factory=list)
    available: float = BUCKET_MAX
    refilled_at: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    cost_access: bool = True  # False: unitCost is denied (no permission to view product costs)
    _seq: int = 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def add_fault(self, spec: FaultSpec) -> None:
        with self.lock:
            self.faults.append((spec, [spec.count, spec.after]))

    def take_fault(self, kinds: tuple[str, ...]) -> FaultSpec | None:
        with self.lock:
            for entry in list(self.faults):
                spec, left = entry
                if spec.kind not in kinds:
                    continue
                if left[1]:  # still letting requests through
                    left[1] -= 1
                    continue
                if left[0] is not None:
                    left[0] -= 1
                    if left[0] <= 0:
                        self.faults.remove(entry)
                self.count(f"fault_{spec.kind}")
                return spec
        return None

    def issue_token(self) -> str:
        with self.lock:
            token = "shpca_" + secrets.token_hex(16)
            self.tokens[token] = self.now_s() + TOKEN_TTL_S
            self.count("tokens_issued")
            return token

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def token_ok(self, token: str) -> bool:
        if not token:
            return False
        with self.lock:
            if token in self.tokens:
                return self.tokens[token] > self.now_s()
        if self.static_token is not None:
            return secrets.compare_digest(token, self.static_token)
        return not token.startswith("shpca_")  # any other non-empty token is accepted

    def spend(self, cost: int) -> tuple[bool, dict[str, Any]]:
        """Take `cost` points from the leaky bucket; (allowed, throttleStatus)."""
        with self.lock:
            now = self.now_s()
            if self.refilled_at:
                self.available = min(BUCKET_MAX, self.available + (now - self.refilled_at) * RESTORE_RATE)
            self.refilled_at = now
            allowed = self.available >= cost
            if allowed:
                self.available -= cost
            status = {
                "maximumAvailable": BUCKET_MAX,
                "currentlyAvailable": int(self.available),
                "restoreRate": RESTORE_RATE,
            }
            return allowed, status

    def drain(self) -> None:
        with self.lock:
            self.available = 0.0
            self.refilled_at = self.now_s()


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _since(query: str) -> str | None:
    found = re.search(r"updated_at:>=\\?['\"]?([0-9T:\-+Z.]+)", query)
    return found.group(1) if found else None


def _first_arg(query: str, field_name: str, variables: dict[str, Any]) -> int | None:
    """The `first:` of `field_name(...)` in the query: a number or a variable's value."""
    found = re.search(rf"\b{field_name}\s*\([^)]*\bfirst:\s*(\$?\w+)", query)
    if not found:
        return None
    text = found.group(1)
    value = variables.get(text[1:]) if text.startswith("$") else text
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _callback_ok(url: str) -> bool:
    """Shopify takes https only; the sandbox also takes plain http to this machine (tests, local trials)."""
    parts = urlsplit(url)
    local = parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")
    return parts.scheme == "https" or local


def _when(value: object) -> datetime:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _render_bulk(s: ShopifyState, inner: str) -> tuple[bytes, int]:
    """The JSONL of a bulk query over the state's variants or orders, and its object count. Rows are
    written one at a time into one buffer with the garbage collector paused (they hold no cycles):
    a list of 400,000 rows and their lines took 10 s for 100,000 orders, streaming 2.8 s."""
    out = io.BytesIO()
    count = 0
    paused = gc.isenabled()
    gc.disable()
    try:
        if "productVariants" in inner:
            for v in s.variants:
                out.write(orjson.dumps(variant_node(v, s.currency), option=orjson.OPT_APPEND_NEWLINE))
                count += 1
        else:
            since = _since(inner)
            for order in s.orders:
                if since and _when(order.get("updated_at") or order.get("created_at")) < _when(since):
                    continue
                for row in bulk_rows(order):
                    out.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
                    count += 1
    finally:
        if paused:
            gc.enable()
    return out.getvalue(), count


class _Graphql:
    """Answers one GraphQL document against the state."""

    def __init__(self, state: ShopifyState, base_url: str, version: str = "") -> None:
        self.s = state
        self.base_url = base_url
        self.version = version
        self.errors: list[dict[str, Any]] = []  # field errors beside the data (ACCESS_DENIED)

    def answer(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        s = self.s
        if re.search(r"\bshop\s*\{", query):
            data["shop"] = {
                "name": s.shop_name,
                "currencyCode": s.currency,
                "ianaTimezone": s.timezone,
                "taxesIncluded": s.taxes_included,
                "myshopifyDomain": s.domain,
            }
        if "currentAppInstallation" in query:
            data["currentAppInstallation"] = {"accessScopes": [{"handle": h} for h in s.scopes]}
        if "webhookSubscriptionDelete" in query:
            with s.lock:
                gone = s.webhooks.pop(str(variables.get("id") or ""), None)
            data["webhookSubscriptionDelete"] = {
                "deletedWebhookSubscriptionId": gone["id"] if gone else None,
                "userErrors": []
                if gone
                else [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        elif "webhookSubscriptionCreate" in query:
            data["webhookSubscriptionCreate"] = self._create_webhook(variables)
        elif "webhookSubscriptionUpdate" in query:
            data["webhookSubscriptionUpdate"] = self._update_webhook(variables)
        elif "webhookSubscriptions" in query:
            with s.lock:
                nodes = [dict(w) for w in s.webhooks.values()]
            data["webhookSubscriptions"] = {
                "nodes": nodes,
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
        if "bulkOperationRunQuery" in query:
            data["bulkOperationRunQuery"] = self._run_bulk(str(variables.get("query") or ""))
        if "currentBulkOperation" in query:
            with s.lock:
                current = list(s.bulks.values())[-1] if s.bulks else None
            data["currentBulkOperation"] = self._poll(current) if current else None
        if "refundLineItems" in query and "bulkOperationRunQuery" not in query:
            self._refunds(query, variables, data)
        elif re.search(r"\bnode\s*\(", query) and "/Order/" in str(variables.get("id") or ""):
            data["node"] = self._order_node(str(variables["id"]), query, variables)
        elif re.search(r"\bnode\s*\(", query):
            with s.lock:
                bulk = s.bulks.get(str(variables.get("id") or ""))
            data["node"] = self._poll(bulk) if bulk else None
        if re.search(r"\borders\s*\(", query) and "bulkOperationRunQuery" not in query:
            data["orders"] = self._orders_page(query, variables)
        if "productVariants" in query and "bulkOperationRunQuery" not in query:
            data["productVariants"] = self._variants(variables)
            if "unitCost" in query and not s.cost_access:
                for n, node in enumerate(data["productVariants"]["nodes"]):
                    node["inventoryItem"] = {"unitCost": None}
                    self.errors.append(
                        {
                            "message": "Access denied for unitCost field.",
                            "path": ["productVariants", "nodes", n, "inventoryItem", "unitCost"],
                            "extensions": {"code": "ACCESS_DENIED"},
                        }
                    )
        return data

    def _create_webhook(self, variables: dict[str, Any]) -> dict[str, Any]:
        topic = str(variables.get("topic") or "")
        sub = variables.get("webhookSubscription") or {}
        if self.s.take_fault(("webhook_create",)) is not None:
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": ["topic"], "message": "Topic is invalid"}],
            }
        url = str(sub.get("callbackUrl") or sub.get("uri") or "")
        if not re.fullmatch(r"[A-Z_]+", topic) or not _callback_ok(url):
            field_name = "topic" if not re.fullmatch(r"[A-Z_]+", topic) else "callbackUrl"
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": [field_name], "message": f"{field_name} is invalid"}],
            }
        with self.s.lock:
            for w in self.s.webhooks.values():
                if w["topic"] == topic and w["uri"] == url:
                    return {
                        "webhookSubscription": None,
                        "userErrors": [
                            {"field": ["address"], "message": "Address for this topic has already been taken"}
                        ],
                    }
            gid = f"gid://shopify/WebhookSubscription/{self.s._next()}"
            hook = {"id": gid, "topic": topic, "uri": url, "format": str(sub.get("format") or "JSON")}
            self.s.webhooks[gid] = hook
            return {"webhookSubscription": dict(hook), "userErrors": []}

    def _update_webhook(self, variables: dict[str, Any]) -> dict[str, Any]:
        gid = str(variables.get("id") or "")
        sub = variables.get("webhookSubscription") or {}
        with self.s.lock:
            hook = self.s.webhooks.get(gid)
            if hook is None:
                return {
                    "webhookSubscription": None,
                    "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
                }
            url = sub.get("callbackUrl") or sub.get("uri")
            if url:
                hook["uri"] = str(url)
            return {"webhookSubscription": dict(hook), "userErrors": []}

    def _run_bulk(self, inner: str) -> dict[str, Any]:
        s = self.s
        problems = bulk_query_problems(inner)
        if problems:  # checked before anything runs, as the Admin API does
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["query"], "message": p, "code": "INVALID"} for p in problems],
            }
        with s.lock:
            running = [b for b in s.bulks.values() if b.status in ("CREATED", "RUNNING")]
        # 2026-01 and later: up to five bulk queries at a time per app and shop; before, one
        if self.version >= CONCURRENT_BULK_VERSION and len(running) >= MAX_CONCURRENT_BULK:
            return {
                "bulkOperation": None,
                "userErrors": [
                    {
                        "field": None,
                        "message": "Bulk operations limit reached. Please try again later.",
                        "code": "LIMIT_REACHED",
                    }
                ],
            }
        if self.version < CONCURRENT_BULK_VERSION and running:
            return {
                "bulkOperation": None,
                "userErrors": [
                    {
                        "field": None,
                        "message": "A bulk query operation for this app and shop is already in progress: "
                        f"{running[0].id}.",
                        "code": "OPERATION_IN_PROGRESS",
                    }
                ],
            }
        failing = s.take_fault(("bulk_failed",)) is not None
        if "productVariants" not in inner and "orders" not in inner:
            return {
                "bulkOperation": None,
                "userErrors": [
                    {"field": ["query"], "message": "Invalid bulk query: expected orders or productVariants"}
                ],
            }
        body, count = _render_bulk(s, inner)
        with s.lock:
            bulk = Bulk(f"gid://shopify/BulkOperation/{s._next()}", inner)
            bulk.body = body
            bulk.object_count = count
            if failing:
                bulk.error_code = "INTERNAL_SERVER_ERROR"
            s.bulks[bulk.id] = bulk
            return {"bulkOperation": {"id": bulk.id, "status": bulk.status}, "userErrors": []}

    def _poll(self, bulk: Bulk) -> dict[str, Any]:
        with self.s.lock:  # each poll moves the operation on: CREATED → RUNNING → COMPLETED (or FAILED)
            bulk.polls += 1
            if bulk.status == "CREATED":
                bulk.status = "RUNNING"
            elif bulk.status == "RUNNING":
                bulk.status = "FAILED" if bulk.error_code else "COMPLETED"
            done = bulk.status == "COMPLETED"
            return {
                "id": bulk.id,
                "status": bulk.status,
                "errorCode": bulk.error_code if bulk.status == "FAILED" else None,
                "objectCount": str(bulk.object_count if done else 0),
                "fileSize": str(len(bulk.body)) if done else None,
                "url": f"{self.base_url}/_sandbox/bulk/{bulk.id.rsplit('/', 1)[-1]}.jsonl"
                if done and bulk.body
                else None,
                "partialDataUrl": None,
            }

    def _refunds(self, query: str, variables: dict[str, Any], data: dict[str, Any]) -> None:
        """`nodes(ids:)` / `node(id:)` on Refund gids, each with a page of `refundLineItems(first:,
        after:)` (cursor: the offset) and its pageInfo; an unknown id is null, as on Shopify."""
        asked = re.search(r"refundLineItems\(first:\s*(\d+)", query)
        first = int(asked.group(1)) if asked else 50
        after = int(variables.get("after") or 0)
        with self.s.lock:
            known = {r["id"]: r for o in self.s.orders for r in refund_nodes(o)}

        def page(gid: object) -> dict[str, Any] | None:
            refund = known.get(str(gid))
            if refund is None:
                return None
            items = refund["refundLineItems"]["nodes"]
            chunk = items[after : after + first]
            end = after + len(chunk)
            return {
                "id": refund["id"],
                "refundLineItems": {
                    "nodes": chunk,
                    "pageInfo": {"hasNextPage": end < len(items), "endCursor": str(end)},
                },
            }

        if "ids" in variables:
            data["nodes"] = [page(gid) for gid in variables.get("ids") or []]
        else:
            data["node"] = page(variables.get("id"))

    def _orders_page(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """`orders(first:, after:, query: "updated_at:>'…'", sortKey: UPDATED_AT)`: oldest change
        first (then by id), `after` the cursor of the previous page's last order."""
        search = str(variables.get("query") or "")
        if not search:
            inline = re.search(r'\borders\s*\([^)]*query:\s*"((?:\\.|[^"\\])*)"', query)
            search = inline.group(1).replace('\\"', '"') if inline else ""
        bound = re.search(r"updated_at:(>=?)\\?['\"]?([0-9T:\-+Z.]+)", search)
        first = _first_arg(query, "orders", variables) or 50
        with self.s.lock:
            rows = [
                (_when(o.get("updated_at") or o.get("created_at")), str(o.get("id")), o)
                for o in self.s.orders
            ]
        if bound:
            since, strict = _when(bound.group(2)), bound.group(1) == ">"
            rows = [r for r in rows if r[0] > since or (not strict and r[0] == since)]
        rows.sort(key=lambda r: (r[0], r[1]))
        start = int(variables.get("after") or 0)
        page = rows[start : start + first]
        end = start + len(page)
        return {
            "nodes": [
                {
                    "id": f"gid://shopify/Order/{oid}",
                    "updatedAt": o.get("updated_at"),
                    "test": bool(o.get("test")),
                }
                for _, oid, o in page
            ],
            "pageInfo": {"hasNextPage": end < len(rows), "endCursor": str(end) if page else None},
        }

    def _order_node(self, gid: str, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """An Order as `node(id:)` gives it: its fields, `refunds(first:)`, and a page of
        `lineItems` / `shippingLines` (`first`, and `after` = the offset cursor when the query pages)."""
        with self.s.lock:
            order = next((o for o in self.s.orders if f"gid://shopify/Order/{o.get('id')}" == gid), None)
        if order is None:
            return None
        head, *children = bulk_rows(order)
        node: dict[str, Any] = dict(head)
        refunds_first = _first_arg(query, "refunds", variables)
        if refunds_first is not None:
            node["refunds"] = node["refunds"][:refunds_first]
        for field_name, kind in (("lineItems", "LineItem"), ("shippingLines", "ShippingLine")):
            if field_name not in query:
                continue
            items = [
                {k: v for k, v in c.items() if k != "__parentId"}
                for c in children
                if str(c.get("id")).startswith(f"gid://shopify/{kind}/")
            ]
            first = _first_arg(query, field_name, variables) or 50
            paged = re.search(rf"\b{field_name}\([^)]*\bafter:", query) is not None
            start = int(variables.get("after") or 0) if paged else 0
            chunk = items[start : start + first]
            end = start + len(chunk)
            node[field_name] = {
                "nodes": chunk,
                "pageInfo": {"hasNextPage": end < len(items), "endCursor": str(end) if chunk else None},
            }
        return node

    def _variants(self, variables: dict[str, Any]) -> dict[str, Any]:
        first = int(variables.get("first") or 50)
        after = int(variables.get("after") or 0)
        page = self.s.variants[after : after + first]
        end = after + len(page)
        return {
            "nodes": [variant_node(v, self.s.currency) for v in page],
            "pageInfo": {"hasNextPage": end < len(self.s.variants), "endCursor": str(end)},
        }


def create_shopify_sandbox_app(state: ShopifyState | None = None) -> FastAPI:
    """The sandbox's ASGI app; its state is `app.state.shopify`."""
    st = state or ShopifyState()
    app = FastAPI(title="poas Shopify sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.shopify = st

    @app.post("/admin/oauth/access_token")
    async def access_token(request: Request) -> Response:
        st.count("token_requests")
        raw = await request.body()
        try:
            params = (
                orjson.loads(raw)
                if raw.lstrip().startswith(b"{")
                else dict(p.split("=", 1) for p in raw.decode().split("&") if "=" in p)
            )
        except (orjson.JSONDecodeError, UnicodeDecodeError, ValueError):
            params = {}
        if params.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        pair = (str(params.get("client_id") or ""), str(params.get("client_secret") or ""))
        if not all(pair) or (st.client_credentials is not None and pair != st.client_credentials):
            return _json(
                {"error": "invalid_client", "error_description": "Client credentials are invalid"}, 400
            )
        st.webhook_secret = pair[1]  # the app's client secret signs its webhooks
        return _json(
            {"access_token": st.issue_token(), "scope": ",".join(st.scopes), "expires_in": TOKEN_TTL_S}
        )

    @app.post("/admin/api/{version}/graphql.json")
    async def graphql(version: str, request: Request) -> Response:
        st.count("graphql_requests")
        token = request.headers.get("x-shopify-access-token", "")
        if st.take_fault(("token_expired",)) is not None:
            st.expire_tokens()
        if not st.token_ok(token):
            return _json({"errors": INVALID_TOKEN}, 401)
        fault = st.take_fault(("5xx",))
        if fault is not None:
            return _json({"errors": "Internal Server Error"}, fault.code)
        try:
            body = orjson.loads(await request.body())
            query = str(body["query"])
            variables = body.get("variables") or {}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _json({"errors": [{"message": "Parse error: expected a JSON body with a query"}]}, 400)
        if st.take_fault(("throttle",)) is not None:
            st.drain()
        cost = requested_cost(query, variables)
        if cost > MAX_QUERY_COST:  # refused before it runs, whatever the bucket holds
            st.count("max_cost_exceeded")
            message = (
                f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST})."
            )
            return _json(
                {
                    "errors": [
                        {
                            "message": message,
                            "extensions": {
                                "code": "MAX_COST_EXCEEDED",
                                "cost": cost,
                                "maxCost": MAX_QUERY_COST,
                            },
                        }
                    ]
                }
            )
        allowed, status = st.spend(cost)
        if not allowed:
            st.count("throttled")
            return _json(
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": cost,
                            "actualQueryCost": None,
                            "throttleStatus": status,
                        }
                    },
                }
            )
        base = str(request.base_url).rstrip("/")
        answering = _Graphql(st, base, version)
        data = answering.answer(query, variables)
        return _json(
            {
                "data": data,
                **({"errors": answering.errors} if answering.errors else {}),
                "extensions": {
                    "cost": {"requestedQueryCost": cost, "actualQueryCost": cost, "throttleStatus": status}
                },
            }
        )

    @app.get("/_sandbox/bulk/{number}.jsonl")
    async def bulk_file(number: str) -> Response:
        bulk = st.bulks.get(f"gid://shopify/BulkOperation/{number}")
        if bulk is None or bulk.status != "COMPLETED":
            return _json({"errors": "Not Found"}, 404)
        return Response(bulk.body, media_type="application/jsonl")

    @app.post("/_sandbox/orders")
    async def save_order(request: Request, deliver: bool = True) -> Response:
        """Save (or replace) an order and deliver its signed webhooks to the subscriptions of its
        topics: orders/create when new, else orders/updated; orders/paid when it is paid.
        `?deliver=false` saves it silently: a delivery the shop "forgot"."""
        try:
            order = orjson.loads(await request.body())
            order_id = order["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _json({"errors": "expected an order object with an id"}, 400)
        with st.lock:
            known = [i for i, o in enumerate(st.orders) if o.get("id") == order_id]
            if known:
                st.orders[known[0]] = order
            else:
                st.orders.append(order)
        topics = ["orders/updated" if known else "orders/create"]
        if str(order.get("financial_status")) == "paid":
            topics.append("orders/paid")
        deliveries = await _deliver(st, order, topics) if deliver else []
        return _json({"id": order_id, "deliveries": deliveries})

    @app.post("/_sandbox/faults")
    async def add_fault(spec: FaultSpec) -> Response:
        st.add_fault(spec)
        return _json(spec.model_dump())

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> Response:
        with st.lock:
            st.faults.clear()
        return _json({"ok": True})

    @app.get("/_sandbox/webhooks")
    async def webhooks() -> Response:
        with st.lock:
            return _json({"data": list(st.webhooks.values())})

    @app.get("/_sandbox/stats")
    async def stats() -> Response:
        with st.lock:
            return _json(dict(st.counters))

    return app


async def _deliver(st: ShopifyState, order: dict[str, Any], topics: list[str]) -> list[dict[str, Any]]:
    body = orjson.dumps(order)
    signature = base64.b64encode(hmac.new(st.webhook_secret.encode(), body, hashlib.sha256).digest()).decode()
    with st.lock:
        hooks = list(st.webhooks.values())
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for topic in topics:
            for hook in (h for h in hooks if h["topic"] == topic.upper().replace("/", "_")):
                headers = {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Hmac-Sha256": signature,
                    "X-Shopify-Shop-Domain": st.domain,
                    "X-Shopify-API-Version": "2026-10",
                    "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                    "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
                }
                try:
                    status = (await client.post(hook["uri"], content=body, headers=headers)).status_code
                except httpx.TransportError as exc:
                    status = 0
                    st.count(f"delivery_error_{type(exc).__name__}")
                out.append({"topic": topic, "uri": hook["uri"], "status": status})
    return out


def seeded_state(seed: Path | None = None, *, token: str | None = None) -> ShopifyState:
    """A state with the seed directory's orders and variants (and the shop currency of its first order)."""
    state = ShopifyState(static_token=token)
    if seed is not None:
        state.orders = load_orders(seed)
        state.variants = load_variants(seed / "variants.csv")
        if state.orders and state.orders[0].get("currency"):
            state.currency = str(state.orders[0]["currency"])
            state.taxes_included = bool(state.orders[0].get("taxes_included", True))
    return state


@dataclass
class RunningShopifySandbox:
    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def state(self) -> ShopifyState:
        state: ShopifyState = self.app.state.shopify
        return state

    def add_fault(self, **spec: Any) -> None:
        self.state.add_fault(FaultSpec(**spec))


@contextmanager
def run_shopify_sandbox(
    state: ShopifyState | None = None, port: int = 0, host: str = "127.0.0.1"
) -> Iterator[RunningShopifySandbox]:
    """Serve a sandbox in a background thread until the block ends."""
    app = create_shopify_sandbox_app(state)
    with serve_in_thread(app, host=host, port=port, what="Shopify sandbox") as served:
        yield RunningShopifySandbox(served.url, app, served.server, served.thread)
