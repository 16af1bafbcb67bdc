"""Shopify Admin GraphQL bulk-operation output (JSONL: Order rows, then child rows with `__parentId`).

Each Order row is rewritten into the REST order shape and mapped by `poas.sources.shopify`, so both
paths share one set of rules. Child rows usually follow their order closely; an order is completed
once `window` newer orders have started (or at the end of the file), so memory stays bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeGuard

from poas.domain.consent import DEFAULT_SIGNAL_KEYS
from poas.domain.order import Order
from poas.sources import shopify
from poas.sources.payload import PayloadError, TimeBounds, load_json


@dataclass(frozen=True, slots=True)
class BulkError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _is_map(value: object) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)  # the abc check only for non-dicts


def _tail(gid: object) -> str:
    return str(gid).rsplit("/", 1)[-1] if gid is not None else ""


def _kind(gid: object) -> str:
    parts = str(gid).split("/")
    return parts[-2] if len(parts) >= 2 else ""


def _set(value: Any) -> dict[str, Any] | None:
    """`{shopMoney: {amount, currencyCode}}` → the REST `{shop_money: {amount, currency_code}}`."""
    if not _is_map(value):
        return None
    shop = value.get("shopMoney")
    if not _is_map(shop):
        return None
    return {"shop_money": {"amount": shop.get("amount"), "currency_code": shop.get("currencyCode")}}


def _obj(value: Any) -> Mapping[str, Any]:
    return value if _is_map(value) else {}


def _nodes(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if _is_map(value):
        if isinstance(value.get("nodes"), list):
            return list(value["nodes"])
        if isinstance(value.get("edges"), list):
            return [e.get("node") for e in value["edges"] if _is_map(e)]
    return []


def _tax_lines(value: Any) -> list[dict[str, Any]]:
    return [
        {"price_set": _set(t.get("priceSet")), "rate": t.get("rate"), "title": t.get("title")}
        for t in _nodes(value)
        if _is_map(t)
    ]


def _allocations(value: Any) -> list[dict[str, Any]]:
    return [{"amount_set": _set(a.get("allocatedAmountSet"))} for a in _nodes(value) if _is_map(a)]


def line_item(row: Mapping[str, Any]) -> dict[str, Any]:
    variant = _obj(row.get("variant"))
    product = _obj(row.get("product"))
    return {
        "id": _tail(row.get("id")),
        "quantity": row.get("quantity"),
        "sku": row.get("sku"),
        "title": row.get("title") or row.get("name"),
        "variant_title": row.get("variantTitle"),
        "variant_id": _tail(variant.get("id")) or None,
        "product_id": _tail(product.get("id")) or None,
        "price_set": _set(row.get("originalUnitPriceSet")),
        "discount_allocations": _allocations(row.get("discountAllocations")),
        "tax_lines": _tax_lines(row.get("taxLines")),
        "gift_card": row.get("isGiftCard", False),
    }


def shipping_line(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "code": row.get("code"),
        "title": row.get("title"),
        "price_set": _set(row.get("originalPriceSet")),
        "discounted_price_set": _set(row.get("discountedPriceSet")),
        "tax_lines": _tax_lines(row.get("taxLines")),
        "discount_allocations": _allocations(row.get("discountAllocations")),
    }


def refund(row: Mapping[str, Any], order_id: str) -> dict[str, Any]:
    items = []
    for rli in _nodes(row.get("refundLineItems")):
        if not _is_map(rli):
            continue
        li = _obj(rli.get("lineItem"))
        restock = rli.get("restockType")
        items.append(
            {
                "line_item_id": _tail(li.get("id")),
                "quantity": rli.get("quantity"),
                "restock_type": str(restock).lower() if restock else None,
                "subtotal_set": _set(rli.get("subtotalSet")),
                "total_tax_set": _set(rli.get("totalTaxSet")),
            }
        )
    return {
        "id": _tail(row.get("id")),
        "order_id": order_id,
        "created_at": row.get("createdAt"),
        "processed_at": row.get("processedAt") or row.get("createdAt"),
        "refund_line_items": items,
    }


def order_payload(row: Mapping[str, Any], children: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The REST-shaped order for a GraphQL Order row and its child rows."""
    order_id = _tail(row.get("id"))
    customer = row.get("customer") if _is_map(row.get("customer")) else None
    address = row.get("shippingAddress") if _is_map(row.get("shippingAddress")) else None
    lines = [line_item(r) for r in _nodes(row.get("lineItems"))]
    shipping = [shipping_line(row["shippingLine"])] if _is_map(row.get("shippingLine")) else []
    for child in children:
        kind = _kind(child.get("id"))
        if kind == "LineItem":
            lines.append(line_item(child))
        elif kind == "ShippingLine":
            shipping.append(shipping_line(child))
    status = row.get("displayFinancialStatus")
    consent = customer.get("emailMarketingConsent") if customer else None
    return {
        "id": order_id,
        "name": row.get("name"),
        "created_at": row.get("createdAt"),
        "processed_at": row.get("processedAt"),
        "updated_at": row.get("updatedAt"),
        "cancelled_at": row.get("cancelledAt"),
        "test": row.get("test", False),
        "currency": row.get("currencyCode"),
        "taxes_included": row.get("taxesIncluded", False),
        "financial_status": str(status).lower() if status else "pending",
        "payment_gateway_names": row.get("paymentGatewayNames") or [],
        "email": row.get("email"),
        "phone": row.get("phone"),
        "customer": {
            "id": _tail(customer.get("id")),
            "email": customer.get("email"),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
            "email_marketing_consent": (
                {"state": str(consent.get("marketingState", "")).lower()} if _is_map(consent) else None
            ),
        }
        if customer
        else None,
        "shipping_address": {
            "city": address.get("city"),
            "zip": address.get("zip"),
            "province_code": address.get("provinceCode"),
            "country_code": address.get("countryCodeV2") or address.get("countryCode"),
        }
        if address
        else None,
        "landing_site": row.get("landingPageUrl"),
        "referring_site": row.get("referrerUrl"),
        "client_details": {"browser_ip": row.get("clientIp")} if row.get("clientIp") else None,
        "note_attributes": [
            {"name": a.get("key"), "value": a.get("value")}
            for a in _nodes(row.get("customAttributes"))
            if _is_map(a)
        ],
        "line_items": lines,
        "shipping_lines": shipping,
        "refunds": [refund(r, order_id) for r in _nodes(row.get("refunds")) if _is_map(r)],
    }


@dataclass(slots=True)
class BulkGroup:
    """An Order row with its child rows, as read: `line` is the Order row's line, `raw` the rows'
    lines as bytes (the Order row's first), so a worker process can be sent the group cheaply."""

    line: int
    gid: str
    row: dict[str, Any]
    children: list[dict[str, Any]]
    raw: list[bytes]

    @classmethod
    def from_raw(cls, line: int, gid: str, raw: list[bytes]) -> BulkGroup:
        """The group again from its lines (which `bulk_groups` has read as JSON objects once)."""
        rows = [load_json(r) for r in raw]
        return cls(line, gid, rows[0], rows[1:], raw)


def bulk_groups(
    stream: IO[bytes], *, window: int = 1000, on_progress: Callable[[int], None] | None = None
) -> Iterator[BulkGroup | BulkError]:
    """Each Order row with its child rows (or the error of a line that is neither), in file order:
    an order is complete once `window` newer orders have started, or at the end of the file.
    `on_progress` gets the bytes read so far (every 500 lines and at the end)."""
    open_orders: OrderedDict[str, BulkGroup] = OrderedDict()
    done = 0
    for line_no, raw in enumerate(stream, start=1):
        done += len(raw)
        if on_progress is not None and line_no % 500 == 0:
            on_progress(done)
        if not raw.strip():
            continue
        try:
            row = load_json(raw)
        except PayloadError as exc:
            yield BulkError(line_no, "not valid JSON" if exc.field == "body" else str(exc))
            continue
        if not isinstance(row, dict):
            yield BulkError(line_no, "expected a JSON object")
            continue
        parent = row.get("__parentId")
        if parent is None:
            gid = str(row.get("id") or "")
            if _kind(gid) != "Order":
                yield BulkError(line_no, "id: expected an Order gid (gid://shopify/Order/…) or a __parentId")
                continue
            open_orders[gid] = BulkGroup(line_no, gid, row, [], [raw])
            while len(open_orders) > window:
                yield open_orders.popitem(last=False)[1]
        elif parent in open_orders:
            group = open_orders[parent]
            group.children.append(row)
            group.raw.append(raw)
        else:
            yield BulkError(line_no, f"__parentId: order {_tail(parent)} is not in the recent rows")
    while open_orders:
        yield open_orders.popitem(last=False)[1]
    if on_progress is not None:
        on_progress(done)


def parse_group(
    group: BulkGroup,
    shop_id: str,
    *,
    consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS,
    bounds: TimeBounds | None = None,
) -> Order | BulkError:
    """The order of a complete group, or the error naming its first line and the field."""
    try:
        return shopify.parse_order(
            order_payload(group.row, group.children), shop_id, consent_keys=consent_keys, bounds=bounds
        )
    except PayloadError as exc:
        return BulkError(group.line, f"order {_tail(group.gid)}: {exc}")


def read_bulk(
    stream: IO[bytes],
    shop_id: str,
    *,
    window: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS,
    bounds: TimeBounds | None = None,
) -> Iterator[Order | BulkError]:
    """Orders (or errors naming the line and field) from a bulk JSONL stream, in file order;
    `consent_keys` and `bounds` as for `shopify.parse_order` (customAttributes carry the ads consent
    signal)."""
    for item in bulk_groups(stream, window=window, on_progress=on_progress):
        if isinstance(item, BulkError):
            yield item
        else:
            yield parse_group(item, shop_id, consent_keys=consent_keys, bounds=bounds)
