"""Queue an order's CAPI events in the outbox, inside the order's transaction, or record why not.

Nothing is queued without a pixel, without ads-measurement consent (`poas.domain.consent`), for a test order
(unless the shop routes events to Test Events), when the missing-cost policy says the profit must not
be sent, or when the contact data cannot match a person. The reason is returned, never personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from poas.domain.capi_events import EventNotBuilt, build_append_value, build_order_events
from poas.domain.consent import ads_consent
from poas.domain.money import Money
from poas.domain.order import Order
from poas.domain.profit import ProfitResult
from poas.services.google_events import GoogleQueued, queue_google_conversions
from poas.services.new_customer_value import added_for, new_customer_value
from poas.settings import ShopConfig
from poas.store.outbox import OutboxEvent, enqueue


@dataclass(frozen=True, slots=True)
class QueuedEvents:
    """What `queue_purchase_events` did: the events written, those already there, or why none."""

    shop_id: str
    order_id: str
    queued: list[tuple[str, str]] = field(default_factory=list)  # (event_name, event_id) newly queued
    already_queued: list[tuple[str, str]] = field(default_factory=list)  # same key was in the outbox
    skipped: str | None = None  # why nothing was queued
    consent: str | None = None  # the ads consent verdict, e.g. "shop default granted for NO, no consent …"
    google: GoogleQueued | None = None  # what went to the shop's Google conversion actions, or why not

    @property
    def any(self) -> bool:
        return bool(self.queued or self.already_queued)


def _skip(shop: ShopConfig, order: Order, reason: str, consent: str | None = None) -> QueuedEvents:
    return QueuedEvents(shop.id, order.order_id, skipped=reason, consent=consent)


def _enqueue(
    conn: Connection,
    shop: ShopConfig,
    pixel_id: str,
    order_id: str | None,
    events: list[dict[str, Any]],
    now: datetime,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    queued: list[tuple[str, str]] = []
    already: list[tuple[str, str]] = []
    for event in events:  # one row at a time: the result tells exactly which keys were new
        row = OutboxEvent(
            shop_id=shop.id,
            pixel_id=pixel_id,
            event_name=str(event["event_name"]),
            event_id=str(event["event_id"]),
            order_id=order_id,
            event_time=datetime.fromtimestamp(int(event["event_time"]), UTC),
            payload=event,
        )
        key = (row.event_name, row.event_id)
        (queued if enqueue(conn, [row], now=now) else already).append(key)
    return queued, already


def queue_purchase_events(
    conn: Connection,
    *,
    shop: ShopConfig,
    order: Order,
    user_data: Mapping[str, Any],
    profit: ProfitResult,
    now: datetime,
) -> QueuedEvents:
    """Decide ads consent, build the Purchase (and the optional profit event), enqueue them; and the
    Google conversions for the shop's Google conversion actions (`services.google_events`)."""
    meta = _queue_meta(conn, shop=shop, order=order, user_data=user_data, profit=profit, now=now)
    google = queue_google_conversions(
        conn, shop=shop, order=order, user_data=user_data, profit=profit, now=now
    )
    return replace(meta, google=google)


def _queue_meta(
    conn: Connection,
    *,
    shop: ShopConfig,
    order: Order,
    user_data: Mapping[str, Any],
    profit: ProfitResult,
    now: datetime,
) -> QueuedEvents:
    if not shop.pixel_id:
        return _skip(shop, order, f"shop {shop.id} has no pixel_id configured")
    verdict = ads_consent(shop, order)
    consent = verdict.reason
    if not verdict.allowed:
        return _skip(shop, order, f"no ads consent: {consent}", consent)
    if order.test and not shop.events.test_event_code:
        return _skip(shop, order, "test order (set events.test_event_code to send test orders)", consent)
    if not profit.sendable:
        return _skip(shop, order, f"profit not sendable: {profit.reason or 'policy'}", consent)
    try:
        cv = new_customer_value(conn, shop=shop, order=order, profit=profit, now=now)
        events = build_order_events(order, user_data, profit, shop, now, cv)
    except EventNotBuilt as exc:
        return _skip(shop, order, exc.reason, consent)
    if not events:
        return _skip(
            shop, order, "events.send_purchase is off and no events.profit_event_name is set", consent
        )
    queued, already = _enqueue(conn, shop, shop.pixel_id, order.order_id, events, now)
    return QueuedEvents(shop.id, order.order_id, queued, already, None, consent)


def queue_append_value(
    conn: Connection,
    *,
    shop: ShopConfig,
    original: Mapping[str, Any],
    final_profit: Money,
    now: datetime,
    event_id: str | None = None,
) -> QueuedEvents:
    """Queue an AppendValue correcting a Purchase already queued/sent (`original` = its payload)."""
    order_id = str((original.get("custom_data") or {}).get("order_id") or "") or None
    label = order_id or str(original.get("event_id"))
    if not shop.pixel_id:
        return QueuedEvents(shop.id, label, skipped=f"shop {shop.id} has no pixel_id configured")
    try:
        added = added_for(conn, shop.id, order_id)  # the Purchase's new-customer value, if any
        event = build_append_value(original, final_profit, shop, now, event_id=event_id, added=added)
    except EventNotBuilt as exc:
        return QueuedEvents(shop.id, label, skipped=exc.reason)
    queued, already = _enqueue(conn, shop, shop.pixel_id, order_id, [event], now)
    return QueuedEvents(shop.id, label, queued, already)
