"""Reading changed Shopify orders without a bulk operation, for a reconciliation that finds few.

`changed_orders` lists the orders updated after a time (`orders(first: 250, query: "updated_at:>'…'",
sortKey: UPDATED_AT)`, id and updatedAt only: 252 points a page, cursor-paged with pageInfo).
`orders_to_file` reads given orders in full (`node(id:)`, 25 line items and 10 shipping lines a page,
their further pages by cursor; about 400 points an order) and writes them as the bulk JSONL
`sources.shopify_bulk` reads (an Order row, then LineItem and ShippingLine rows with `__parentId`),
refund line items added by `attach_refund_lines`; so a few missed orders go through the same parser as
a bulk operation's, without waiting for one. The selections are the bulk query's (ORDER_FIELDS,
LINE_FIELDS, SHIPPING_FIELDS), so both paths read the same fields.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from poas.connectors.shopify import ShopifyClient, ShopifyError
from poas.connectors.shopify_refund_lines import attach_refund_lines

MONEY = "{ shopMoney { amount currencyCode } }"
ORDER_FIELDS = (
    "id name createdAt processedAt updatedAt cancelledAt test currencyCode taxesIncluded "
    "displayFinancialStatus paymentGatewayNames email phone "
    "customer { id email firstName lastName emailMarketingConsent { marketingState } } "
    "shippingAddress { city zip provinceCode countryCodeV2 } "
    "landingPageUrl referrerUrl clientIp customAttributes { key value }"
)
LINE_FIELDS = (
    "id quantity sku title variantTitle variant { id } product { id } "
    f"originalUnitPriceSet {MONEY} discountAllocations {{ allocatedAmountSet {MONEY} }} "
    f"taxLines {{ priceSet {MONEY} rate title }} isGiftCard"
)
SHIPPING_FIELDS = (
    f"id code title originalPriceSet {MONEY} discountedPriceSet {MONEY} "
    f"taxLines {{ priceSet {MONEY} rate title }} discountAllocations {{ allocatedAmountSet {MONEY} }}"
)
PAGE = "pageInfo { hasNextPage endCursor }"
LIST_PAGE = 250  # changed orders a page (2 + 250 points)
CHANGED_ORDERS = (
    "query ($first: Int!, $after: String, $query: String!) { orders(first: $first, after: $after, "
    f"query: $query, sortKey: UPDATED_AT) {{ nodes {{ id updatedAt test }} {PAGE} }} }}"
)
LINES_PAGE, SHIPPING_PAGE, REFUNDS_MAX = 25, 10, 50
ORDER_QUERY = (
    "query ($id: ID!) { node(id: $id) { ... on Order { "
    f"{ORDER_FIELDS} refunds(first: {REFUNDS_MAX}) {{ id createdAt processedAt }} "
    f"lineItems(first: {LINES_PAGE}) {{ nodes {{ {LINE_FIELDS} }} {PAGE} }} "
    f"shippingLines(first: {SHIPPING_PAGE}) {{ nodes {{ {SHIPPING_FIELDS} }} {PAGE} }} }} }} }}"
)
MORE_LINES = (
    "query ($id: ID!, $after: String) { node(id: $id) { ... on Order { id "
    f"lineItems(first: {LINES_PAGE}, after: $after) {{ nodes {{ {LINE_FIELDS} }} {PAGE} }} }} }} }}"
)
MORE_SHIPPING = (
    "query ($id: ID!, $after: String) { node(id: $id) { ... on Order { id "
    f"shippingLines(first: {SHIPPING_PAGE}, after: $after) "
    f"{{ nodes {{ {SHIPPING_FIELDS} }} {PAGE} }} }} }} }}"
)


def search_after(since: datetime) -> str:
    """Shopify's search syntax for orders updated after `since` (UTC, whole seconds)."""
    return f"updated_at:>'{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def changed_orders(
    client: ShopifyClient, since: datetime, *, limit: int
) -> list[tuple[str, str, bool]] | None:
    """(gid, updatedAt, test) of the orders updated after `since`, oldest change first; None when there
    are more than `limit` (a bulk operation reads those more cheaply)."""
    found: list[tuple[str, str, bool]] = []
    after: str | None = None
    while True:
        page = client.graphql(
            CHANGED_ORDERS, {"first": LIST_PAGE, "after": after, "query": search_after(since)}
        )
        conn = page.get("orders") or {}
        for node in conn.get("nodes") or []:
            if isinstance(node, Mapping) and node.get("id"):
                found.append((str(node["id"]), str(node.get("updatedAt") or ""), bool(node.get("test"))))
        if len(found) > limit:
            return None
        info = conn.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return found
        after = str(info.get("endCursor"))


def _nodes_and_cursor(conn: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(conn, Mapping):
        return [], None
    nodes = [dict(n) for n in conn.get("nodes") or [] if isinstance(n, Mapping)]
    info = conn.get("pageInfo") or {}
    return nodes, (str(info["endCursor"]) if info.get("hasNextPage") and info.get("endCursor") else None)


def _rest(
    client: ShopifyClient, gid: str, field: str, query: str, cursor: str | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while cursor is not None:
        node = client.graphql(query, {"id": gid, "after": cursor}).get("node") or {}
        nodes, cursor = _nodes_and_cursor(node.get(field) if isinstance(node, Mapping) else None)
        out.extend(nodes)
    return out


def order_rows(client: ShopifyClient, gid: str) -> Iterator[dict[str, Any]]:
    """One order as bulk JSONL rows (nothing when Shopify no longer has it)."""
    node = client.graphql(ORDER_QUERY, {"id": gid}).get("node")
    if not isinstance(node, Mapping) or not node.get("id"):
        return
    order = dict(node)
    lines, more = _nodes_and_cursor(order.pop("lineItems", None))
    lines += _rest(client, gid, "lineItems", MORE_LINES, more)
    shipping, more = _nodes_and_cursor(order.pop("shippingLines", None))
    shipping += _rest(client, gid, "shippingLines", MORE_SHIPPING, more)
    if len(order.get("refunds") or []) >= REFUNDS_MAX:
        raise ShopifyError(
            "request", f"{client.store}: order {gid} has {REFUNDS_MAX}+ refunds: read it in bulk"
        )
    yield order
    for row in (*lines, *shipping):
        yield {**row, "__parentId": order["id"]}


def orders_to_file(client: ShopifyClient, gids: list[str]) -> Path:
    """The given orders as a bulk JSONL temporary file (the caller deletes it), refund lines added."""
    handle = tempfile.NamedTemporaryFile(prefix="poas-shopify-", suffix=".jsonl", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            for gid in gids:
                for row in order_rows(client, gid):
                    handle.write(orjson.dumps(row) + b"\n")
        attach_refund_lines(client, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
