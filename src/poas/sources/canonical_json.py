"""The JSON API's order and refund bodies: the canonical order shape of docs/formats.md, one per body.

`POST /api/v1/orders` takes one order exactly as a line of a canonical JSONL file (same fields, same
rules, mapped by `canonical_order`), plus `shop_id` to pick the shop. `POST /api/v1/refunds` takes one
refund as in an order's `refunds`, plus the `order_id` it belongs to; its `refund_id` is required.
Errors are `PayloadError`s naming the JSON path ("lines[0].unit_price"); a body that is not an object
is field "body".

A body is read strictly when it arrives. One accepted and stored before (an order's body kept for
rebuilds, a refund kept for its order, a delivery waiting in the inbox) is read again with `lenient`:
it was accepted, possibly by 0.1.0's more lenient reader, and must stay readable (docs/formats.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from poas.domain.order import Order, Refund
from poas.sources.canonical_fields import Adjustments, req_text
from poas.sources.canonical_order import ImportDefaults, read_order, read_refund
from poas.sources.payload import PayloadError, TimeBounds
from poas.sources.prune import Rules, prune

# What a stored body never keeps (`scrub`): the customer's contact data (its country and state stay:
# they decide the consent region), the browser's IP address and user agent, refund notes (free text).
PRIVATE = Rules(
    drop=frozenset({"client_ip", "user_agent", "note"}),
    reduce={"customer": ("country", "state")},
)
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


def parse_order(
    data: Any,
    shop_id: str,
    *,
    default_prices_include_vat: bool = True,
    lenient: Adjustments | None = None,
    bounds: TimeBounds | None = None,
) -> Order:
    """The order in a POST /api/v1/orders body; `source` defaults to "api".

    `lenient` only for a body accepted and stored before: what 0.1.0 accepted is read as it read it,
    each adjustment noted there. With `bounds`, its order and refund times must lie within them.
    """
    defaults = ImportDefaults(shop_id, default_prices_include_vat, source="api", bounds=bounds)
    return read_order(_body(data), defaults, root="", lenient=lenient)


def parse_refund(
    data: Any, *, lenient: Adjustments | None = None, bounds: TimeBounds | None = None
) -> Refund:
    """The refund in a POST /api/v1/refunds body (see `canonical_order.read_refund`); `lenient` and
    `bounds` as for `parse_order`."""
    return read_refund(_body(data), lenient=lenient, bounds=bounds)[1]


def refund_order_id(data: Any) -> str:
    if not isinstance(data, dict):
        raise PayloadError("body", "expected a JSON object")
    return req_text(data.get("order_id"), "order_id")


def scrub(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The order or refund body without contact data, the browser or free text (`PRIVATE`): what the
    inbox stores and what is kept for later rebuilds."""
    clean: dict[str, Any] = prune(payload, PRIVATE, lambda _: False)
    return clean
