"""The WooCommerce sandbox: a local WordPress + WooCommerce REST API v3 over real HTTP.

What it emulates (docs: woocommerce.github.io/woocommerce-rest-api-docs): consumer key/secret by
HTTP Basic, `/wp-json/` discovery (or `?rest_route=/` on a site with permalinks off, where
`/wp-json/...` is WordPress's HTML 404), orders with `X-WP-Total` / `X-WP-TotalPages`, products and
variations with core `cost_of_goods_sold` or a COGS plugin's meta key, webhooks (secret write-only)
and their signed delivery (`X-WC-Webhook-Signature`: base64 HMAC-SHA256 of the body). Modes: `ok`,
`permalinks_off`, `no_woocommerce`, `not_wordpress`. Faults (`/_sandbox/faults`): `throttle` (429
with Retry-After), `5xx`, `bad_credentials`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import math
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from poas.connectors.woocommerce_seed import SeedProduct, SeedVariant, WooSeed, load_seed
from poas.local_server import serve_in_thread

Mode = Literal["ok", "permalinks_off", "no_woocommerce", "not_wordpress"]
Cogs = Literal["core", "_wc_cog_cost", "_alg_wc_cog_cost", "none"]
Access = Literal["read", "write", "read_write"]


class WooFault(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["throttle", "5xx", "bad_credentials"]
    count: int | None = Field(1, ge=1)  # requests it fires on; None = until cleared
    code: int = 503  # 5xx status
    retry_after: int = 1  # throttle: seconds
    path_prefix: str = ""  # only REST routes starting with this (e.g. "/wc/v3/orders")
    method: str | None = None  # only this HTTP method
    after: int = Field(0, ge=0)  # let this many matching requests through first


class SandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Mode | None = None
    cogs: Cogs | None = None
    access: Access | None = None


def _error(code: str, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


def _gmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


@dataclass
class WooState:
    """Everything the sandbox remembers; every method takes the lock."""

    key: str | None = None  # None: any non-empty ck_/cs_ pair is accepted
    secret: str | None = None
    mode: Mode = "ok"
    cogs: Cogs = "core"
    access: Access = "read_write"
    site_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: list[SeedProduct] = field(default_factory=list)
    webhooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    faults: list[WooFault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, REST route)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def load(self, seed: WooSeed) -> None:
        with self.lock:
            for order in seed.orders:
                self.orders[int(order["id"])] = order
            self.products = list(seed.products)

    def _modified(self, order: dict[str, Any]) -> datetime:
        text = order.get("date_modified_gmt") or order.get("date_created_gmt") or ""
        return _parse_time(str(text)) or datetime(1970, 1, 1, tzinfo=UTC)

    def take_fault(self, method: str, route: str) -> WooFault | None:
        with self.lock:
            for fault in self.faults:
                if not route.startswith(fault.path_prefix) or fault.method not in (None, method):
                    continue
                if fault.after:
                    fault.after -= 1
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    # --- resources -------------------------------------------------------------------------------

    def list_orders(self, modified_after: datetime | None, orderby: str, order: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = [
                o
                for o in self.orders.values()
                if modified_after is None or self._modified(o) > modified_after
            ]
        if orderby == "modified":
            rows.sort(key=lambda o: (self._modified(o), int(o["id"])))
        elif orderby in ("date", "id"):
            rows.sort(key=lambda o: (str(o.get("date_created_gmt", "")), int(o["id"])))
        if order == "desc":
            rows.reverse()
        return rows

    def _cost_fields(self, v: SeedVariant) -> dict[str, Any]:
        if self.cogs == "core":
            # as CogsAwareRestControllerTrait writes it: defined_value is the product's cogs value, null
            # when none was entered; the effective and total values are then 0
            value = float(v.unit_cost) if v.unit_cost is not None else None
            return {
                "cost_of_goods_sold": {
                    "values": [{"defined_value": value, "effective_value": value or 0}],
                    "total_value": value or 0,
                },
                "meta_data": [],
            }
        meta = (
            []
            if self.cogs == "none" or v.unit_cost is None
            else [{"id": v.variant_id * 10, "key": self.cogs, "value": _money(v.unit_cost)}]
        )
        return {"meta_data": meta}

    def product_body(self, p: SeedProduct) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": p.id,
            "name": p.name,
            "slug": p.name.lower().replace(" ", "-"),
            "permalink": f"{self.site_url}/product/{p.id}/",
            "type": "simple" if p.simple else "variable",
            "status": "publish",
            "sku": p.simple.sku if p.simple else "",
            "categories": [{"id": 15, "name": p.product_type, "slug": p.product_type.lower()}]
            if p.product_type
            else [],
            "variations": [v.variant_id for v in p.variations],
        }
        if p.simple:
            base.update(self._cost_fields(p.simple))
        else:
            base["meta_data"] = []
        return base

    def variation_body(self, p: SeedProduct, v: SeedVariant) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": v.variant_id,
            "sku": v.sku,
            "status": "publish",
            "attributes": [{"id": 0, "name": "Variant", "option": v.variant_title}],
        }
        body.update(self._cost_fields(v))
        return body

    def set_cost(self, variant_id: int, cost: Decimal) -> bool:
        with self.lock:
            for p in self.products:
                if p.simple and p.simple.variant_id == variant_id:
                    p.simple = _with_cost(p.simple, cost)
                    return True
                for n, v in enumerate(p.variations):
                    if v.variant_id == variant_id:
                        p.variations[n] = _with_cost(v, cost)
                        return True
        return False

    # --- webhooks ------------------------------------------------------------------------------------

    def webhook_body(self, hook: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in hook.items() if k != "secret"}  # the secret is write-only

    def save_webhook(self, hook_id: int | None, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = _gmt(datetime.now(UTC))
        with self.lock:
            if hook_id is None:
                topic, url = data.get("topic"), data.get("delivery_url")
                if not topic or not url:
                    missing = "topic" if not topic else "delivery_url"
                    return 400, _error("rest_missing_callback_param", f"Missing parameter(s): {missing}", 400)
                hook_id = next(self._ids)
                hook: dict[str, Any] = {
                    "id": hook_id,
                    "name": data.get("name") or f"Webhook created on {now}",
                    "status": "active",
                    "topic": "",
                    "resource": "",
                    "event": "",
                    "hooks": [],
                    "delivery_url": "",
                    "date_created": now,
                    "date_created_gmt": now,
                    "secret": secrets.token_urlsafe(24),
                }
                self.webhooks[hook_id] = hook
                status = 201
            elif hook_id not in self.webhooks:
                return 404, _error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
            else:
                hook = self.webhooks[hook_id]
                status = 200
            for name in ("name", "status", "topic", "delivery_url", "secret"):
                if data.get(name) is not None:
                    hook[name] = data[name]
            resource, _, event = str(hook["topic"]).partition(".")
            hook.update(resource=resource, event=event, date_modified=now, date_modified_gmt=now)
            return status, self.webhook_body(hook)

    def add_order(self, body: dict[str, Any], *, deliver: bool = True) -> list[dict[str, Any]]:
        """Store (or replace) an order as the shop would, stamping its modified time; deliver the
        order.created / order.updated webhook unless `deliver` is false (a delivery the shop lost)."""
        now = _gmt(datetime.now(UTC))
        with self.lock:
            order_id = int(body["id"])
            topic = "order.updated" if order_id in self.orders else "order.created"
            stored = {**body, "date_modified_gmt": now, "date_modified": now}  # the site's timezone is UTC
            self.orders[order_id] = stored
            hooks = [
                dict(h) for h in self.webhooks.values() if h["topic"] == topic and h["status"] == "active"
            ]
        return [self.deliver(h, stored) for h in hooks] if deliver else []

    def deliver(self, hook: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(payload)
        signature = base64.b64encode(
            hmac.new(hook["secret"].encode(), body, hashlib.sha256).digest()
        ).decode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
            "X-WC-Webhook-Source": f"{self.site_url}/",
            "X-WC-Webhook-Topic": hook["topic"],
            "X-WC-Webhook-Resource": hook["resource"],
            "X-WC-Webhook-Event": hook["event"],
            "X-WC-Webhook-Signature": signature,
            "X-WC-Webhook-ID": str(hook["id"]),
            "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
        }
        record: dict[str, Any] = {
            "webhook_id": hook["id"],
            "topic": hook["topic"],
            "url": hook["delivery_url"],
        }
        try:
            resp = httpx.post(hook["delivery_url"], content=body, headers=headers, timeout=10)
            record["status"] = resp.status_code
        except httpx.HTTPError as exc:
            record["status"] = None
            record["error"] = type(exc).__name__
        with self.lock:
            self.deliveries.append(record)
        return record


def _with_cost(v: SeedVariant, cost: Decimal) -> SeedVariant:
    return SeedVariant(
        v.variant_id, v.sku, v.product_title, v.variant_title, v.product_type, cost, v.currency
    )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


_HTML_404 = b"<!DOCTYPE html><html><head><title>Page not found</title></head><body>Not found</body></html>"


def _page(rows: list[dict[str, Any]], request_query: dict[str, str]) -> Response:
    try:
        per_page = int(request_query.get("per_page", "10"))
        page = int(request_query.get("page", "1"))
    except ValueError:
        return _json(_error("rest_invalid_param", "Invalid parameter(s): per_page, page", 400), 400)
    if not 1 <= per_page <= 100:
        return _json(_error("rest_invalid_param", "Invalid parameter(s): per_page", 400), 400)
    if page < 1:
        return _json(_error("rest_invalid_param", "Invalid parameter(s): page", 400), 400)
    total = len(rows)
    pages = math.ceil(total / per_page)
    chunk = rows[(page - 1) * per_page : page * per_page]
    return _json(chunk, headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})


class WooApi:
    """Answers one REST request (route already resolved from /wp-json/ or ?rest_route=)."""

    def __init__(self, state: WooState) -> None:
        self.s = state

    def auth(self, request: Request, write: bool) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return _json(
                _error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401), 401
            )
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return _json(
                _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401), 401
            )
        if (self.s.key is not None and key != self.s.key) or not key.startswith("ck_"):
            return _json(
                _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401), 401
            )
        if (self.s.secret is not None and secret != self.s.secret) or not secret.startswith("cs_"):
            return _json(
                _error("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401), 401
            )
        needed = "write" if write else "read"
        if needed not in self.s.access.split("_"):
            msg = f"The API key provided does not have {needed} permissions."
            return _json(_error("woocommerce_rest_authentication_error", msg, 401), 401)
        return None

    def root(self) -> Response:
        namespaces = ["oembed/1.0", "wp/v2", "wp-site-health/v1"]
        if self.s.mode != "no_woocommerce":
            namespaces[1:1] = ["wc/v1", "wc/v2", "wc/v3", "wc/store/v1"]
        return _json(
            {
                "name": "Sandbox shop",
                "description": "",
                "url": self.s.site_url,
                "home": self.s.site_url,
                "gmt_offset": "0",
                "timezone_string": "UTC",
                "namespaces": namespaces,
                "authentication": {"application-passwords": {}},
                "routes": {},
            }
        )

    async def handle(self, method: str, route: str, request: Request) -> Response:
        with self.s.lock:
            self.s.requests.append((method, route))
        if route in ("", "/"):
            return self.root()
        if not route.startswith("/wc/v3/") or self.s.mode == "no_woocommerce":
            return _json(
                _error("rest_no_route", "No route was found matching the URL and request method.", 404), 404
            )
        fault = self.s.take_fault(method, route)
        if fault is not None:
            if fault.kind == "throttle":
                msg = "Too many requests. Please wait and try again."
                return _json(
                    _error("woocommerce_rest_too_many_requests", msg, 429),
                    429,
                    {"Retry-After": str(fault.retry_after)},
                )
            if fault.kind == "5xx":
                return _json(
                    _error(
                        "internal_server_error",
                        "There has been a critical error on this website.",
                        fault.code,
                    ),
                    fault.code,
                )
            return _json(
                _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401), 401
            )
        denied = self.auth(request, write=method != "GET")
        if denied is not None:
            return denied
        parts = route.removeprefix("/wc/v3/").strip("/").split("/")
        query = dict(request.query_params)
        if parts == ["orders"] and method == "GET":
            return self.orders(query)
        if parts[0] == "products" and method == "GET":
            return self.products(parts[1:], query)
        if parts[0] == "webhooks":
            return await self.webhooks(method, parts[1:], request, query)
        return _json(
            _error("rest_no_route", "No route was found matching the URL and request method.", 404), 404
        )

    def orders(self, query: dict[str, str]) -> Response:
        after = None
        if query.get("modified_after"):
            after = _parse_time(query["modified_after"])
            if after is None:
                return _json(_error("rest_invalid_param", "Invalid parameter(s): modified_after", 400), 400)
        orderby = query.get("orderby", "date")
        if orderby not in ("date", "id", "modified", "include", "title", "slug"):
            return _json(_error("rest_invalid_param", "Invalid parameter(s): orderby", 400), 400)
        return _page(self.s.list_orders(after, orderby, query.get("order", "desc")), query)

    def products(self, rest: list[str], query: dict[str, str]) -> Response:
        with self.s.lock:
            products = list(self.s.products)
        if not rest:
            return _page([self.s.product_body(p) for p in products], query)
        found = next((p for p in products if str(p.id) == rest[0]), None)
        if found is None:
            return _json(_error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404), 404)
        if rest[1:] == ["variations"]:
            return _page([self.s.variation_body(found, v) for v in found.variations], query)
        return _json(self.s.product_body(found))

    async def webhooks(
        self, method: str, rest: list[str], request: Request, query: dict[str, str]
    ) -> Response:
        if method == "GET" and not rest:
            with self.s.lock:
                hooks = [self.s.webhook_body(h) for h in self.s.webhooks.values()]
            return _page(hooks, query)
        if method in ("POST", "PUT") and len(rest) <= 1:
            try:
                data = orjson.loads(await request.body() or b"{}")
            except orjson.JSONDecodeError:
                return _json(_error("rest_invalid_json", "Invalid JSON body passed.", 400), 400)
            hook_id = int(rest[0]) if rest and rest[0].isdigit() else None
            if rest and hook_id is None:
                return _json(_error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404), 404)
            status, body = self.s.save_webhook(hook_id, data if isinstance(data, dict) else {})
            return _json(body, status)
        if method == "DELETE" and len(rest) == 1 and rest[0].isdigit():
            with self.s.lock:
                hook = self.s.webhooks.pop(int(rest[0]), None)
            if hook is None:
                return _json(_error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404), 404)
            return _json(self.s.webhook_body(hook))
        return _json(
            _error("rest_no_route", "No route was found matching the URL and request method.", 404), 404
        )


def create_woo_sandbox_app(state: WooState | None = None) -> FastAPI:
    """The sandbox's ASGI app; its state is `app.state.woo`."""
    st = state or WooState()
    api = WooApi(st)
    app = FastAPI(title="poas WooCommerce sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.woo = st

    @app.post("/_sandbox/orders")
    def add_order(body: dict[str, Any], deliver: bool = True) -> Response:
        # a sync route (run in a thread): delivering the webhooks must not block the event loop
        return _json({"deliveries": st.add_order(body, deliver=deliver)})

    @app.post("/_sandbox/faults")
    async def add_fault(fault: WooFault) -> Response:
        with st.lock:
            st.faults.append(fault)
        return _json(fault.model_dump())

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> Response:
        with st.lock:
            st.faults.clear()
        return _json({"ok": True})

    @app.post("/_sandbox/config")
    async def configure(config: SandboxConfig) -> Response:
        with st.lock:
            st.mode = config.mode or st.mode
            st.cogs = config.cogs or st.cogs
            st.access = config.access or st.access
        return _json({"mode": st.mode, "cogs": st.cogs, "access": st.access})

    @app.get("/_sandbox/webhooks")
    async def all_webhooks() -> Response:
        with st.lock:
            return _json({"webhooks": list(st.webhooks.values()), "deliveries": list(st.deliveries)})

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def wordpress(path: str, request: Request) -> Response:
        if not st.site_url:
            st.site_url = str(request.base_url).rstrip("/")
        if st.mode == "not_wordpress":
            return Response(_HTML_404, 404, media_type="text/html")
        route = request.query_params.get("rest_route")
        if path == "wp-json" or path.startswith("wp-json/"):
            if st.mode == "permalinks_off":
                return Response(_HTML_404, 404, media_type="text/html")
            return await api.handle(request.method, path.removeprefix("wp-json") or "/", request)
        if route is not None:
            return await api.handle(request.method, route, request)
        base = st.site_url
        api_root = f"{base}/?rest_route=/" if st.mode == "permalinks_off" else f"{base}/wp-json/"
        html = b"<!DOCTYPE html><html><head><title>Sandbox shop</title></head><body>Shop</body></html>"
        return Response(
            html, 200, media_type="text/html", headers={"Link": f'<{api_root}>; rel="https://api.w.org/"'}
        )

    return app


@dataclass
class RunningWooSandbox:
    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def state(self) -> WooState:
        state: WooState = self.app.state.woo
        return state


def new_woo_state(
    seed: Path | None = None,
    *,
    key: str | None = None,
    secret: str | None = None,
    mode: Mode = "ok",
    cogs: Cogs = "core",
) -> WooState:
    state = WooState(key=key, secret=secret, mode=mode, cogs=cogs)
    if seed is not None:
        state.load(load_seed(seed))
    return state


@contextmanager
def run_woo_sandbox(
    state: WooState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningWooSandbox]:
    """Serve a sandbox in a background thread until the block ends."""
    st = state or WooState()
    app = create_woo_sandbox_app(st)

    def bound(url: str) -> None:
        st.site_url = url

    with serve_in_thread(app, host=host, port=port, what="WooCommerce sandbox", on_bound=bound) as served:
        yield RunningWooSandbox(served.url, app, served.server, served.thread)
