"""Data Manager API events for an order: the conversion (value = expected profit at purchase, the
number Meta gets as net_revenue; or revenue ex VAT for a revenue action) and its restatement (the same
event with the same transactionId and the final value: Google adjusts the conversion it has).

Google takes no negative conversion value, so a loss is sent as 0. The event's consent is what
poas knows: an event is only built once the shop's policy allowed ads measurement for the order
(`poas.domain.consent.ads_consent`), so `adUserData` is CONSENT_GRANTED; `adPersonalization` is
CONSENT_GRANTED only on an explicit signal from the order, else left unspecified."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from poas.domain.capi_events import EventNotBuilt, json_amount
from poas.domain.google_identity import CLICK_PARAMS, identifiers
from poas.domain.order import Order

if TYPE_CHECKING:
    from poas.domain.profit import ProfitResult

GOOGLE_CONVERSION = "conversion"  # outbox event_name of a Google conversion (event_id = transactionId)
GOOGLE_RESTATEMENT = "restatement"  # outbox event_name of its restatement
ValueKind = Literal["profit", "revenue"]


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def transaction_id(order: Order) -> str:
    """The conversion's transactionId: the order id (what the shop's Google tag sends as transaction_id)."""
    return order.order_id


def conversion_value(profit: ProfitResult, value: ValueKind) -> Decimal:
    """At purchase: expected profit (profit actions) or revenue ex VAT (revenue actions), never below 0."""
    amount = profit.expected_profit.amount if value == "profit" else profit.revenue_ex_vat.amount
    return max(amount, Decimal(0))


def final_value(profit: ProfitResult, value: ValueKind) -> Decimal:
    """When final: realized profit, or revenue ex VAT less what was refunded; never below 0."""
    if value == "profit":
        amount = profit.realized_profit.amount
    else:
        amount = profit.revenue_ex_vat.amount - profit.refunded_revenue_ex_vat.amount
    return max(amount, Decimal(0))


def build_conversion(
    order: Order,
    user_data: Mapping[str, Any],
    profit: ProfitResult,
    value: ValueKind,
    *,
    explicit_consent: bool,
) -> dict[str, Any]:
    """The Data Manager Event for one order and one conversion action; EventNotBuilt when nothing
    identifies the click or the buyer (no gclid / gbraid / wbraid and no Google user identifiers)."""
    currency = profit.expected_profit.currency
    event: dict[str, Any] = {
        "transactionId": transaction_id(order),
        "eventTimestamp": rfc3339(order.placed_at),
        "conversionValue": json_amount(conversion_value(profit, value), currency),
        "currency": currency,
        "eventSource": "WEB",
    }
    for key in CLICK_PARAMS:  # one click id: Google takes at most one of them
        click = getattr(order.attribution, key, None)
        if click:
            event["adIdentifiers"] = {key: click}
            break
    ids = identifiers(user_data)
    if ids:
        event["userData"] = {"userIdentifiers": ids}
    if "adIdentifiers" not in event and not ids:
        raise EventNotBuilt("no Google click id (gclid / gbraid / wbraid) and no Google user identifiers")
    consent = {"adUserData": "CONSENT_GRANTED"}
    if explicit_consent:
        consent["adPersonalization"] = "CONSENT_GRANTED"
    event["consent"] = consent
    return event


def build_restatement(original: Mapping[str, Any], value: Decimal, now: datetime) -> dict[str, Any]:
    """The conversion again (same transactionId, time and identifiers: Google needs all fields of an
    event) with the final value and `lastUpdatedTimestamp` = now."""
    event = copy.deepcopy(dict(original))
    event["conversionValue"] = json_amount(value, str(original["currency"]))
    event["lastUpdatedTimestamp"] = rfc3339(now)
    return event


def ads_api_datetime(moment: datetime) -> str:
    """The Google Ads API's date-time form, `yyyy-mm-dd hh:mm:ss+00:00`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def build_adjustment(
    original: Mapping[str, Any],
    customer_id: str,
    conversion_action_id: str,
    value: Decimal,
    now: datetime,
    *,
    retract: bool,
) -> dict[str, Any]:
    """A Google Ads API ConversionAdjustment for the conversion sent with `original`'s transactionId
    (the conversion's order id): RETRACTION, or RESTATEMENT to `value`."""
    adjustment: dict[str, Any] = {
        "conversionAction": f"customers/{customer_id}/conversionActions/{conversion_action_id}",
        "adjustmentType": "RETRACTION" if retract else "RESTATEMENT",
        "adjustmentDateTime": ads_api_datetime(now),
        "orderId": str(original["transactionId"]),
    }
    if not retract:
        currency = str(original["currency"])
        adjustment["restatementValue"] = {
            "adjustedValue": json_amount(value, currency),
            "currencyCode": currency,
        }
    return adjustment
