"""One order's deliveries in the platforms' documented webhook shapes, in the order they happened.

Shopify (REST order and refund webhooks): orders/create (pending), orders/paid, orders/edited (the
`order_edit` summary) and the orders/updated carrying the edit (a scarf added: partially paid), then
orders/cancelled, then a refund made after the cancellation (refunds/create). WooCommerce (REST v3
orders, cash on delivery): order.created (pending), processing without `date_paid_gmt`, an edit, completed
(still without `date_paid_gmt`), then a refund inside order.updated. Customers are not subscribed to
e-mail marketing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[1] / "fixtures"
SHOPIFY_ORDER_ID = "5830120800456"
WOO_ORDER_ID = "4711"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_bytes())
    return data


def _nok(amount: str) -> dict[str, Any]:
    money = {"amount": amount, "currency_code": "NOK"}
    return {"shop_money": money, "presentment_money": dict(money)}


def _not_subscribed(order: dict[str, Any]) -> dict[str, Any]:
    order["buyer_accepts_marketing"] = False
    order["customer"]["email_marketing_consent"] = {
        "state": "not_subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": None,
    }
    return order


def _totals(order: dict[str, Any], **amounts: str) -> None:
    for key, amount in amounts.items():
        for name in (key, f"current_{key}"):
            order[name] = amount
            order[f"{name}_set"] = _nok(amount)


SCARF = {
    "id": 13620304626000,
    "admin_graphql_api_id": "gid://shopify/LineItem/13620304626000",
    "variant_id": 44021137621000,
    "product_id": 8012345743560,
    "sku": "SKJERF-ULL",
    "title": "Skjerf",
    "variant_title": None,
    "name": "Skjerf",
    "vendor": "Nordlys Strikk",
    "product_type": "Tilbehør",
    "quantity": 1,
    "current_quantity": 1,
    "fulfillable_quantity": 1,
    "price": "400.00",
    "price_set": _nok("400.00"),
    "total_discount": "0.00",
    "total_discount_set": _nok("0.00"),
    "grams": 150,
    "gift_card": False,
    "taxable": True,
    "requires_shipping": True,
    "product_exists": True,
    "fulfillment_status": None,
    "fulfillment_service": "manual",
    "properties": [],
    "tax_lines": [{"title": "MVA", "rate": 0.25, "price": "80.00", "price_set": _nok("80.00")}],
    "discount_allocations": [],
    "duties": [],
}


def shopify_deliveries() -> list[tuple[str, bytes]]:
    """(topic, body) in the order the facts happened (times in +01:00, Oslo)."""
    create = _not_subscribed(_load("shopify/order_create.json"))
    paid = _not_subscribed(_load("shopify/order_paid.json"))
    edit = {
        "order_edit": {
            "id": 90110011,
            "app_id": None,
            "created_at": "2026-11-20T15:03:10+01:00",
            "notify_customer": False,
            "order_id": int(SHOPIFY_ORDER_ID),
            "staff_note": "",
            "user_id": 88001122,
            "line_items": {"additions": [{"id": SCARF["id"], "delta": 1}], "removals": []},
            "discounts": {"additions": [], "removals": []},
            "shipping_lines": {"additions": [], "removals": []},
        }
    }
    updated = copy.deepcopy(paid)
    updated["line_items"].append(copy.deepcopy(SCARF))
    updated["updated_at"] = "2026-11-20T15:03:12+01:00"
    updated["financial_status"] = "partially_paid"
    updated["total_outstanding"] = "400.00"
    _totals(
        updated,
        total_price="2524.00",
        subtotal_price="2425.00",
        total_tax="504.80",
        total_line_items_price="2650.00",
    )
    updated["total_weight"] = 1170
    cancelled = copy.deepcopy(updated)
    cancelled.update(
        cancelled_at="2026-11-20T15:33:11+01:00",
        cancel_reason="customer",
        closed_at="2026-11-20T15:33:11+01:00",
        updated_at="2026-11-20T15:33:12+01:00",
    )
    refund = _load("shopify/refund_create.json")
    refund["created_at"] = refund["processed_at"] = "2026-11-20T16:03:11+01:00"
    return [
        ("orders/create", _bytes(create)),
        ("orders/paid", _bytes(paid)),
        ("orders/edited", _bytes(edit)),
        ("orders/updated", _bytes(updated)),
        ("orders/cancelled", _bytes(cancelled)),
        ("refunds/create", _bytes(refund)),
    ]


def woo_deliveries() -> list[tuple[str, bytes]]:
    """(topic, body) for a cash-on-delivery order, in the order the facts happened (GMT times)."""
    base = _load("woocommerce/order_created.json")
    base.update(
        payment_method="cod",
        payment_method_title="Betaling ved levering",
        transaction_id="",
        date_paid=None,
        date_paid_gmt=None,
        needs_payment=False,
    )

    def version(status: str, modified: str, **changes: Any) -> dict[str, Any]:
        doc = copy.deepcopy(base)
        doc.update(status=status, date_modified_gmt=modified, date_modified=modified, **changes)
        return doc

    created = version("pending", "2026-11-21T09:30:01")
    processing = version("processing", "2026-11-21T09:31:00")
    edited = version("processing", "2026-11-21T10:30:00")
    filters = edited["line_items"][1]
    filters.update(quantity=3, subtotal="240.00", subtotal_tax="60.00", total="216.00", total_tax="54.00")
    filters["taxes"] = [{"id": 1, "total": "54", "subtotal": "60"}]
    edited.update(total="2218.00", total_tax="443.60", cart_tax="423.80")
    done = {"date_completed": "2026-11-21T11:30:00", "date_completed_gmt": "2026-11-21T11:30:00"}
    completed = version("completed", "2026-11-21T11:30:00", **done)
    for key in ("line_items", "total", "total_tax", "cart_tax"):
        completed[key] = copy.deepcopy(edited[key])
    refunded = copy.deepcopy(completed)
    refunded.update(date_modified_gmt="2026-11-21T12:30:00", date_modified="2026-11-21T12:30:00")
    restocked = {"id": 4010, "key": "_restock_refunded_items", "value": "1"}
    refunded["line_items"][0]["meta_data"].append(restocked)
    refunded["refunds"] = _load("woocommerce/order_updated_refunded.json")["refunds"]
    refunded["refunds"][0]["date_created_gmt"] = "2026-11-21T12:29:40"
    return [
        ("order.created", _bytes(created)),
        ("order.updated", _bytes(processing)),
        ("order.updated", _bytes(edited)),
        ("order.updated", _bytes(completed)),
        ("order.updated", _bytes(refunded)),
    ]


def _bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()
