"""CAPI event dicts for an order: Purchase (value + net_revenue), the optional profit event, AppendValue.

Amounts are Decimal up to here; they become JSON numbers (rounded to the currency's minor unit) only
in the dicts built below, which are ready for the Graph API's `data` list. Whether an order may be
sent at all (ads consent) and whether Limited Data Use applies is decided in `poas.domain.consent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from poas.domain.consent import ldu_options
from poas.domain.contents import item_minors
from poas.domain.google_identity import GOOGLE_KEY
from poas.domain.money import Money, exponent
from poas.domain.order import Order

if TYPE_CHECKING:
    from poas.domain.profit import ProfitResult
    from poas.settings import ShopConfig

PURCHASE = "Purchase"
APPEND_VALUE = "AppendValue"
MATCH_KEYS = ("em", "ph", "external_id", "fbc", "fbp", "client_ip_address")
ZERO = Decimal(0)


class NewCustomerValue(NamedTuple):
    """A new customer's predicted value for her Purchase (`services.new_customer_value`), shop currency.

    `predicted_ltv` (None = not sent) goes to `custom_data.predicted_ltv`; `added` is what the
    "new-customer value" basis adds to net_revenue (share × predicted future profit), and to her
    AppendValue corrections."""

    predicted_ltv: Decimal | None
    added: Decimal


ONE = Decimal(1)
_QUANTA = {e: Decimal(1).scaleb(-e) for e in range(5)}


class EventNotBuilt(ValueError):
    """The event cannot be built; `reason` says why (no personal data in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def json_amount(amount: Decimal, currency: str) -> int | float:
    """A Decimal as the JSON number Meta gets: rounded half-even to the minor unit."""
    rule = _ROUNDING.get(currency)
    if rule is None:
        e = exponent(currency)
        rule = _ROUNDING[currency] = (_QUANTA[e], e == 0)
    q = amount.quantize(rule[0], ROUND_HALF_EVEN)
    return int(q) if rule[1] else float(q)


_ROUNDING: dict[str, tuple[Decimal, bool]] = {}  # currency -> (quantum, whole units); no personal data


def has_match_keys(user_data: Mapping[str, Any]) -> bool:
    """Whether user_data can match a person: a key identifier, or first and last name."""
    for k in MATCH_KEYS:
        if user_data.get(k):
            return True
    return bool(user_data.get("fn") and user_data.get("ln"))


def event_id_for(template: str, order: Order) -> str:
    """The event_id from the shop's template ({order_id}, {order_name}, {shop_id})."""
    if template == "{order_id}":
        return order.order_id
    try:
        return template.format(
            order_id=order.order_id, order_name=order.name or order.order_id, shop_id=order.shop_id
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"events.event_id_template {template!r}: unknown placeholder {exc} "
            "(use {order_id}, {order_name} or {shop_id})"
        ) from None


def _source_url(order: Order, shop: ShopConfig) -> str | None:
    landing = (order.attribution.landing_url or "").strip()
    if landing.startswith(("https://", "http://")):
        return landing
    if landing.startswith("/") and shop.domain:
        return f"https://{shop.domain}{landing}"
    if shop.events.event_source_url:
        return shop.events.event_source_url
    return f"https://{shop.domain}/" if shop.domain else None


def _rate(profit: ProfitResult, order: Order) -> Decimal:
    """Order currency → event (shop) currency, the rate the profit calculation used."""
    if order.currency == profit.currency:
        return ONE
    for use in profit.fx:
        if use.from_currency == order.currency and use.to_currency == profit.currency:
            return use.rate
    raise EventNotBuilt(f"no {order.currency}->{profit.currency} rate in the profit breakdown")


def _value(order: Order, profit: ProfitResult, basis: str) -> Decimal:
    if basis == "total":
        return profit.total_paid.amount
    if basis == "revenue_ex_vat":
        return profit.revenue_ex_vat.amount
    if basis == "profit":
        return profit.expected_profit.amount
    if basis == "subtotal":
        subtotal: Decimal = (
            sum(
                (ln.unit_price * ln.quantity - ln.discount + (ZERO if order.prices_include_vat else ln.tax))
                for ln in order.lines
            )
            or ZERO
        )
        return subtotal * _rate(profit, order)
    raise ValueError(f"unknown events.value_basis {basis!r}")


def _net_revenue(amount: Decimal, shop: ShopConfig) -> Decimal:
    return amount if amount >= 0 or shop.events.negative_profit == "send" else ZERO


def _contents(
    order: Order, profit: ProfitResult, currency: str, basis: str
) -> tuple[list[dict[str, Any]], int]:
    """The `contents` list (prices after discounts, on the value basis: `poas.domain.contents`) and
    `num_items`."""
    found, e = item_minors(order, profit, basis, _rate(profit, order))
    scale = 10**e  # int / int is rounded correctly: the same float as the Decimal's
    out = [
        {"id": ident, "quantity": qty, "item_price": minor if e == 0 else minor / scale}
        for ident, qty, minor in found
    ]
    return out, sum(qty for _, qty, _ in found)


class _Base(NamedTuple):
    event_time: int
    event_id: str
    action_source: str
    source_url: str | None
    ldu: tuple[int, int] | None = None  # (country, state) when Limited Data Use applies


def _base(order: Order, user_data: Mapping[str, Any], shop: ShopConfig, now: datetime) -> _Base:
    if not has_match_keys(user_data):
        raise EventNotBuilt(
            "no usable customer data (needs email, phone, external id, fbc/fbp, IP or full name)"
        )
    event_time = int(min(order.created_at, now).timestamp())
    url = _source_url(order, shop)
    events = shop.events
    source = events.action_source
    if source == "website" and (url is None or not user_data.get("client_user_agent")):
        source = "other"  # Meta rejects website events without a browser user agent and URL
    ldu = ldu_options(shop, order)
    return _Base(event_time, event_id_for(events.event_id_template, order), source, url, ldu)


def _envelope(name: str, base: _Base, user_data: Mapping[str, Any], shop: ShopConfig) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": name,
        "event_time": base.event_time,
        "event_id": base.event_id,
        "action_source": base.action_source,
        "user_data": {k: v for k, v in user_data.items() if k != GOOGLE_KEY},  # Google's hashes stay home
    }
    if base.source_url:
        event["event_source_url"] = base.source_url
    if base.ldu is not None:
        event["data_processing_options"] = ["LDU"]
        event["data_processing_options_country"] = base.ldu[0]
        event["data_processing_options_state"] = base.ldu[1]
    else:
        event["data_processing_options"] = []
    return event


def build_purchase(
    order: Order,
    user_data: Mapping[str, Any],
    profit: ProfitResult,
    shop: ShopConfig,
    now: datetime,
    customer_value: NewCustomerValue | None = None,
) -> dict[str, Any]:
    """The Purchase event: value on the Pixel's basis, net_revenue = expected profit (shop currency),
    plus a new customer's predicted value when the shop asks for it (`customer_value`)."""
    base = _base(order, user_data, shop, now)
    currency = profit.currency
    event = _envelope(PURCHASE, base, user_data, shop)
    basis = shop.events.value_basis
    contents, num_items = _contents(order, profit, currency, basis)
    added = customer_value.added if customer_value else ZERO
    event["custom_data"] = {
        "value": json_amount(_value(order, profit, basis), currency),
        "currency": currency,
        "net_revenue": json_amount(_net_revenue(profit.expected_profit.amount + added, shop), currency),
        "order_id": order.order_id,
        "contents": contents,
        "content_type": "product",
        "num_items": num_items,
    }
    if customer_value and customer_value.predicted_ltv is not None and customer_value.predicted_ltv > 0:
        event["custom_data"]["predicted_ltv"] = json_amount(customer_value.predicted_ltv, currency)
    return event


def build_profit_event(
    order: Order,
    user_data: Mapping[str, Any],
    profit: ProfitResult,
    shop: ShopConfig,
    now: datetime,
    customer_value: NewCustomerValue | None = None,
) -> dict[str, Any] | None:
    """The optional custom event whose value is the profit (None unless `events.profit_event_name`)."""
    name = shop.events.profit_event_name
    if not name:
        return None
    base = _base(order, user_data, shop, now)
    event = _envelope(name, base, user_data, shop)
    currency = profit.currency
    added = customer_value.added if customer_value else ZERO
    event["custom_data"] = {
        "value": json_amount(_net_revenue(profit.expected_profit.amount + added, shop), currency),
        "currency": currency,
        "order_id": order.order_id,
    }
    return event


def build_order_events(
    order: Order,
    user_data: Mapping[str, Any],
    profit: ProfitResult,
    shop: ShopConfig,
    now: datetime,
    customer_value: NewCustomerValue | None = None,
) -> list[dict[str, Any]]:
    """Every event the shop's settings ask for at purchase time (Purchase and/or the profit event)."""
    cv = customer_value
    events = [build_purchase(order, user_data, profit, shop, now, cv)] if shop.events.send_purchase else []
    extra = build_profit_event(order, user_data, profit, shop, now, cv)
    if extra is not None:
        events.append(extra)
    return events


_COPIED = (
    "event_source_url",
    "data_processing_options",
    "data_processing_options_country",
    "data_processing_options_state",
)


def build_append_value(
    original: Mapping[str, Any],
    final_profit: Money,
    shop: ShopConfig,
    now: datetime,
    *,
    event_id: str | None = None,
    added: Decimal = ZERO,
) -> dict[str, Any]:
    """AppendValue for a Purchase already sent: same user_data, final net_revenue, time = now.

    `added` is the new-customer value the Purchase's net_revenue carried (the same basis)."""
    cd = original.get("custom_data") or {}
    currency = cd.get("currency")
    if currency != final_profit.currency:
        raise EventNotBuilt(f"final profit is in {final_profit.currency}, the original event in {currency}")
    event_time = int(now.timestamp())
    orig_id = str(original["event_id"])
    event: dict[str, Any] = {
        "event_name": APPEND_VALUE,
        "event_time": event_time,
        "event_id": event_id or f"{orig_id}.append.{event_time}",
        "action_source": original["action_source"],
        "user_data": dict(original["user_data"]),
        "original_event_data": {
            "event_name": original["event_name"],
            "event_time": original["event_time"],
            "order_id": cd.get("order_id"),
            "event_id": orig_id,
        },
        "custom_data": {
            "currency": currency,
            "net_revenue": json_amount(_net_revenue(final_profit.amount + added, shop), currency),
        },
    }
    for key in _COPIED:
        if key in original:
            event[key] = original[key]
    if event["original_event_data"]["order_id"] is None:
        del event["original_event_data"]["order_id"]
    return event
