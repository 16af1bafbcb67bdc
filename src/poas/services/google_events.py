"""Queue an order's Google Ads conversions (one per configured conversion action) and, when its profit
is final, their restatements, in the caller's transaction; or say why not.

Nothing is queued for Google without a configured conversion action, without ads-measurement consent
(the same verdict as Meta's, `poas.domain.consent.ads_consent`: an EEA buyer without consent is not
sent at all), for a test order, when the profit is not sendable, or when nothing identifies the
click or the buyer. The outbox key (destination, "conversion", transactionId) keeps one conversion per
order and action however often it is queued or sent; a restatement carries the same transactionId."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from poas.domain.capi_events import EventNotBuilt
from poas.domain.consent import ads_consent
from poas.domain.destinations import conversion_destination, google_adjustment_id, google_destination_id
from poas.domain.google_events import (
    GOOGLE_CONVERSION,
    GOOGLE_RESTATEMENT,
    build_adjustment,
    build_conversion,
    build_restatement,
    final_value,
)
from poas.domain.order import Order
from poas.domain.profit import ProfitResult
from poas.settings import ShopConfig
from poas.store.outbox import OutboxEvent, enqueue
from poas.store.tables.delivery import outbox

NO_GOOGLE = "no Google conversion action configured"


@dataclass(frozen=True, slots=True)
class GoogleQueued:
    """What was queued for Google: (destination, event_id) pairs new / already there, or why nothing."""

    queued: list[tuple[str, str]] = field(default_factory=list)
    already_queued: list[tuple[str, str]] = field(default_factory=list)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)  # per action: why that one was not restated


def queue_google_conversions(
    conn: Connection,
    *,
    shop: ShopConfig,
    order: Order,
    user_data: Mapping[str, Any],
    profit: ProfitResult,
    now: datetime,
) -> GoogleQueued:
    actions = shop.google.conversion_actions
    if not actions:
        return GoogleQueued(skipped=NO_GOOGLE)
    verdict = ads_consent(shop, order)
    if not verdict.allowed:
        return GoogleQueued(skipped=f"no ads consent: {verdict.reason}")
    if order.test:
        return GoogleQueued(skipped="test order (Google Ads has no test events)")
    if not profit.sendable:
        return GoogleQueued(skipped=f"profit not sendable: {profit.reason or 'policy'}")
    out = GoogleQueued()
    for action in actions:
        try:
            event = build_conversion(
                order, user_data, profit, action.value, explicit_consent=verdict.signal is True
            )
        except EventNotBuilt as exc:
            return GoogleQueued(skipped=exc.reason)
        dest = google_destination_id(action.customer_id, action.conversion_action_id)
        row = OutboxEvent(
            shop_id=shop.id,
            pixel_id=dest,
            event_name=GOOGLE_CONVERSION,
            event_id=str(event["transactionId"]),
            order_id=order.order_id,
            event_time=order.placed_at,
            payload=event,
        )
        (out.queued if enqueue(conn, [row], now=now) else out.already_queued).append((dest, row.event_id))
    return out


def _told_value(payload: Mapping[str, Any]) -> Decimal:
    """The value an event or adjustment told Google: conversionValue, an adjustment's adjustedValue,
    0 for a retraction."""
    if "conversionValue" in payload:
        return Decimal(str(payload["conversionValue"]))
    restated = payload.get("restatementValue") or {}
    return Decimal(str(restated.get("adjustedValue", 0)))


def queue_google_restatements(
    conn: Connection,
    *,
    shop: ShopConfig,
    order_id: str,
    profit: ProfitResult,
    key: str,
    now: datetime,
    retract: bool = False,
) -> GoogleQueued:
    """Restate every Google conversion of the order not dead-lettered, to its action's final value,
    inside `google.restate_window_days` of the conversion and when it moved by at least
    `events.append_threshold` from what Google was last told. With `google.adjustments =
    "google_ads_api"` the correction goes through the Google Ads API (destination `gadj:`) as a
    RESTATEMENT, or a RETRACTION when `retract` (cancelled, voided, fully refunded)."""
    via_ads_api = shop.google.adjustments == "google_ads_api"
    by_dest = {
        google_destination_id(a.customer_id, a.conversion_action_id): a
        for a in shop.google.conversion_actions
    }
    rows = conn.execute(
        select(outbox.c.pixel_id, outbox.c.event_name, outbox.c.payload, outbox.c.state, outbox.c.event_time)
        .where(
            outbox.c.shop_id == shop.id,
            outbox.c.order_id == order_id,
            outbox.c.event_name.in_((GOOGLE_CONVERSION, GOOGLE_RESTATEMENT)),
        )
        .order_by(outbox.c.id)
    ).all()
    originals = {r.pixel_id: r for r in rows if r.event_name == GOOGLE_CONVERSION}
    told: dict[str, Decimal] = {}
    for r in rows:  # the last value sent or queued per conversion destination
        if r.state != "dead":
            told[conversion_destination(r.pixel_id)] = _told_value(json.loads(r.payload))
    out = GoogleQueued()
    window = timedelta(days=shop.google.restate_window_days)
    for dest, row in originals.items():
        action = by_dest.get(dest)
        if action is None:
            out.notes.append(f"{dest}: no longer configured, not restated")
            continue
        if row.state == "dead":
            out.notes.append(f"{dest}: the conversion was not accepted by Google, nothing to restate")
            continue
        original = json.loads(row.payload)
        value = final_value(profit, action.value)
        retracting = retract and via_ads_api
        if not retracting and abs(value - told.get(dest, Decimal(0))) < shop.events.append_threshold:
            out.notes.append(
                f"{dest}: final value within {shop.events.append_threshold} of what Google was told"
            )
            continue
        event_time = row.event_time if row.event_time.tzinfo else row.event_time.replace(tzinfo=UTC)
        if now - event_time > window:
            out.notes.append(
                f"{dest}: outside the restatement window "
                f"({shop.google.restate_window_days} days), not restated"
            )
            continue
        target = dest
        if via_ads_api:
            customer, action_id = action.customer_id, action.conversion_action_id
            event = build_adjustment(original, customer, action_id, value, now, retract=retracting)
            target = google_adjustment_id(customer, action_id)
        else:
            event = build_restatement(original, value, now)
        row_out = OutboxEvent(
            shop_id=shop.id,
            pixel_id=target,
            event_name=GOOGLE_RESTATEMENT,
            event_id=f"{original['transactionId']}.restate.{key}",
            order_id=order_id,
            event_time=event_time,
            payload=event,
        )
        (out.queued if enqueue(conn, [row_out], now=now) else out.already_queued).append(
            (target, row_out.event_id)
        )
    return out


def google_note(queued: GoogleQueued | None) -> str:
    """What went to Google for one ingest, for the inbox note ("" when the shop has no Google action)."""
    if queued is None or queued.skipped == NO_GOOGLE:
        return ""
    if queued.queued:
        return f"Google: {len(queued.queued)} conversion(s) queued"
    if queued.already_queued:
        return "Google: already queued earlier"
    return f"Google not sent: {queued.skipped}"
