"""The plain case of a bulk Order row and its child rows read straight into an Order.

`shopify_bulk.parse_group` rewrites a group into the REST order shape and maps it with the rules of
`poas.sources.shopify` (the webhooks' rules). A 100,000-order backfill spent a third of its worker time
there, most of it on the intermediate shape and the per-field path bookkeeping that only an error
needs. `fast_order` reads the rows the sandbox and Shopify write in their plain shape (every value of
the type it should have, no refunds, line items and shipping lines as child rows) with the same
rules and returns None for anything else, which `parse_group` then reads the long way, naming the
field that is wrong. It gives the Order the long way gives, to the Decimal exponent
(tests/unit/test_shopify_bulk_fast.py holds the two equal on every fixture and on mutated rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from poas.domain.consent import find_signal
from poas.domain.money import CurrencyError, check_currency
from poas.domain.order import Consent, Customer, Order, OrderLine, ShippingLine
from poas.sources.payload import ZERO, Obj, PayloadError, TimeBounds, parse_timestamp
from poas.sources.shopify import attribution


class _Off(Exception):
    """The rows are not in the plain shape: read them the long way."""


def _text(value: object, default: str | None = None, limit: int = 2000) -> str | None:
    if value is None:
        return default
    if type(value) is not str:
        raise _Off
    text = value.strip()
    return text[:limit] if text else default


def _id(gid: object) -> str | None:
    """The id at the end of a gid (None for no gid)."""
    if gid is None:
        return None
    if type(gid) is not str:
        raise _Off
    tail = gid.rsplit("/", 1)[-1]
    if not tail:
        return None
    text = tail.strip()
    if not text or len(text) > 100:
        raise _Off
    return text


def _dec(value: object) -> Decimal:
    try:
        return Obj.dec_value(value, "")
    except PayloadError:
        raise _Off from None


def _amount(money_set: object) -> Decimal:
    """`{shopMoney: {amount}}` with a non-empty amount string."""
    if type(money_set) is not dict:
        raise _Off
    shop = money_set.get("shopMoney")
    if type(shop) is not dict:
        raise _Off
    amount = shop.get("amount")
    if type(amount) is not str or not amount:
        raise _Off
    return _dec(amount)


def _list(value: object) -> list[Any]:
    if value is None:
        return []
    if type(value) is not list:
        raise _Off
    return value


def _allocations(value: object) -> Decimal:
    total = ZERO
    for a in _list(value):
        if type(a) is not dict:
            raise _Off
        total += _amount(a.get("allocatedAmountSet"))
    return total


def _tax(value: object) -> tuple[Decimal, Decimal | None]:
    total = ZERO
    rates: set[Decimal] = set()
    for t in _list(value):
        if type(t) is not dict:
            raise _Off
        total += _amount(t.get("priceSet")) or ZERO  # as the long way adds a zero tax line
        rate = t.get("rate")
        if rate is not None and rate != "":
            rates.add(_dec(rate))
    return total, (rates.pop() if len(rates) == 1 else None)


def _flag(value: object, default: bool) -> bool:
    if value is None:
        return default
    if type(value) is not bool:
        raise _Off
    return value


def _line(row: Mapping[str, Any]) -> OrderLine:
    quantity = row.get("quantity")
    if type(quantity) is not int or not 0 <= quantity <= 10**9:
        raise _Off
    line_id = _id(row.get("id"))
    if line_id is None:
        raise _Off
    tax, rate = _tax(row.get("taxLines"))
    title = _text(row.get("title") or row.get("name"), "") or ""
    variant_title = _text(row.get("variantTitle"))
    variant, product = row.get("variant"), row.get("product")
    if (variant is not None and type(variant) is not dict) or (
        product is not None and type(product) is not dict
    ):
        raise _Off
    return OrderLine(
        line_id=line_id,
        quantity=quantity,
        unit_price=_amount(row.get("originalUnitPriceSet")),
        sku=_text(row.get("sku"), limit=200),
        variant_id=_id(variant.get("id")) if variant else None,
        product_id=_id(product.get("id")) if product else None,
        title=f"{title} - {variant_title}" if variant_title else title,
        category=None,
        discount=_allocations(row.get("discountAllocations")),
        tax=tax,
        tax_rate=rate,
        gift_card=_flag(row.get("isGiftCard"), False),
        grams=0,
    )


def _shipping(row: Mapping[str, Any]) -> ShippingLine:
    price = _amount(row.get("originalPriceSet"))
    discount = _allocations(row.get("discountAllocations"))
    if not discount:
        discounted_set = row.get("discountedPriceSet")
        if discounted_set is not None:
            discounted = _amount(discounted_set)
            if discounted < price:
                discount = price - discounted
    tax, rate = _tax(row.get("taxLines"))
    return ShippingLine(
        price=price,
        method=_text(row.get("code"), "") or "",
        title=_text(row.get("title"), "") or "",
        discount=discount,
        tax=tax,
        tax_rate=rate,
    )


def _time(value: object, bounds: TimeBounds | None) -> Any:
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value, "", bounds=bounds)
    except PayloadError:
        raise _Off from None


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def _attributes(value: object) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for a in _list(value):
        if type(a) is not dict:
            continue  # the long way skips them too
        name, text = _text(a.get("key")), _text(a.get("value"))
        if name and text:
            attrs[name.lower()] = text
    return attrs


def _marketing(customer: Mapping[str, Any] | None) -> bool | None:
    if customer is None:
        return None
    consent = customer.get("emailMarketingConsent")
    if consent is None:
        return None
    if type(consent) is not dict:
        raise _Off
    state = consent.get("marketingState", "")
    if state is not None and type(state) is not str:
        raise _Off
    text = str(state).lower().strip()[:2000]
    return text == "subscribed" if text else None


def fast_order(
    row: Mapping[str, Any],
    children: Sequence[Mapping[str, Any]],
    shop_id: str,
    *,
    consent_keys: Sequence[str],
    bounds: TimeBounds | None,
) -> Order | None:
    """The Order of a plain bulk group (what `parse_group` gives), or None to read it the long way."""
    try:
        return _order(row, children, shop_id, consent_keys, bounds)
    except _Off:
        return None


def _order(
    row: Mapping[str, Any],
    children: Sequence[Mapping[str, Any]],
    shop_id: str,
    consent_keys: Sequence[str],
    bounds: TimeBounds | None,
) -> Order:
    if row.get("lineItems") is not None or row.get("shippingLine") is not None or row.get("refunds"):
        raise _Off
    lines: list[OrderLine] = []
    shipping: list[ShippingLine] = []
    for child in children:
        gid = child.get("id")
        if type(gid) is not str:
            raise _Off
        kind = gid.split("/")[-2] if gid.count("/") >= 1 else ""
        if kind == "LineItem":
            lines.append(_line(child))
        elif kind == "ShippingLine":
            shipping.append(_shipping(child))
    order_id = _id(row.get("id"))
    currency = _text(row.get("currencyCode"))
    created = _time(row.get("createdAt"), bounds)
    if order_id is None or not currency or created is None:
        raise _Off
    try:
        currency = check_currency(currency)
    except CurrencyError:
        raise _Off from None
    customer, address = row.get("customer"), row.get("shippingAddress")
    if (customer is not None and type(customer) is not dict) or (
        address is not None and type(address) is not dict
    ):
        raise _Off
    gateways = _list(row.get("paymentGatewayNames"))
    status = row.get("displayFinancialStatus")
    if status and type(status) is not str:
        raise _Off
    client_ip = row.get("clientIp")
    attrs = _attributes(row.get("customAttributes"))
    country = _text(address.get("countryCodeV2") or address.get("countryCode")) if address else None
    names = [g for g in gateways if isinstance(g, str) and g]
    return Order(
        shop_id=shop_id,
        order_id=order_id,
        name=_text(row.get("name"), "") or "",
        created_at=created,
        processed_at=_time(row.get("processedAt"), bounds),
        updated_at=_time(row.get("updatedAt"), bounds),
        currency=currency,
        prices_include_vat=_flag(row.get("taxesIncluded"), False),
        lines=tuple(lines),
        shipping_lines=tuple(shipping),
        gateway=names[0] if names else None,
        financial_status=(status.lower().strip()[:2000] or "pending") if status else "pending",
        shipping_country=country,
        customer=Customer(
            email=_first(_text(row.get("email")), _text(customer.get("email")) if customer else None),
            phone=_text(row.get("phone")),
            first_name=_text(customer.get("firstName")) if customer else None,
            last_name=_text(customer.get("lastName")) if customer else None,
            city=_text(address.get("city")) if address else None,
            state=_text(address.get("provinceCode")) if address else None,
            zip=_text(address.get("zip")) if address else None,
            country=country,
            external_id=_id(customer.get("id")) if customer else None,
        ),
        attribution=attribution(
            _text(row.get("landingPageUrl")),
            _text(row.get("referrerUrl")),
            attrs,
            _text(client_ip) if client_ip else None,
            None,
        ),
        consent=Consent(marketing=_marketing(customer), ads_tracking=find_signal(attrs, consent_keys)),
        test=_flag(row.get("test"), False),
        cancelled_at=_time(row.get("cancelledAt"), bounds),
        refunds=(),
        source="shopify",
    )
