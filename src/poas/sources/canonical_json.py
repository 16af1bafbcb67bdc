"""The JSON API's order and refund bodies: the canonical Order's own field names, amounts as decimal strings.

An order is `{"order_id", "created_at", "currency", "lines": [{"line_id", "quantity", "unit_price", …}],
…}` with every other field of `poas.domain.order.Order` optional; a refund for `POST /api/v1/refunds`
is `{"order_id", "refund_id", "processed_at", "lines": [{"line_id", "quantity", "restock_type",
"amount", "tax"}], "shipping", "adjustment", …}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from poas.sources.payload import ZERO, Obj, PayloadError

CONTACT_KEYS = ("customer",)


def _line(o: Obj) -> OrderLine:
    quantity = o.req_int("quantity")
    if quantity < 0:
        raise PayloadError(o.where("quantity"), "must not be negative")
    return OrderLine(
        line_id=o.req_id("line_id"),
        quantity=quantity,
        unit_price=o.req_dec("unit_price"),
        sku=o.text("sku", limit=200),
        variant_id=o.id("variant_id", required=False),
        product_id=o.id("product_id", required=False),
        title=o.text("title", "") or "",
        category=o.text("category", limit=200),
        discount=o.dec("discount", ZERO) or ZERO,
        tax=o.dec("tax", ZERO) or ZERO,
        tax_rate=o.dec("tax_rate"),
        gift_card=bool(o.flag("gift_card", False)),
        grams=o.integer("grams", 0) or 0,
        unit_cost=o.dec("unit_cost"),
    )


def _shipping(o: Obj) -> ShippingLine:
    return ShippingLine(
        price=o.req_dec("price"),
        method=o.text("method", "") or "",
        title=o.text("title", "") or "",
        discount=o.dec("discount", ZERO) or ZERO,
        tax=o.dec("tax", ZERO) or ZERO,
        tax_rate=o.dec("tax_rate"),
    )


def _restock(o: Obj) -> RestockType:
    value = o.text("restock_type", "no_restock") or "no_restock"
    try:
        return RestockType(value)
    except ValueError:
        raise PayloadError(o.where("restock_type"), "expected return, cancel, no_restock or legacy_restock")


def parse_refund(data: Mapping[str, Any] | Obj, path: str = "") -> Refund:
    o = data if isinstance(data, Obj) else Obj(data, path)
    lines = []
    for rl in o.objs("lines"):
        quantity = rl.req_int("quantity")
        if quantity < 0:
            raise PayloadError(rl.where("quantity"), "must not be negative")
        lines.append(
            RefundLine(
                line_id=rl.req_id("line_id"),
                quantity=quantity,
                restock_type=_restock(rl),
                amount=rl.dec("amount"),
                tax=rl.dec("tax"),
            )
        )
    processed = o.time("processed_at", required=True)
    assert processed is not None
    return Refund(
        refund_id=o.req_id("refund_id"),
        processed_at=processed,
        lines=tuple(lines),
        shipping=o.dec("shipping", ZERO) or ZERO,
        shipping_tax=o.dec("shipping_tax", ZERO) or ZERO,
        adjustment=o.dec("adjustment", ZERO) or ZERO,
        adjustment_tax=o.dec("adjustment_tax", ZERO) or ZERO,
    )


def _text_fields(o: Obj | None, cls: type[Any], names: tuple[str, ...]) -> Any:
    if o is None:
        return cls()
    return cls(**{n: o.text(n, limit=1000) for n in names})


def parse_order(data: Mapping[str, Any], shop_id: str, *, default_prices_include_vat: bool = True) -> Order:
    o = Obj(data)
    currency = o.text("currency")
    if not currency:
        raise PayloadError("currency", "is required")
    if o.raw("lines") is None:
        raise PayloadError("lines", "is required")
    created = o.time("created_at", required=True)
    assert created is not None
    consent = o.obj("consent")
    refunds = tuple(parse_refund(r) for r in o.objs("refunds"))
    return Order(
        shop_id=shop_id,
        order_id=o.req_id("order_id"),
        name=o.text("name", "") or "",
        created_at=created,
        processed_at=o.time("processed_at"),
        updated_at=o.time("updated_at"),
        currency=currency.upper(),
        prices_include_vat=bool(o.flag("prices_include_vat", default_prices_include_vat)),
        lines=tuple(_line(li) for li in o.objs("lines")),
        shipping_lines=tuple(_shipping(s) for s in o.objs("shipping_lines")),
        gateway=o.text("gateway", limit=100),
        financial_status=o.text("financial_status", "paid") or "paid",
        shipping_country=o.text("shipping_country", limit=2),
        customer=_text_fields(o.obj("customer"), Customer, tuple(Customer.__dataclass_fields__)),
        attribution=_text_fields(o.obj("attribution"), Attribution, tuple(Attribution.__dataclass_fields__)),
        consent=Consent(
            marketing=consent.flag("marketing") if consent else None,
            ads_tracking=consent.flag("ads_tracking") if consent else None,
        ),
        test=bool(o.flag("test", False)),
        cancelled_at=o.time("cancelled_at"),
        refunds=refunds,
        actual_payment_fee=o.dec("actual_payment_fee"),
        source="api",
    )


def refund_order_id(data: Mapping[str, Any]) -> str:
    return Obj(data).req_id("order_id")


def scrub(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The order without contact data or the browser's IP and user agent (kept for later rebuilds)."""
    clean = {k: v for k, v in payload.items() if k not in CONTACT_KEYS}
    attribution = payload.get("attribution")
    if isinstance(attribution, Mapping):
        clean["attribution"] = {k: v for k, v in attribution.items() if k not in ("client_ip", "user_agent")}
    return clean
