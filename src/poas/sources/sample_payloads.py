"""The sample shop's orders and refunds as Shopify REST webhook payloads (`orders/*`, `refunds/create`)."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from poas.sources.sample_catalog import CURRENCY, D, money_set, q, s

if TYPE_CHECKING:
    from poas.sources.sample_shop import GenOrder, Line

OSLO = ZoneInfo("Europe/Oslo")


def ts(dt: datetime) -> str:
    """Shopify prints times in the shop's zone with its offset."""
    return dt.astimezone(OSLO).isoformat(timespec="seconds")


def _gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def _tax_line(amount: Decimal, rate: Decimal) -> dict[str, Any]:
    # Shopify sends the rate as a JSON number; only the payload carries it that way.
    return {
        "title": "MVA",
        "rate": float(rate),
        "price": s(amount),
        "price_set": money_set(amount),
        "channel_liable": False,
    }


def line_item(ln: Line) -> dict[str, Any]:
    p, v = ln.product, ln.variant
    allocations = (
        [{"amount": s(ln.discount), "amount_set": money_set(ln.discount), "discount_application_index": 0}]
        if ln.discount
        else []
    )
    return {
        "id": ln.line_id,
        "admin_graphql_api_id": _gid("LineItem", ln.line_id),
        "product_id": p.product_id,
        "variant_id": v.variant_id,
        "sku": v.sku,
        "title": p.title,
        "variant_title": v.title,
        "name": f"{p.title} - {v.title}",
        "vendor": p.vendor,
        "product_type": p.category.name,
        "quantity": ln.qty,
        "current_quantity": ln.qty,
        "fulfillable_quantity": ln.qty,
        "price": s(v.price),
        "price_set": money_set(v.price),
        "total_discount": "0.00",
        "total_discount_set": money_set(D(0)),
        "discount_allocations": allocations,
        "tax_lines": [_tax_line(ln.tax, p.category.vat_rate)],
        "taxable": True,
        "gift_card": False,
        "requires_shipping": True,
        "product_exists": True,
        "grams": v.grams,
        "fulfillment_status": None,
        "properties": [],
    }


def _attribution(
    o: GenOrder, cust: dict[str, Any], rng: random.Random
) -> tuple[str | None, str, list[dict[str, str]]]:
    """landing_site, referring_site and the cart attributes a theme script leaves on the order."""
    notes: list[dict[str, str]] = []
    consent = cust["ads_consent"]
    if consent is not None:
        notes.append({"name": "_consent_ads", "value": "granted" if consent else "denied"})
    ms = int(o.created_at.timestamp() * 1000) - rng.randint(60_000, 3_600_000)
    product_path = f"/products/{o.lines[0].variant.sku.lower()}"
    if o.campaign is not None and o.adset is not None and o.ad is not None:
        query = (
            f"utm_source=facebook&utm_medium=paid_social&utm_campaign={o.campaign.campaign_id}"
            f"&utm_term={o.adset.adset_id}&utm_content={o.ad.ad_id}"
        )
        referrer = rng.choice(
            ("https://l.facebook.com/", "https://m.facebook.com/", "https://l.instagram.com/")
        )
        if rng.random() < 0.75:
            fbclid = "IwAR" + base64.urlsafe_b64encode(rng.getrandbits(336).to_bytes(42, "big")).decode()
            query += f"&fbclid={fbclid}"
            if consent is not False:
                notes.append({"name": "_fbc", "value": f"fb.1.{ms}.{fbclid}"})
        landing: str | None = f"{product_path}?{query}"
    else:
        roll = rng.random()
        if roll < 0.35:
            landing, referrer = "/", "https://www.google.com/"
        elif roll < 0.55:
            landing, referrer = "/collections/alle?utm_source=google&utm_medium=cpc&utm_campaign=sok", ""
        elif roll < 0.70:
            landing, referrer = f"{product_path}?utm_source=nyhetsbrev&utm_medium=email", ""
        elif roll < 0.80:
            landing, referrer = "/wallets/checkouts.json", ""
        else:
            landing, referrer = None, ""
    if consent is not False and rng.random() < 0.85:
        notes.append({"name": "_fbp", "value": cust["fbp"]})
    return landing, referrer, notes


def _address(cust: dict[str, Any]) -> dict[str, Any]:
    return {
        "first_name": cust["first_name"],
        "last_name": cust["last_name"],
        "address1": cust["address1"],
        "city": cust["city"],
        "zip": cust["zip"],
        "country": "Norway",
        "country_code": "NO",
        "phone": cust["phone"],
    }


def order_payload(o: GenOrder, cust: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    landing, referrer, notes = _attribution(o, cust, rng)
    subtotal = sum((ln.gross for ln in o.lines), D(0))
    discounts = sum((ln.discount for ln in o.lines), D(0))
    line_total = sum((ln.variant.price * ln.qty for ln in o.lines), D(0))
    by_rate: dict[Decimal, Decimal] = {}
    for ln in o.lines:
        rate = ln.product.category.vat_rate
        by_rate[rate] = by_rate.get(rate, D(0)) + ln.tax
    if o.shipping_price:
        by_rate[D("0.25")] = by_rate.get(D("0.25"), D(0)) + o.shipping_tax
    tax = sum(by_rate.values(), D(0))
    total = o.total
    created = ts(o.created_at)
    updated = ts(o.created_at + timedelta(seconds=rng.randint(2, 40)))
    cancelled = o.status == "voided"
    # Ads consent is the `_consent_ads` cart attribute the consent banner script leaves (see
    # _attribution); customers who never answered the banner have none, and the shop's default
    # decides for them. The newsletter box (email_marketing_consent, buyer_accepts_marketing) is a
    # separate choice: most customers never subscribe, and it never decides what is sent to Meta.
    newsletter = bool(cust["newsletter"])
    marketing = {
        "state": "subscribed" if newsletter else "not_subscribed",
        "opt_in_level": "single_opt_in" if newsletter else None,
        "consent_updated_at": created if newsletter else None,
    }
    return {
        "id": o.order_id,
        "admin_graphql_api_id": _gid("Order", o.order_id),
        "name": f"#{o.number}",
        "order_number": o.number,
        "number": o.number - 1000,
        "email": cust["email"],
        "contact_email": cust["email"],
        "phone": cust["phone"],
        "created_at": created,
        "processed_at": created,
        "updated_at": updated,
        "cancelled_at": updated if cancelled else None,
        "cancel_reason": "customer" if cancelled else None,
        "closed_at": None,
        "test": False,
        "confirmed": True,
        "currency": CURRENCY,
        "presentment_currency": CURRENCY,
        "taxes_included": True,
        "tax_exempt": False,
        "estimated_taxes": False,
        "financial_status": o.status,
        "fulfillment_status": None,
        "gateway": o.gateway.name,
        "payment_gateway_names": [o.gateway.name],
        "source_name": "web",
        "landing_site": landing,
        "landing_site_ref": None,
        "referring_site": referrer,
        "browser_ip": cust["ip"],
        "client_details": {
            "browser_ip": cust["ip"],
            "user_agent": cust["ua"],
            "accept_language": "nb-NO",
        },
        "note": None,
        "note_attributes": notes,
        "tags": "",
        "buyer_accepts_marketing": newsletter,
        "total_price": s(total),
        "total_price_set": money_set(total),
        "current_total_price": s(total),
        "subtotal_price": s(subtotal),
        "subtotal_price_set": money_set(subtotal),
        "current_subtotal_price": s(subtotal),
        "total_line_items_price": s(line_total),
        "total_line_items_price_set": money_set(line_total),
        "total_discounts": s(discounts),
        "total_discounts_set": money_set(discounts),
        "current_total_discounts": s(discounts),
        "total_tax": s(tax),
        "total_tax_set": money_set(tax),
        "current_total_tax": s(tax),
        "total_shipping_price_set": money_set(o.shipping_price),
        "total_weight": o.grams,
        "tax_lines": [_tax_line(amount, rate) for rate, amount in sorted(by_rate.items())],
        "discount_codes": (
            [{"code": "VELKOMMEN10", "amount": s(discounts), "type": "percentage"}] if discounts else []
        ),
        "discount_applications": (
            [
                {
                    "type": "discount_code",
                    "code": "VELKOMMEN10",
                    "value": "10.0",
                    "value_type": "percentage",
                    "allocation_method": "across",
                    "target_selection": "all",
                    "target_type": "line_item",
                }
            ]
            if discounts
            else []
        ),
        "line_items": [line_item(ln) for ln in o.lines],
        "shipping_lines": [
            {
                "id": o.order_id + 500_000_000_000,
                "code": o.shipping.code,
                "title": o.shipping.title,
                "source": o.shipping.carrier.lower(),
                "price": s(o.shipping_price),
                "price_set": money_set(o.shipping_price),
                "discounted_price": s(o.shipping_price),
                "discounted_price_set": money_set(o.shipping_price),
                "discount_allocations": [],
                "tax_lines": [_tax_line(o.shipping_tax, D("0.25"))] if o.shipping_price else [],
            }
        ],
        "customer": {
            "id": cust["id"],
            "email": cust["email"],
            "first_name": cust["first_name"],
            "last_name": cust["last_name"],
            "phone": cust["phone"],
            "currency": CURRENCY,
            "email_marketing_consent": marketing,
            "default_address": _address(cust),
        },
        "billing_address": _address(cust),
        "shipping_address": _address(cust),
        "refunds": [],
        "fulfillments": [],
    }


def cancellation_payload(o: GenOrder) -> dict[str, Any]:
    """The `orders/cancelled` payload of a paid order cancelled later: the same order, changed then. A
    Klarna purchase is only authorized until it ships, so its payment is voided; a captured payment is
    given back (financial_status refunded)."""
    assert o.cancelled_at is not None
    when = ts(o.cancelled_at)
    status = "voided" if o.gateway.name == "klarna" else "refunded"
    return {
        **o.payload,
        "updated_at": when,
        "cancelled_at": when,
        "cancel_reason": "customer",
        "financial_status": status,
        "closed_at": when,
    }


def refund_payload(o: GenOrder) -> dict[str, Any]:
    """The `refunds/create` payload: the returned lines, their restock type and the money sent back."""
    assert o.refund is not None
    r = o.refund
    items = []
    amount = D(0)
    for i, ret in enumerate(r.lines):
        ln = ret.line
        amount += ln.gross
        items.append(
            {
                "id": r.refund_id * 10 + i,
                "line_item_id": ln.line_id,
                "quantity": ln.qty,
                "restock_type": ret.restock,
                "location_id": 71_000_000_001 if ret.restock == "return" else None,
                "subtotal": float(q(ln.gross)),
                "subtotal_set": money_set(ln.gross),
                "total_tax": float(ln.tax),
                "total_tax_set": money_set(ln.tax),
                "line_item": line_item(ln),
            }
        )
    when = ts(r.processed_at)
    return {
        "id": r.refund_id,
        "admin_graphql_api_id": _gid("Refund", r.refund_id),
        "order_id": o.order_id,
        "created_at": when,
        "processed_at": when,
        "note": "Retur",
        "restock": any(ret.restock == "return" for ret in r.lines),
        "user_id": None,
        "duties": [],
        "additional_fees": [],
        "refund_line_items": items,
        "order_adjustments": [],
        "transactions": [
            {
                "id": r.refund_id + 3_000_000_000_000,
                "order_id": o.order_id,
                "kind": "refund",
                "gateway": o.gateway.name,
                "status": "success",
                "amount": s(amount),
                "currency": CURRENCY,
                "created_at": when,
                "processed_at": when,
            }
        ],
    }
