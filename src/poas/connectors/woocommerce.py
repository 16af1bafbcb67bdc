"""A WooCommerce REST API v3 client on httpx: consumer key/secret by HTTP Basic over HTTPS, discovery
that tells a site without WordPress, without WooCommerce or with permalinks off apart, pages read by
`X-WP-TotalPages`, and retries classified: 429 waits for Retry-After and never gives up before
`max_throttle_waits`, 5xx and connection errors back off, 401/403 are a `WooAuthError`.

The key and secret live only in the httpx auth object: no message, log line or repr carries them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

DEFAULT_COST_META_KEYS = ("_wc_cog_cost", "_alg_wc_cog_cost")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
Kind = Literal["url", "auth", "not_wordpress", "permalinks_off", "no_woocommerce", "http", "unreachable"]


class WooError(RuntimeError):
    """A one-line error saying what is wrong and what to fix; `kind` classifies it."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class WooAuthError(WooError):
    def __init__(self, message: str) -> None:
        super().__init__("auth", message)


def check_site_url(url: str) -> str:
    """The site's base URL without a trailing slash; plain http only to this machine."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WooError("url", f"--url {url!r} is not a web address (https://shop.example)")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise WooError(
            "url",
            f"--url {url!r} is plain http: WooCommerce sends the key and secret by HTTP Basic, use https://",
        )
    return url.strip().rstrip("/")


@dataclass(frozen=True, slots=True)
class ProductCost:
    """One sellable item's cost as the shop states it: a variation, or a simple product."""

    variant_id: str
    product_id: str
    sku: str
    title: str
    product_type: str  # the first category's name
    unit_cost: Decimal | None


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def unit_cost_of(item: Mapping[str, Any], meta_keys: Sequence[str]) -> Decimal | None:
    """Core COGS (`cost_of_goods_sold`, when the feature is on and a value is defined), else the first of
    `meta_keys` with a number."""
    cogs = item.get("cost_of_goods_sold")
    if isinstance(cogs, Mapping):
        values = [v for v in cogs.get("values") or [] if isinstance(v, Mapping)]
        if any(v.get("defined_value") not in (None, "") for v in values):
            total = _dec(cogs.get("total_value"))
            if total is not None:
                return total
    meta = {m.get("key"): m.get("value") for m in item.get("meta_data") or [] if isinstance(m, Mapping)}
    for key in meta_keys:
        cost = _dec(meta.get(key))
        if cost is not None:
            return cost
    return None


class WooClient:
    """One site's REST API. `discover()` runs first (the other calls do it when needed)."""

    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        *,
        timeout_s: float = 30,
        max_attempts: int = 5,
        max_throttle_waits: int = 50,
        max_wait_s: float = 60,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not key or not secret:
            raise WooAuthError(
                "the consumer key and secret are required (WooCommerce > Settings > Advanced > REST API)"
            )
        self.url = check_site_url(url)
        self._http = httpx.Client(auth=httpx.BasicAuth(key, secret), timeout=timeout_s, transport=transport)
        self.max_attempts = max_attempts
        self.max_throttle_waits = max_throttle_waits
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.throttled = 0  # 429 answers waited out
        self.retried = 0  # 5xx / connection errors retried
        self._api: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WooClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WooClient({self.url!r})"

    # --- discovery -----------------------------------------------------------------------------------

    def _get_json(self, url: str, params: Mapping[str, str] | None = None) -> tuple[int, Any]:
        try:
            resp = self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise WooError("unreachable", f"{self.url}: cannot connect ({type(exc).__name__})") from None
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None

    def discover(self) -> str:
        """The REST API root; a one-line WooError when the site is not WordPress, has permalinks off or
        has no WooCommerce."""
        if self._api is not None:
            return self._api
        status, body = self._get_json(f"{self.url}/wp-json/")
        if not (status == 200 and isinstance(body, dict) and "namespaces" in body):
            _, plain = self._get_json(f"{self.url}/", {"rest_route": "/"})
            if isinstance(plain, dict) and "namespaces" in plain:
                raise WooError(
                    "permalinks_off",
                    f"{self.url}: permalinks are off (Settings > Permalinks is 'Plain'), so the REST API "
                    "is not at /wp-json/: choose any other permalink structure",
                )
            raise WooError("not_wordpress", f"{self.url}: not a WordPress site (no REST API at /wp-json/)")
        if "wc/v3" not in body["namespaces"]:
            raise WooError(
                "no_woocommerce",
                f"{self.url}: WordPress without WooCommerce (no wc/v3 REST API): activate WooCommerce",
            )
        self._api = f"{self.url}/wp-json/wc/v3"
        return self._api

    # --- requests ------------------------------------------------------------------------------------

    def request(
        self, method: str, route: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> httpx.Response:
        """One call to `/wc/v3{route}`, retried as the module docstring says."""
        url = f"{self.discover()}{route}"
        attempts = waits = 0
        while True:
            try:
                resp = self._http.request(method, url, params=params, json=json)
            except httpx.TransportError as exc:
                attempts += 1
                if attempts >= self.max_attempts:
                    raise WooError(
                        "unreachable", f"{self.url}: {method} {route} failed ({type(exc).__name__})"
                    ) from None
                self._pause(min(self.max_wait_s, 0.5 * 2 ** (attempts - 1)))
                self.retried += 1
                continue
            if resp.status_code == 429:
                waits += 1
                if waits > self.max_throttle_waits:
                    raise WooError(
                        "http", f"{self.url}: still throttled (429) after {waits - 1} waits on {route}"
                    )
                self.throttled += 1
                self._pause(self._retry_after(resp))
                continue
            if resp.status_code >= 500:
                attempts += 1
                if attempts >= self.max_attempts:
                    raise WooError(
                        "http", f"{self.url}: {method} {route} answered {resp.status_code} {attempts} times"
                    )
                self.retried += 1
                self._pause(min(self.max_wait_s, 0.5 * 2 ** (attempts - 1)))
                continue
            if resp.status_code in (401, 403):
                raise WooAuthError(f"{self.url}: {method} {route} refused: {_message(resp)}")
            if resp.status_code >= 400:
                raise WooError(
                    "http", f"{self.url}: {method} {route} answered {resp.status_code}: {_message(resp)}"
                )
            return resp

    def _retry_after(self, resp: httpx.Response) -> float:
        raw = resp.headers.get("retry-after", "")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = 1.0
        return min(self.max_wait_s, max(0.0, seconds))

    def _pause(self, seconds: float) -> None:
        log.info("woocommerce: pausing %.1f s (throttle/backoff)", seconds)
        self.sleep(seconds)

    def pages(self, route: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of a collection, 100 a page, until `X-WP-TotalPages`."""
        page = 1
        while True:
            resp = self.request("GET", route, params={**(params or {}), "per_page": 100, "page": page})
            rows = resp.json()
            if not isinstance(rows, list):
                raise WooError("http", f"{self.url}: {route} page {page} is not a list")
            yield rows
            total = int(resp.headers.get("x-wp-totalpages") or 0)
            if page >= total or not rows:
                return
            page += 1

    # --- resources -----------------------------------------------------------------------------------

    def orders(self, modified_after: datetime | None = None) -> Iterator[list[dict[str, Any]]]:
        """Pages of orders, oldest change first (`orderby=modified`), changed after `modified_after`.

        Keyset pages, not page numbers: an order changed while the sync runs moves to the end of the
        list, and page numbers would then skip the order that slid into its place. Each request asks
        for changes after (the newest change read so far − 1 s: WooCommerce compares whole seconds),
        page 1; orders already read at that second are dropped. Only when a whole page shares one
        second does it step to the next page number at the same bound."""
        after = modified_after
        page = 1
        boundary: dict[int, str] = {}  # id -> modified, for the orders read at or after `after`
        while True:
            params: dict[str, Any] = {"orderby": "modified", "order": "asc", "dates_are_gmt": "true"}
            params.update(per_page=100, page=page)
            if after is not None:
                params["modified_after"] = _wc_time(after - timedelta(seconds=1))
            rows = self.request("GET", "/orders", params=params).json()
            if not isinstance(rows, list):
                raise WooError("http", f"{self.url}: /orders page {page} is not a list")
            fresh = [r for r in rows if boundary.get(r.get("id")) != _modified_text(r)]
            if fresh:
                yield fresh
            newest = max((t for t in (_modified(r) for r in rows) if t is not None), default=None)
            if len(rows) < 100 or newest is None:
                return
            if after is None or newest > after:
                after, page = newest, 1
                boundary = {r["id"]: _modified_text(r) for r in rows if _modified(r) == newest}
            else:
                boundary.update({r["id"]: _modified_text(r) for r in rows})
                page += 1

    def product_costs(self, meta_keys: Sequence[str] = DEFAULT_COST_META_KEYS) -> Iterator[ProductCost]:
        """Every simple product and variation with its unit cost (None when the shop states none)."""
        for page in self.pages("/products"):
            for product in page:
                cats = product.get("categories") or []
                ptype = str(cats[0].get("name") or "") if cats and isinstance(cats[0], Mapping) else ""
                pid, title = str(product["id"]), str(product.get("name") or "")
                if product.get("type") == "variable":
                    for vpage in self.pages(f"/products/{pid}/variations"):
                        for v in vpage:
                            cost = unit_cost_of(v, meta_keys)
                            yield ProductCost(str(v["id"]), pid, str(v.get("sku") or ""), title, ptype, cost)
                    continue
                cost = unit_cost_of(product, meta_keys)
                yield ProductCost(pid, pid, str(product.get("sku") or ""), title, ptype, cost)

    def webhooks(self) -> list[dict[str, Any]]:
        return [h for page in self.pages("/webhooks") for h in page]

    def save_webhook(self, hook_id: int | None, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create (`hook_id` None) or update a webhook."""
        if hook_id is None:
            resp = self.request("POST", "/webhooks", json=dict(body))
        else:
            resp = self.request("PUT", f"/webhooks/{hook_id}", json=dict(body))
        saved: dict[str, Any] = resp.json()
        return saved

    def delete_webhook(self, hook_id: int) -> None:
        self.request("DELETE", f"/webhooks/{hook_id}", params={"force": "true"})


def _wc_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _modified_text(order: Mapping[str, Any]) -> str:
    return str(order.get("date_modified_gmt") or order.get("date_created_gmt") or "")


def _modified(order: Mapping[str, Any]) -> datetime | None:
    """An order's change time as aware UTC (WooCommerce's `*_gmt` fields carry no offset)."""
    try:
        value = datetime.fromisoformat(_modified_text(order).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _message(resp: httpx.Response) -> str:
    """The API's own one-line message (WordPress error JSON), or the status."""
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = body.get("code")
        return f"{body['message'][:200]} ({code})" if isinstance(code, str) else body["message"][:200]
    return f"HTTP {resp.status_code}"
