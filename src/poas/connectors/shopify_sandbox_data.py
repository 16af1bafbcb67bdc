"""The Shopify sandbox's data: a seed directory (REST order webhook bodies, a variants CSV) and the
bulk-operation JSONL the GraphQL Admin API would write for those orders.

The JSONL is the shape `poas.sources.shopify_bulk` reads: an Order row, then its LineItem and
ShippingLine rows carrying `__parentId`; refunds are a list on the Order row (without their line
items, which a bulk query cannot select: `refund_nodes` serves them to `nodes(ids:)`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeGuard

import orjson

VARIANT_COLUMNS = (
    "variant_id",
    "sku",
    "product_title",
    "variant_title",
    "product_type",
    "unit_cost",
    "currency",
)


class SeedError(ValueError):
    """A seed file that cannot be read: the message names the file (and row or field)."""


@dataclass(frozen=True, slots=True)
class Variant:
    variant_id: str
    sku: str
    product_title: str
    variant_title: str
    product_type: str
    unit_cost: Decimal | None
    currency: str


def load_orders(directory: Path) -> list[dict[str, Any]]:
    """`orders/*.json` under `directory`, in file-name order."""
    orders = []
    for path in sorted((directory / "orders").glob("*.json")):
        try:
            body = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise SeedError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(body, dict) or "id" not in body:
            raise SeedError(f"{path}: expected an order object with an id")
        orders.append(body)
    return orders


def load_variants(path: Path) -> list[Variant]:
    """`variants.csv` with the columns VARIANT_COLUMNS (unit_cost may be empty: no cost set)."""
    if not path.exists():
        return []
    variants = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in VARIANT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SeedError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            cost_text = (row["unit_cost"] or "").strip()
            try:
                cost = Decimal(cost_text) if cost_text else None
            except InvalidOperation:
                raise SeedError(f"{path} line {line}: unit_cost {cost_text!r} is not a number") from None
            if not row["variant_id"].strip():
                raise SeedError(f"{path} line {line}: variant_id is empty")
            variants.append(
                Variant(
                    row["variant_id"].strip(),
                    row["sku"].strip(),
                    row["product_title"].strip(),
                    row["variant_title"].strip(),
                    row["product_type"].strip(),
                    cost,
                    row["currency"].strip().upper(),
                )
            )
    return variants


def _is_map(value: object) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)  # the abc check only for non-dicts


def _gid(kind: str, value: object) -> str | None:
    return f"gid://shopify/{kind}/{value}" if value not in (None, "") else None


def _money(value: Any) -> dict[str, Any] | None:
    """REST `{shop_money: {amount, currency_code}}` → GraphQL `{shopMoney: {amount, currencyCode}}`."""
    if not _is_map(value) or not _is_map(value.get("shop_money")):
        return None
    shop = value["shop_money"]
    return {"shopMoney": {"amount": shop.get("amount"), "currencyCode": shop.get("currency_code")}}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if _is_map(v)] if isinstance(value, list) else []


def _taxes(value: Any) -> list[dict[str, Any]]:
    return [
        {"priceSet": _money(t.get("price_set")), "rate": t.get("rate"), "title": t.get("title")}
        for t in _list(value)
    ]


def _allocations(value: Any) -> list[dict[str, Any]]:
    return [{"allocatedAmountSet": _money(a.get("amount_set"))} for a in _list(value)]


def _line_row(li: Mapping[str, Any], parent: str) -> dict[str, Any]:
    return {
        "id": _gid("LineItem", li.get("id")),
        "quantity": li.get("quantity"),
        "sku": li.get("sku"),
        "title": li.get("title"),
        "variantTitle": li.get("variant_title"),
        "variant": {"id": _gid("ProductVariant", li.get("variant_id"))} if li.get("variant_id") else None,
        "product": {"id": _gid("Product", li.get("product_id"))} if li.get("product_id") else None,
        "originalUnitPriceSet": _money(li.get("price_set")),
        "discountAllocations": _allocations(li.get("discount_allocations")),
        "taxLines": _taxes(li.get("tax_lines")),
        "isGiftCard": bool(li.get("gift_card", False)),
        "__parentId": parent,
    }


def _shipping_row(sl: Mapping[str, Any], parent: str) -> dict[str, Any]:
    return {
        "id": _gid("ShippingLine", sl.get("id")),
        "code": sl.get("code"),
        "title": sl.get("title"),
        "originalPriceSet": _money(sl.get("price_set")),
        "discountedPriceSet": _money(sl.get("discounted_price_set")),
        "taxLines": _taxes(sl.get("tax_lines")),
        "discountAllocations": _allocations(sl.get("discount_allocations")),
        "__parentId": parent,
    }


def _refund(r: Mapping[str, Any]) -> dict[str, Any]:
    items = [
        {
            "lineItem": {"id": _gid("LineItem", rli.get("line_item_id"))},
            "quantity": rli.get("quantity"),
            "restockType": str(rli["restock_type"]).upper() if rli.get("restock_type") else None,
            "subtotalSet": _money(rli.get("subtotal_set")),
            "totalTaxSet": _money(rli.get("total_tax_set")),
        }
        for rli in _list(r.get("refund_line_items"))
    ]
    return {
        "id": _gid("Refund", r.get("id")),
        "createdAt": r.get("created_at"),
        "processedAt": r.get("processed_at"),
        "refundLineItems": {"nodes": items},
    }


def _customer(c: Any) -> dict[str, Any] | None:
    if not _is_map(c):
        return None
    consent = c.get("email_marketing_consent")
    return {
        "id": _gid("Customer", c.get("id")),
        "email": c.get("email"),
        "firstName": c.get("first_name"),
        "lastName": c.get("last_name"),
        "emailMarketingConsent": {"marketingState": str(consent.get("state") or "").upper()}
        if _is_map(consent)
        else None,
    }


def _address(a: Any) -> dict[str, Any] | None:
    if not _is_map(a):
        return None
    return {
        "city": a.get("city"),
        "zip": a.get("zip"),
        "provinceCode": a.get("province_code"),
        "countryCodeV2": a.get("country_code"),
    }


def bulk_rows(order: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The bulk-operation JSONL rows of one REST order: the Order row, then its child rows."""
    gid = _gid("Order", order.get("id")) or ""
    status = order.get("financial_status")
    client = order.get("client_details")
    yield {
        "id": gid,
        "name": order.get("name"),
        "createdAt": order.get("created_at"),
        "processedAt": order.get("processed_at"),
        "updatedAt": order.get("updated_at"),
        "cancelledAt": order.get("cancelled_at"),
        "test": bool(order.get("test", False)),
        "currencyCode": order.get("currency"),
        "taxesIncluded": bool(order.get("taxes_included", False)),
        "displayFinancialStatus": str(status).upper() if status else None,
        "paymentGatewayNames": order.get("payment_gateway_names") or [],
        "email": order.get("email"),
        # Order.phone is the customer's phone on the GraphQL side
        "phone": order.get("phone") or (order.get("customer") or {}).get("phone"),
        "customer": _customer(order.get("customer")),
        "shippingAddress": _address(order.get("shipping_address") or order.get("billing_address")),
        "landingPageUrl": order.get("landing_site"),
        "referrerUrl": order.get("referring_site"),
        "clientIp": client.get("browser_ip") if _is_map(client) else None,
        "customAttributes": [
            {"key": a.get("name"), "value": a.get("value")} for a in _list(order.get("note_attributes"))
        ],
        # Order.refunds is a list: a bulk query cannot select its refundLineItems connection, so the
        # rows carry the refunds' own fields; the lines are read with `nodes(ids:)` (refund_nodes)
        "refunds": [
            {k: v for k, v in _refund(r).items() if k != "refundLineItems"}
            for r in _list(order.get("refunds"))
        ],
    }
    for li in _list(order.get("line_items")):
        yield _line_row(li, gid)
    for sl in _list(order.get("shipping_lines")):
        yield _shipping_row(sl, gid)


def refund_nodes(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The order's refunds as Refund nodes with all their `refundLineItems` (`{"nodes": [...]}`)."""
    return [_refund(r) for r in _list(order.get("refunds"))]


def variant_node(v: Variant, shop_currency: str) -> dict[str, Any]:
    """A ProductVariant as the GraphQL Admin API returns it (with the inventory item's unit cost)."""
    cost = (
        {"amount": str(v.unit_cost), "currencyCode": v.currency or shop_currency}
        if v.unit_cost is not None
        else None
    )
    return {
        "id": f"gid://shopify/ProductVariant/{v.variant_id}",
        "sku": v.sku,
        "title": v.variant_title,
        "product": {"title": v.product_title, "productType": v.product_type},
        "inventoryItem": {"unitCost": cost},
    }
