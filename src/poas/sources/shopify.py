"""Shopify webhooks (REST order and refund shapes) mapped to canonical Orders and Refunds.

Amounts are read from the `*_set.shop_money` fields (the shop currency), falling back to the plain
string fields of older API versions. With `taxes_included` (every Norwegian shop) prices, discounts
and refund subtotals include VAT and the tax lines give the VAT inside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from poas.domain.consent import DEFAULT_SIGNAL_KEYS, find_signal
from poas.domain.google_identity import CLICK_PARAMS, clean_click_id
from poas.domain.money import CurrencyError, check_currency
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
from poas.sources.payload import ZERO, Obj, PayloadError, TimeBounds, sum_dec
from poas.sources.prune import Rules, prune

ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
REFUND_TOPIC = "refunds/create"
EDIT_TOPIC = "orders/edited"  # an `order_edit` summary; the orders/updated that follows carries the order
TOPICS = ORDER_TOPICS | {REFUND_TOPIC, EDIT_TOPIC}

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
# Attribute names with a known use besides the shop's consent keys: the UTMs and click ids read by
# `attribution` (note attributes and line properties under any other name are customer free text).
GOOGLE_CLICK_NAMES = (*CLICK_PARAMS, *(f"_{p}" for p in CLICK_PARAMS))  # gclid, _gclid, gbraid, …
ATTRIBUTION_NAMES = frozenset((*UTM_KEYS, "fbclid", "_fbc", "fbc", "_fbp", "fbp", *GOOGLE_CLICK_NAMES))
# What a stored body never keeps (`scrub`): contact data, the browser, free text, the order's access
# key (`token` is the key in `order_status_url`), tracking, payment details; addresses keep their
# country and state (the consent region) and the customer its e-mail marketing consent (reports).
PRIVATE = Rules(
    drop=frozenset(
        {
            *("email", "contact_email", "phone", "first_name", "last_name", "name_on_card"),
            *("address1", "address2", "zip", "city", "latitude", "longitude", "company"),
            *("client_details", "browser_ip", "note", "order_status_url", "token", "cart_token"),
            *("checkout_token", "user_id", "device_id", "payment_details", "receipt"),
            *("tracking_number", "tracking_numbers", "tracking_url", "tracking_urls"),
            *("destination_location", "origin_location", "default_address", "addresses", "destination"),
        }
    ),
    reduce={
        "billing_address": ("country_code", "province_code", "province"),
        "shipping_address": ("country_code", "province_code", "province"),
        "customer": ("email_marketing_consent", "accepts_marketing"),
        "email_marketing_consent": ("state",),
    },
    named=frozenset({"note_attributes", "customAttributes", "properties"}),
)


def money(obj: Obj, key: str, default: Decimal | None = ZERO) -> Decimal | None:
    """`key_set.shop_money.amount` when present, else the plain `key` field."""
    money_set = obj.data.get(f"{key}_set")
    if type(money_set) is dict:  # the common shape, read without wrapping each level (same checks)
        shop_money = money_set.get("shop_money")
        if type(shop_money) is dict:
            amount = shop_money.get("amount")
            if type(amount) is str and amount:
                return Obj.dec_value(amount, f"{obj.where(key)}_set.shop_money.amount")
    money_set = obj.obj(f"{key}_set")
    if money_set is not None:
        shop_money = money_set.obj("shop_money")
        if shop_money is not None and shop_money.has("amount"):
            return shop_money.req_dec("amount")
    return obj.dec(key, default)


def _req_money(obj: Obj, key: str) -> Decimal:
    value = money(obj, key, None)
    if value is None:
        raise PayloadError(obj.where(key), "is required")
    return value


def _allocations(obj: Obj) -> Decimal:
    return sum_dec(money(a, "amount") for a in obj.objs("discount_allocations"))


def _tax(obj: Obj) -> tuple[Decimal, Decimal | None]:
    """Sum of the tax lines and their common rate (None when mixed or missing)."""
    total = ZERO
    rates: set[Decimal] = set()
    for t in obj.objs("tax_lines"):
        total += money(t, "price") or ZERO
        rate = t.dec("rate")
        if rate is not None:
            rates.add(rate)
    return total, (rates.pop() if len(rates) == 1 else None)


def _line(obj: Obj) -> OrderLine:
    quantity = obj.req_int("quantity")
    if quantity < 0:
        raise PayloadError(obj.where("quantity"), "must not be negative")
    tax, rate = _tax(obj)
    title = obj.text("title", "") or ""
    variant_title = obj.text("variant_title")
    return OrderLine(
        line_id=obj.req_id("id"),
        quantity=quantity,
        unit_price=_req_money(obj, "price"),
        sku=obj.text("sku", limit=200),
        variant_id=obj.id("variant_id", required=False),
        product_id=obj.id("product_id", required=False),
        title=f"{title} - {variant_title}" if variant_title else title,
        category=obj.text("product_type", limit=200),
        discount=_allocations(obj),
        tax=tax,
        tax_rate=rate,
        gift_card=bool(obj.flag("gift_card", False)),
        grams=obj.integer("grams", 0) or 0,
    )


def _shipping(obj: Obj) -> ShippingLine | None:
    if obj.flag("is_removed", False):
        return None
    price = _req_money(obj, "price")
    discount = _allocations(obj)
    if not discount:
        discounted = money(obj, "discounted_price", None)
        if discounted is not None and discounted < price:
            discount = price - discounted
    tax, rate = _tax(obj)
    return ShippingLine(
        price=price,
        method=obj.text("code", "") or "",
        title=obj.text("title", "") or "",
        discount=discount,
        tax=tax,
        tax_rate=rate,
    )


def _restock(obj: Obj) -> RestockType:
    value = obj.text("restock_type")
    if value is None:
        return RestockType.RETURN if obj.flag("restock", False) else RestockType.NO_RESTOCK
    try:
        return RestockType(value)
    except ValueError:
        raise PayloadError(obj.where("restock_type"), "expected return, cancel, no_restock or legacy_restock")


def parse_refund(
    data: Mapping[str, Any] | Obj, path: str = "", *, bounds: TimeBounds | None = None
) -> Refund:
    """A Shopify Refund resource (the refunds/create body, or one entry of an order's refunds[]); with
    `bounds` (or an `Obj` that has them) its time must lie within them."""
    obj = data if isinstance(data, Obj) else Obj(data, path, bounds=bounds)
    lines = []
    for rl in obj.objs("refund_line_items"):
        quantity = rl.req_int("quantity")
        if quantity < 0:
            raise PayloadError(rl.where("quantity"), "must not be negative")
        lines.append(
            RefundLine(
                line_id=rl.req_id("line_item_id"),
                quantity=quantity,
                restock_type=_restock(rl),
                amount=money(rl, "subtotal", None),
                tax=money(rl, "total_tax", None),
            )
        )
    shipping = shipping_tax = adjustment = adjustment_tax = ZERO
    for adj in obj.objs("order_adjustments"):
        # Adjustments are negative when money goes back to the customer.
        amount = -(money(adj, "amount") or ZERO)
        tax = -(money(adj, "tax_amount") or ZERO)
        if adj.text("kind") == "shipping_refund":
            shipping += amount
            shipping_tax += tax
        else:
            adjustment += amount
            adjustment_tax += tax
    processed = obj.time("processed_at") or obj.time("created_at", required=True)
    assert processed is not None
    return Refund(
        refund_id=obj.req_id("id"),
        processed_at=processed,
        lines=tuple(lines),
        shipping=shipping,
        shipping_tax=shipping_tax,
        adjustment=adjustment,
        adjustment_tax=adjustment_tax,
        note="",  # free text written by staff may hold personal data
    )


def refund_order_id(data: Mapping[str, Any]) -> str:
    return Obj(data).req_id("order_id")


def _note_attributes(obj: Obj) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for key in ("note_attributes", "customAttributes"):
        for item in obj.objs(key):
            name = item.text("name") or item.text("key")
            value = item.text("value")
            if name and value:
                attrs[name.lower()] = value
    return attrs


def _query(url: str | None) -> dict[str, str]:
    if not url:
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {k.lower(): v[0] for k, v in parse_qs(query).items() if v and v[0]}


def attribution(
    landing: str | None,
    referrer: str | None,
    attrs: Mapping[str, str],
    client_ip: str | None,
    user_agent: str | None,
) -> Attribution:
    """UTMs and click ids: cart/note attributes first (closest to the purchase), then the landing URL."""
    query = _query(landing)

    def pick(*names: str) -> str | None:
        for source in (attrs, query):
            for name in names:
                if source.get(name):
                    return source[name][:500]
        return None

    return Attribution(
        landing_url=landing,
        referrer=referrer,
        utm_source=pick("utm_source"),
        utm_medium=pick("utm_medium"),
        utm_campaign=pick("utm_campaign"),
        utm_content=pick("utm_content"),
        utm_term=pick("utm_term"),
        fbclid=pick("fbclid"),
        fbc=pick("_fbc", "fbc"),
        fbp=pick("_fbp", "fbp"),
        gclid=_click_id(attrs, query, "gclid", "_gclid"),
        gbraid=_click_id(attrs, query, "gbraid", "_gbraid"),
        wbraid=_click_id(attrs, query, "wbraid", "_wbraid"),
        client_ip=client_ip,
        user_agent=user_agent,
    )


def _click_id(attrs: Mapping[str, str], query: Mapping[str, str], *names: str) -> str | None:
    """A Google click id from the attributes, else the landing URL; one that does not look like a
    click id (`clean_click_id`) is passed over."""
    for source in (attrs, query):
        for name in names:
            if (value := clean_click_id(source.get(name))) is not None:
                return value
    return None


def _marketing(customer: Obj | None, order: Obj) -> bool | None:
    """E-mail marketing consent (the newsletter box), for reports only: it never decides sending."""
    if customer is not None:
        consent = customer.obj("email_marketing_consent")
        if consent is not None and consent.text("state"):
            return consent.text("state") == "subscribed"
        accepts = customer.flag("accepts_marketing")
        if accepts is not None:
            return accepts
    return order.flag("buyer_accepts_marketing")


def _consent(customer: Obj | None, order: Obj, attrs: Mapping[str, str], keys: Sequence[str]) -> Consent:
    """Ads consent from the note/cart attribute a consent banner or checkout script wrote (Shopify's
    order webhook carries no visitor tracking consent of its own); e-mail marketing kept apart."""
    return Consent(marketing=_marketing(customer, order), ads_tracking=find_signal(attrs, keys))


def _customer(obj: Obj, customer: Obj | None) -> Customer:
    address = obj.obj("shipping_address") or obj.obj("billing_address")
    billing = obj.obj("billing_address")

    def first(*values: str | None) -> str | None:
        return next((v for v in values if v), None)

    c = customer
    return Customer(
        email=first(obj.text("email"), obj.text("contact_email"), c.text("email") if c else None),
        phone=first(
            obj.text("phone"),
            c.text("phone") if c else None,
            billing.text("phone") if billing else None,
            address.text("phone") if address else None,
        ),
        first_name=first(
            c.text("first_name") if c else None, address.text("first_name") if address else None
        ),
        last_name=first(c.text("last_name") if c else None, address.text("last_name") if address else None),
        city=address.text("city") if address else None,
        state=first(address.text("province_code"), address.text("province")) if address else None,
        zip=address.text("zip") if address else None,
        country=address.text("country_code") if address else None,
        external_id=c.id("id", required=False) if c else None,
    )


def parse_order(
    data: Mapping[str, Any],
    shop_id: str,
    *,
    extra_refunds: Iterable[Mapping[str, Any]] = (),
    consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS,
    bounds: TimeBounds | None = None,
) -> Order:
    """The canonical Order for a Shopify order payload; `extra_refunds` are refunds/create bodies seen
    separately (merged by refund id; the order's own refunds[] win); `consent_keys` are the note/cart
    attributes that carry the ads consent signal (the shop's `consent_attribute_keys`). With `bounds`,
    every order and refund time in the payload must lie within them (`extra_refunds` were accepted
    before and are not checked again)."""
    obj = Obj(data, bounds=bounds)
    lines = tuple(_line(li) for li in obj.objs("line_items"))
    if not lines and obj.raw("line_items") is None:
        raise PayloadError("line_items", "is required")
    shipping = tuple(s for s in (_shipping(sl) for sl in obj.objs("shipping_lines")) if s is not None)
    refunds: dict[str, Refund] = {}
    for i, extra in enumerate(extra_refunds):
        r = parse_refund(extra, f"refunds(stored)[{i}]")
        refunds[r.refund_id] = r
    for r_obj in obj.objs("refunds"):
        r = parse_refund(r_obj)
        refunds[r.refund_id] = r
    customer = obj.obj("customer")
    client = obj.obj("client_details")
    names = obj.raw("payment_gateway_names") or []
    if not isinstance(names, list):
        raise PayloadError("payment_gateway_names", "expected a list")
    gateways = [g for g in names if isinstance(g, str) and g]
    address = obj.obj("shipping_address") or obj.obj("billing_address")
    currency = obj.text("currency")
    if not currency:
        raise PayloadError("currency", "is required")
    try:
        currency = check_currency(currency)
    except CurrencyError as exc:
        raise PayloadError("currency", str(exc)) from None
    attrs = _note_attributes(obj)
    return Order(
        shop_id=shop_id,
        order_id=obj.req_id("id"),
        name=obj.text("name", "") or "",
        created_at=obj.time("created_at", required=True),  # type: ignore[arg-type]
        processed_at=obj.time("processed_at"),
        updated_at=obj.time("updated_at"),
        currency=currency,
        prices_include_vat=bool(obj.flag("taxes_included", False)),
        lines=lines,
        shipping_lines=shipping,
        gateway=gateways[0] if gateways else obj.text("gateway"),
        financial_status=obj.text("financial_status", "pending") or "pending",
        shipping_country=address.text("country_code") if address else None,
        customer=_customer(obj, customer),
        attribution=attribution(
            obj.text("landing_site"),
            obj.text("referring_site"),
            attrs,
            (client.text("browser_ip") if client else None) or obj.text("browser_ip"),
            client.text("user_agent") if client else None,
        ),
        consent=_consent(customer, obj, attrs, consent_keys),
        test=bool(obj.flag("test", False)),
        cancelled_at=obj.time("cancelled_at"),
        refunds=tuple(sorted(refunds.values(), key=lambda r: (r.processed_at, r.refund_id))),
        source="shopify",
    )


def order_key(data: Mapping[str, Any]) -> str:
    return Obj(data).req_id("id")


def purchase_trigger(topic: str, financial_status: str, purchase_topic: str) -> bool:
    """Whether this delivery asks for the Purchase event (the outbox keeps one per order anyway)."""
    if topic == "orders/paid":
        return purchase_topic == "paid"
    if topic == "orders/create":
        return purchase_topic == "create" or financial_status == "paid"
    return False


def scrub(payload: Mapping[str, Any], consent_keys: Sequence[str] = DEFAULT_SIGNAL_KEYS) -> dict[str, Any]:
    """The order (or refund) payload without contact data, free text, access keys or tracking
    (`PRIVATE`): what the inbox stores and what is kept to rebuild the order when a refund arrives.
    Note attributes and line properties are kept only under `consent_keys` and `ATTRIBUTION_NAMES`."""
    known = ATTRIBUTION_NAMES | {k.lower() for k in consent_keys}
    clean: dict[str, Any] = prune(payload, PRIVATE, lambda name: name.lower() in known)
    return clean
