"""Shopify Admin GraphQL bulk-operation output (JSONL: Order rows, then child rows with `__parentId`).

Each Order row is rewritten into the REST order shape and mapped by `poas.sources.shopify`, so both
paths share one set of rules. Child rows usually follow their order closely; an order is completed
once `window` newer orders have started (or at the end of the file), so memory stays bounded.

Grouping reads a well-formed line's kind from its bytes (`raw_groups`: an Order row starts with its
`id`, a child row ends with its `__parentId`) and parses only the lines it cannot read so; each row is
then parsed once, with its group (`parse_raw_group`), in a backfill's worker processes. A line's
error is reported when it is read if its bytes say nothing, else when its group is parsed.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeGuard

from poas.domain.consent import DEFAULT_SIGNAL_KEYS
from poas.domain.order import Order
from poas.sources import shopify
from poas.sources.payload import PayloadError, TimeBounds, load_json
from poas.sources.shopify_bulk_fast import fast_order


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
    """An Order row with its child rows, parsed: `line` is the Order row's line."""

    line: int
    gid: str
    row: dict[str, Any]
    children: list[dict[str, Any]]


@dataclass(slots=True)
class RawGroup:
    """An Order row's line with its child rows' lines, as read and not yet parsed: `raw` holds the
    lines (the Order row's first) and `lines` their line numbers. Plain bytes and ints, so a worker
    process is sent a group cheaply (`as_tuple`)."""

    line: int
    gid: str
    raw: list[bytes]
    lines: list[int]

    def as_tuple(self) -> tuple[int, str, list[bytes], list[int]]:
        return (self.line, self.gid, self.raw, self.lines)


# A well-formed line is classified from its bytes; every other line is parsed to be classified.
# Either way a row is parsed once, by `parse_raw_group`, which checks the bytes' reading.
_HEAD = re.compile(rb'\{\s*"id"\s*:\s*"(gid://shopify/Order/[0-9]+)"\s*[,}]')
_CHILD = re.compile(rb'"__parentId"\s*:\s*"(gid://shopify/Order/[0-9]+)"\s*\}\s*$')
_TAIL = 120  # bytes at a line's end searched for its __parentId


def _read_kind(raw: bytes) -> tuple[bool, str] | None:
    """(is a child row, the Order gid) of a well-formed line read from its bytes; None when the line
    must be parsed to tell (any other layout, or "__parentId" more than once)."""
    if b"__parentId" in raw:
        if raw.count(b"__parentId") != 1:
            return None
        child = _CHILD.search(raw, max(0, len(raw) - _TAIL))
        return (True, child.group(1).decode()) if child else None
    head = _HEAD.match(raw)
    return (False, head.group(1).decode()) if head else None


def _row_kind(row: Any) -> tuple[bool, str] | str:
    """(is a child row, the Order gid) of a parsed row, or what is wrong with it."""
    if not isinstance(row, dict):
        return "expected a JSON object"
    parent = row.get("__parentId")
    if parent is not None:
        return (True, str(parent))
    gid = str(row.get("id") or "")
    if _kind(gid) != "Order":
        return "id: expected an Order gid (gid://shopify/Order/…) or a __parentId"
    return (False, gid)


def _parsed(raw: bytes) -> Any:
    try:
        return load_json(raw)
    except PayloadError as exc:
        return BulkError(0, "not valid JSON" if exc.field == "body" else str(exc))


def _wrong(kind: tuple[bool, str] | str | BulkError, gid: str) -> str:
    """Why a row of a group is not what its bytes read as."""
    if isinstance(kind, BulkError):
        return kind.message
    if isinstance(kind, str):
        return kind
    return f"id, __parentId: not those of order {_tail(gid)} when parsed (a key given twice?)"


def _orphan(line: int, gid: str) -> BulkError:
    return BulkError(line, f"__parentId: order {_tail(gid)} is not in the recent rows")


def raw_groups(
    stream: IO[bytes], *, window: int = 1000, on_progress: Callable[[int], None] | None = None
) -> Iterator[RawGroup | BulkError]:
    """Each Order row's line with its child rows' lines (or the error of a line that is neither), in
    file order: an order is complete once `window` newer orders have started, or at the end of the
    file. A line is parsed here only when its bytes do not tell its kind. `on_progress` gets the
    bytes read so far (every 500 lines and at the end)."""
    open_orders: OrderedDict[str, RawGroup] = OrderedDict()
    done = 0
    for line_no, raw in enumerate(stream, start=1):
        done += len(raw)
        if on_progress is not None and line_no % 500 == 0:
            on_progress(done)
        if not raw.strip():
            continue
        kind = _read_kind(raw)
        if kind is None:
            row = _parsed(raw)
            found = BulkError(line_no, row.message) if isinstance(row, BulkError) else _row_kind(row)
            if isinstance(found, BulkError | str):
                yield found if isinstance(found, BulkError) else BulkError(line_no, found)
                continue
            kind = found
        child, gid = kind
        if not child:
            if gid in open_orders:  # the same order again before its group completed: that one first
                yield open_orders.pop(gid)
            open_orders[gid] = RawGroup(line_no, gid, [raw], [line_no])
            while len(open_orders) > window:
                yield open_orders.popitem(last=False)[1]
        elif gid in open_orders:
            group = open_orders[gid]
            group.raw.append(raw)
            group.lines.append(line_no)
        else:
            yield _orphan(line_no, gid)
    while open_orders:
        yield open_orders.popitem(last=False)[1]
    if on_progress is not None:
        on_progress(done)


def parse_raw_group(
    group: RawGroup,
    shop_id: str,
    *,
    consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS,
    bounds: TimeBounds | None = None,
) -> list[Order | BulkError]:
    """The order of a group read by `raw_groups`, after the errors of its bad lines: a child row that
    is not valid JSON is left out (its line named); an Order row that is not valid JSON (or is not
    the Order its bytes read as) fails with its child rows, which then have no order."""
    head = _parsed(group.raw[0])
    kind = head if isinstance(head, BulkError) else _row_kind(head)
    if kind != (False, group.gid):
        return [
            BulkError(group.line, _wrong(kind, group.gid)),
            *(_orphan(n, group.gid) for n in group.lines[1:]),
        ]
    out: list[Order | BulkError] = []
    children: list[dict[str, Any]] = []
    for raw, line_no in zip(group.raw[1:], group.lines[1:], strict=True):
        row = _parsed(raw)
        kind = row if isinstance(row, BulkError) else _row_kind(row)
        if kind == (True, group.gid):
            children.append(row)
        elif isinstance(kind, BulkError):
            out.append(BulkError(line_no, kind.message))
        else:
            out.append(BulkError(line_no, _wrong(kind, group.gid)))
    out.append(
        parse_group(
            BulkGroup(group.line, group.gid, head, children),
            shop_id,
            consent_keys=consent_keys,
            bounds=bounds,
        )
    )
    return out


def parse_group(
    group: BulkGroup,
    shop_id: str,
    *,
    consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS,
    bounds: TimeBounds | None = None,
) -> Order | BulkError:
    """The order of a complete group, or the error naming its first line and the field."""
    fast = fast_order(group.row, group.children, shop_id, consent_keys=consent_keys, bounds=bounds)
    if fast is not None:
        return fast
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
    for item in raw_groups(stream, window=window, on_progress=on_progress):
        if isinstance(item, BulkError):
            yield item
        else:
            yield from parse_raw_group(item, shop_id, consent_keys=consent_keys, bounds=bounds)
