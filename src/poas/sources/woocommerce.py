"""WooCommerce webhooks (REST v3 order shape) mapped to canonical Orders.

WooCommerce's REST line, shipping and fee totals exclude tax whatever `prices_include_tax` says, and
the tax sits in the `*_tax` fields, so the canonical order is built on the ex-VAT basis
(`prices_include_vat=False`). Refunds arrive inside `order.updated` (there is no refund topic).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from poas.domain.consent import DEFAULT_SIGNAL_KEYS, find_signal
from poas.domain.money import CurrencyError, check_currency, exponent
from poas.domain.order import (
    Attribution,
    Consent,
    Customer,
    Order,
    OrderLine,
    Refund,
    RefundLine,
    RestockType,
    ShippingLine,
)
from poas.sources.payload import ZERO, Obj, PayloadError, TimeBounds
from poas.sources.prune import Rules, prune
from poas.sources.shopify import GOOGLE_CLICK_NAMES, attribution

ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
TOPICS = ORDER_TOPICS

# Unit cost meta keys of the common cost-of-goods plugins (SkyVerge, WPFactory, YITH).
UNIT_COST_KEYS = ("_wc_cog_item_cost", "_alg_wc_cog_item_cost", "_yith_cog_item_cost")
ATTRIBUTION_PREFIX = "_wc_order_attribution_"
PAID_STATUSES = frozenset({"processing", "completed"})
REFUND_META_KEYS = ("_refunded_item_id", "_restock_refunded_items", "_cogs_total_value")
CLICK_KEYS = ("_fbc", "_fbp", "fbc", "fbp", "fbclid", *GOOGLE_CLICK_NAMES)
# What a stored body never keeps (`scrub`): contact data, the browser, the customer's note, refund
# reasons, the order's key and payment link; addresses keep their country and state (the consent
# region). Meta data is kept only for keys with a known use (`known_meta`).
PRIVATE = Rules(
    drop=frozenset(
        {
            *("customer_ip_address", "customer_user_agent", "customer_note", "customer_id", "reason"),
            *("order_key", "payment_url", "_links", "email", "phone", "first_name", "last_name"),
            *("company", "address_1", "address_2", "city", "postcode"),
        }
    ),
    reduce={"billing": ("country", "state"), "shipping": ("country", "state")},
    named=frozenset({"meta_data"}),
)


def _meta(obj: Obj) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for m in obj.objs("meta_data"):
        key = m.text("key")
        if key:
            meta[key] = m.raw("value")
    return meta


def _meta_dec(meta: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = meta.get(key)
    if value is None or value == "":
        return None
    return Obj.dec_value(value, f"{where}.meta_data[{key}]")


def _unit_cost(obj: Obj, meta: Mapping[str, Any], quantity: int) -> Decimal | None:
    for key in UNIT_COST_KEYS:
        cost = _meta_dec(meta, key, obj.path)
        if cost is not None:
            return cost
    # WooCommerce core COGS: the line's total cost (UNCONFIRMED whether every version exposes it).
    total = obj.dec("cogs_value")
    if total is None:
        cogs = obj.obj("cost_of_goods_sold")
        total = cogs.dec("value") if cogs is not None else None
    if total is None:
        total = _meta_dec(meta, "_cogs_total_value", obj.path)
    if total is not None and quantity > 0:
        return total / quantity
    return None


def _unit_price(subtotal: Decimal, quantity: int) -> Decimal:
    if quantity == 0:
        return subtotal
    unit = subtotal / quantity
    # Keep exact quotients exact; a repeating one is cut far below a cent.
    return unit if unit * quantity == subtotal else unit.quantize(Decimal("1e-10"), ROUND_HALF_EVEN)


def _rate(obj: Obj, rates: Mapping[str, Decimal]) -> Decimal | None:
    """The line's VAT rate when exactly one tax rate applies to it (from the order's tax_lines)."""
    ids = {t.id("id", required=False) for t in obj.objs("taxes") if (t.dec("total") or ZERO) != 0}
    found = {rates[i] for i in ids if i is not None and i in rates}
    return found.pop() if len(ids) == 1 and len(found) == 1 else None


def _line(obj: Obj, rates: Mapping[str, Decimal]) -> OrderLine:
    quantity = obj.req_int("quantity")
    if quantity < 0:
        raise PayloadError(obj.where("quantity"), "must not be negative")
    subtotal = obj.dec("subtotal")
    total = obj.req_dec("total")
    if subtotal is None:
        subtotal = total
    meta = _meta(obj)
    variation = obj.id("variation_id", required=False)
    return OrderLine(
        line_id=obj.req_id("id"),
        quantity=quantity,
        unit_price=_unit_price(subtotal, quantity),
        sku=obj.text("sku", limit=200),
        variant_id=variation if variation not in (None, "0") else None,
        product_id=obj.id("product_id", required=False),
        title=obj.text("name", "") or "",
        discount=subtotal - total,
        tax=obj.dec("total_tax", ZERO) or ZERO,
        tax_rate=_rate(obj, rates),
        unit_cost=_unit_cost(obj, meta, quantity),
    )


def _fee_line(obj: Obj) -> OrderLine:
    """A positive fee (invoice fee, gateway surcharge) is revenue with no goods cost."""
    return OrderLine(
        line_id=f"fee:{obj.req_id('id')}",
        quantity=1,
        unit_price=obj.req_dec("total"),
        title=obj.text("name", "") or "",
        category="fee",
        tax=obj.dec("total_tax", ZERO) or ZERO,
        unit_cost=ZERO,
    )


def _spread_discount(lines: list[OrderLine], discount: Decimal, tax: Decimal) -> list[OrderLine]:
    """Spread a negative fee (a manual discount) over the lines in proportion to their net amount."""
    base = sum((ln.unit_price * ln.quantity - ln.discount for ln in lines), ZERO)
    if base <= 0:
        return lines
    out = []
    for ln in lines:
        share = (ln.unit_price * ln.quantity - ln.discount) / base
        out.append(replace(ln, discount=ln.discount + discount * share, tax=ln.tax - tax * share))
    return out


def _shipping(obj: Obj) -> ShippingLine:
    return ShippingLine(
        price=obj.req_dec("total"),
        method=obj.text("method_id", "") or "",
        title=obj.text("method_title", "") or "",
        tax=obj.dec("total_tax", ZERO) or ZERO,
    )


def _cents(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-exponent(currency)), ROUND_HALF_EVEN)


def _refund(
    obj: Obj, currency: str, tax_ratio: Decimal, restocked: Mapping[str, int], fallback: datetime
) -> Refund:
    """One refunds[] entry: `total` (negative, tax included) and, when present, its line items."""
    money_back = abs(obj.req_dec("total") if obj.has("total") else obj.req_dec("amount"))
    lines = []
    lines_total = ZERO
    for li in obj.objs("line_items"):
        meta = _meta(li)
        ref = meta.get("_refunded_item_id") or li.raw("refunded_item_id")
        if ref is None or ref == "":
            raise PayloadError(li.where("meta_data[_refunded_item_id]"), "is required on a refunded line")
        key = str(ref).strip()
        if isinstance(ref, bool) or not isinstance(ref, str | int) or not key or len(key) > 100:
            raise PayloadError(li.where("meta_data[_refunded_item_id]"), "expected a line item id")
        amount = abs(li.req_dec("total"))
        tax = abs(li.dec("total_tax", ZERO) or ZERO)
        lines_total += amount + tax
        lines.append(
            RefundLine(
                line_id=key,
                quantity=abs(li.req_int("quantity")),
                restock_type=RestockType.RETURN if restocked.get(key) else RestockType.NO_RESTOCK,
                amount=amount,
                tax=tax,
            )
        )
    shipping = shipping_tax = ZERO
    for sl in obj.objs("shipping_lines"):
        shipping += abs(sl.req_dec("total"))
        shipping_tax += abs(sl.dec("total_tax", ZERO) or ZERO)
    rest = money_back - lines_total - shipping - shipping_tax
    # What no line explains is an adjustment, split into net and VAT at the order's overall tax ratio.
    adjustment = _cents(rest / (1 + tax_ratio), currency) if rest else ZERO
    processed = obj.time("date_created_gmt", naive_is_utc=True) or fallback
    return Refund(
        refund_id=obj.req_id("id"),
        processed_at=processed,
        lines=tuple(lines),
        shipping=shipping,
        shipping_tax=shipping_tax,
        adjustment=adjustment,
        adjustment_tax=rest - adjustment,
    )


def _attribution(obj: Obj, meta: Mapping[str, Any]) -> Attribution:
    attrs = {
        k[len(ATTRIBUTION_PREFIX) :]: str(v)
        for k, v in meta.items()
        if k.startswith(ATTRIBUTION_PREFIX) and v not in (None, "")
    }
    for key in CLICK_KEYS:
        if meta.get(key):
            attrs[key] = str(meta[key])
    landing = attrs.get("session_entry")
    return attribution(
        landing,
        attrs.get("referrer"),
        attrs,
        obj.text("customer_ip_address"),
        obj.text("customer_user_agent") or attrs.get("user_agent"),
    )


def _financial_status(status: str, refunded: bool, paid: bool) -> str:
    """Shopify's financial_status words for a WooCommerce status. A cancelled order that was paid
    (`date_paid_gmt` set) keeps "paid" beside its cancellation, so its captured payment's fee stays
    charged; one cancelled before payment is "voided" (nothing was captured)."""
    if status in PAID_STATUSES or (status == "cancelled" and paid):
        return "partially_refunded" if refunded else "paid"
    return {"refunded": "refunded", "failed": "voided", "cancelled": "voided"}.get(status, "pending")


def paid_at(obj: Obj, status: str) -> datetime | None:
    """When the order was paid: `date_paid_gmt`; a `completed` order without it (cash on delivery, bank
    transfer, an order entered by hand) counts as paid when completed, as WooCommerce itself decides
    (`WC_Order::is_paid()` is true for processing and completed; `maybe_set_date_paid()` sets the
    date when an order reaches completed without one): `date_completed_gmt`, else `date_modified_gmt`.
    A `processing` order without `date_paid_gmt` is not paid yet (cash on delivery is paid on delivery)."""
    paid = obj.time("date_paid_gmt", naive_is_utc=True)
    if paid is None and status == "completed":
        paid = obj.time("date_completed_gmt", naive_is_utc=True)
        paid = paid or obj.time("date_modified_gmt", naive_is_utc=True)
    return paid


def parse_order(
    data: Mapping[str, Any],
    shop_id: str,
    *,
    consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS,
    bounds: TimeBounds | None = None,
) -> Order:
    """The canonical Order; `consent_keys` are the order meta_data keys carrying the ads consent signal
    (the shop's `consent_meta_keys`). WooCommerce has no e-mail marketing field of its own. With
    `bounds`, every order and refund time must lie within them."""
    obj = Obj(data, bounds=bounds)
    currency = (obj.text("currency") or "").upper()
    if not currency:
        raise PayloadError("currency", "is required")
    try:
        check_currency(currency)
    except CurrencyError as exc:
        raise PayloadError("currency", str(exc)) from None
    created = obj.time("date_created_gmt", naive_is_utc=True) or obj.time("date_created", required=True)
    assert created is not None
    modified = obj.time("date_modified_gmt", naive_is_utc=True)
    lines: list[OrderLine] = []
    restocked: dict[str, int] = {}
    rates: dict[str, Decimal] = {}
    for t in obj.objs("tax_lines"):
        rate_id, percent = t.id("rate_id", required=False), t.dec("rate_percent")
        if rate_id is not None and percent is not None:
            rates[rate_id] = percent / 100
    for li in obj.objs("line_items"):
        line = _line(li, rates)
        lines.append(line)
        restock_count = _meta(li).get("_restock_refunded_items")
        if restock_count not in (None, "", "0", 0):
            restocked[line.line_id] = 1
    if obj.raw("line_items") is None:
        raise PayloadError("line_items", "is required")
    for fee in obj.objs("fee_lines"):
        amount = fee.req_dec("total")
        if amount >= 0:
            lines.append(_fee_line(fee))
        else:
            lines = _spread_discount(lines, -amount, -(fee.dec("total_tax", ZERO) or ZERO))
    total = obj.dec("total", ZERO) or ZERO
    total_tax = obj.dec("total_tax", ZERO) or ZERO
    tax_ratio = total_tax / (total - total_tax) if total - total_tax > 0 else ZERO
    refunds = tuple(
        _refund(r, currency, tax_ratio, restocked, modified or created) for r in obj.objs("refunds")
    )
    status = obj.text("status", "pending") or "pending"
    meta = _meta(obj)
    billing = obj.obj("billing")
    shipping_addr = obj.obj("shipping")
    address = shipping_addr if shipping_addr is not None and shipping_addr.text("country") else billing
    customer_id = obj.id("customer_id", required=False)
    paid = paid_at(obj, status)
    return Order(
        shop_id=shop_id,
        order_id=obj.req_id("id"),
        name=obj.text("number", "") or "",
        created_at=created,
        processed_at=paid,
        updated_at=modified,
        currency=currency,
        prices_include_vat=False,
        lines=tuple(lines),
        shipping_lines=tuple(_shipping(s) for s in obj.objs("shipping_lines")),
        gateway=obj.text("payment_method"),
        financial_status=_financial_status(status, bool(refunds), paid is not None),
        shipping_country=address.text("country") if address else None,
        customer=Customer(
            email=billing.text("email") if billing else None,
            phone=billing.text("phone") if billing else None,
            first_name=billing.text("first_name") if billing else None,
            last_name=billing.text("last_name") if billing else None,
            city=address.text("city") if address else None,
            state=address.text("state") if address else None,
            zip=address.text("postcode") if address else None,
            country=address.text("country") if address else None,
            external_id=customer_id if customer_id not in (None, "0") else None,
        ),
        attribution=_attribution(obj, meta),
        consent=Consent(ads_tracking=find_signal(meta, consent_keys)),
        cancelled_at=(modified or created) if status == "cancelled" else None,
        refunds=refunds,
        source="woocommerce",
    )


def order_key(data: Mapping[str, Any]) -> str:
    return Obj(data).req_id("id")


def is_ping(body: bytes) -> bool:
    """WooCommerce's unsigned, form-encoded check sent when a webhook is saved (`webhook_id=N`)."""
    text = body.decode("ascii", "replace").strip()
    return text.startswith("webhook_id=") and text[len("webhook_id=") :].isdigit()


def purchase_trigger(topic: str, order: Order, purchase_topic: str) -> bool:
    if purchase_topic == "create" and topic == "order.created":
        return True
    return order.financial_status in ("paid", "partially_refunded") and order.processed_at is not None


def known_meta(key: str, consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS) -> bool:
    """A meta data key poas reads: attribution, click ids, unit costs, refund links, consent signals."""
    low = key.lower()
    return (
        low.startswith(ATTRIBUTION_PREFIX)
        or low in CLICK_KEYS
        or low in UNIT_COST_KEYS
        or low in REFUND_META_KEYS
        or any(low == k.lower() for k in consent_keys)
    )


def scrub(payload: Mapping[str, Any], consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS) -> dict[str, Any]:
    """The order payload without contact data or free text (`PRIVATE`), meta data only under known
    keys (`known_meta`, with the shop's `consent_keys`): what the inbox stores and the order state keeps."""
    clean: dict[str, Any] = prune(payload, PRIVATE, lambda key: known_meta(key, consent_keys))
    return clean
