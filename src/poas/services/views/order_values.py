"""What an order earned after refunds, and what Meta was told about it (read by `poas profit`, the order
API and `poas outbox list`).

The values told to Meta are read back from the queued payloads themselves, not recomputed: the
payload is what was (or will be) sent. An event is `queued` until the worker has sent it (pending,
sending or waiting for a retry), then `sent`, or `dead` when Meta refused it for good.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field

from poas.domain.money import exponent
from poas.services.views.common import ZERO
from poas.store.snapshots import Snapshot

Delivery = Literal["queued", "sent", "dead"]
_DELIVERY: dict[str, Delivery] = {
    "pending": "queued",
    "sending": "queued",
    "retry": "queued",
    "sent": "sent",
    "dead": "dead",
}


class RevenueView(BaseModel):
    """Revenue without VAT as ordered, what refunds and a cancellation took off, and what is left."""

    currency: str
    revenue_ex_vat: Decimal = Field(description="as ordered")
    refunded_revenue_ex_vat: Decimal = Field(description="taken back by refunds")
    cancelled_revenue_ex_vat: Decimal = Field(description="not earned: cancelled or voided without a refund")
    realized_revenue_ex_vat: Decimal = Field(description="revenue_ex_vat - refunded - cancelled")


class EventValues(BaseModel):
    """The values one event carries to Meta (None where the event has no such field)."""

    event_name: str
    value: Decimal | None = None
    net_revenue: Decimal | None = None
    currency: str | None = None


class SentValue(EventValues):
    """One queued event's values, when it was queued and sent, and what became of it."""

    id: int
    event_id: str
    state: Delivery = Field(description="queued (pending, sending or retrying), sent, or dead")
    outbox_state: str
    queued_at: datetime
    sent_at: datetime | None


def _component(breakdown: Mapping[str, Any], name: str, key: str = "amount") -> Decimal:
    entry = (breakdown.get("components") or {}).get(name)
    if isinstance(entry, dict) and entry.get(key) not in (None, ""):
        try:
            return Decimal(str(entry[key]))
        except InvalidOperation:
            return ZERO
    return ZERO


def revenue_view(snap: Snapshot) -> RevenueView:
    """Revenue after refunds from a profit snapshot (shop currency)."""
    unit = Decimal(1).scaleb(-exponent(snap.currency))
    ordered = snap.amounts["revenue_ex_vat"].quantize(unit)
    refunded = _component(snap.breakdown, "refunded_revenue_ex_vat").quantize(unit)
    cancelled = _component(snap.breakdown, "cancellation", "not_realized_revenue_ex_vat").quantize(unit)
    return RevenueView(
        currency=snap.currency,
        revenue_ex_vat=ordered,
        refunded_revenue_ex_vat=refunded,
        cancelled_revenue_ex_vat=cancelled,
        realized_revenue_ex_vat=ordered - refunded - cancelled,
    )


def _money(value: Any, currency: str | None) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if currency and amount.is_finite():
        try:
            return amount.quantize(Decimal(1).scaleb(-exponent(currency)))
        except (ValueError, InvalidOperation):
            return amount
    return amount


def event_values(event_name: str, payload: str | Mapping[str, Any] | None) -> EventValues:
    """`value`, `net_revenue` and `currency` of a queued payload (JSON text or dict); None when absent."""
    data: Any = payload
    if isinstance(payload, str):
        try:
            data = json.loads(payload, parse_float=Decimal)
        except ValueError:
            data = None
    custom = data.get("custom_data") if isinstance(data, Mapping) else None
    if not isinstance(custom, Mapping):
        return EventValues(event_name=event_name)
    currency = custom.get("currency") if isinstance(custom.get("currency"), str) else None
    return EventValues(
        event_name=event_name,
        value=_money(custom.get("value"), currency),
        net_revenue=_money(custom.get("net_revenue"), currency),
        currency=currency,
    )


def delivery_state(outbox_state: str) -> Delivery:
    return _DELIVERY.get(outbox_state, "queued")


def sent_value(row: Mapping[Any, Any]) -> SentValue:
    """An outbox row (with its payload) as the values it tells Meta and its delivery state."""
    values = event_values(row["event_name"], row.get("payload"))
    return SentValue(
        **values.model_dump(),
        id=row["id"],
        event_id=row["event_id"],
        state=delivery_state(row["state"]),
        outbox_state=row["state"],
        queued_at=row["created_at"],
        sent_at=row["sent_at"],
    )


def sent_values(rows: Sequence[Mapping[Any, Any]]) -> list[SentValue]:
    """Every event's values, oldest first (the last one per event name is what Meta holds, once sent)."""
    return [sent_value(r) for r in sorted(rows, key=lambda r: int(r["id"]))]
