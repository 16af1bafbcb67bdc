"""The JSON API's order and refund bodies: the canonical order shape of docs/formats.md, one per body.

`POST /api/v1/orders` takes one order exactly as a line of a canonical JSONL file (same fields, same
rules, mapped by `canonical_order`), plus `shop_id` to pick the shop. `POST /api/v1/refunds` takes one
refund as in an order's `refunds`, plus the `order_id` it belongs to; its `refund_id` is required.
Errors are `PayloadError`s naming the JSON path ("lines[0].unit_price"); a body that is not an object
is field "body".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from poas.domain.order import Order, Refund
from poas.sources.canonical_fields import req_text
from poas.sources.canonical_order import ImportDefaults, read_order, read_refund
from poas.sources.payload import PayloadError

CONTACT_KEYS = ("customer",)
_EXACT_DEPTH = 6  # order > refunds > refund > lines > line: no field of the shape nests deeper


def _exact(v: Any, depth: int = 0) -> Any:
    """The body with its JSON numbers as Decimals instead of floats (the intake decoded it with floats).

    A float's repr is the shortest literal that reads back as it, i.e. the number the client sent
    for any amount within range. NaN and infinities stay floats, for the field readers to refuse.
    """
    if isinstance(v, float):
        return Decimal(repr(v)) if v - v == 0 else v
    if depth >= _EXACT_DEPTH:
        return v
    if isinstance(v, dict):
        return {k: _exact(x, depth + 1) for k, x in v.items()}
    if isinstance(v, list):
        return [_exact(x, depth + 1) for x in v]
    return v


def _body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise PayloadError("body", "expected a JSON object")
    exact: dict[str, Any] = _exact(data)
    return exact


def parse_order(data: Any, shop_id: str, *, default_prices_include_vat: bool = True) -> Order:
    """The order in a POST /api/v1/orders body; `source` defaults to "api"."""
    defaults = ImportDefaults(shop_id, default_prices_include_vat, source="api")
    return read_order(_body(data), defaults, root="")


def parse_refund(data: Any) -> Refund:
    """The refund in a POST /api/v1/refunds body (see `canonical_order.read_refund`)."""
    return read_refund(_body(data))[1]


def refund_order_id(data: Any) -> str:
    if not isinstance(data, dict):
        raise PayloadError("body", "expected a JSON object")
    return req_text(data.get("order_id"), "order_id")


def scrub(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The order without contact data or the browser's IP and user agent (kept for later rebuilds)."""
    clean = {k: v for k, v in payload.items() if k not in CONTACT_KEYS}
    attribution = payload.get("attribution")
    if isinstance(attribution, Mapping):
        clean["attribution"] = {k: v for k, v in attribution.items() if k not in ("client_ip", "user_agent")}
    return clean
