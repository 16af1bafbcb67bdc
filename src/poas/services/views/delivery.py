"""Delivery read model: outbox depth and ages, per-pixel states and pauses, the Purchase match rate."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, and_, case, func, select

from poas.store import outbox as outbox_store
from poas.store.tables.delivery import outbox

# Match rate: Purchase events created in the window (minus a grace period for ones still in
# flight) that Meta accepted; below the threshold the dashboard raises an alert.
MATCH_WINDOW = timedelta(days=7)
MATCH_GRACE = timedelta(hours=1)
MATCH_ALERT_BELOW = Decimal("0.90")
DEAD_LIST_LIMIT = 200


class DeliveryPixel(BaseModel):
    pixel_id: str
    pending: int = 0
    sending: int = 0
    retry: int = 0
    sent: int = 0
    dead: int = 0
    oldest_waiting_age_s: int | None = Field(None, description="age of the oldest unsent event")
    paused: bool = False
    pause_reason: str | None = None
    paused_since: datetime | None = None
    paused_until: datetime | None = Field(None, description="null while paused: until resumed by hand")
    throttled_until: datetime | None = None
    purchases_eligible: int = Field(0, description="Purchase events queued in the match window")
    purchases_accepted: int = Field(0, description="of those, accepted by Meta")
    match_rate: Decimal | None = None
    match_alert: bool = False


class DeadEvent(BaseModel):
    id: int
    shop_id: str
    pixel_id: str
    event_name: str
    event_id: str
    order_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime


class DeliveryView(BaseModel):
    generated_at: datetime
    depth: int = Field(description="events waiting to be sent (pending, retry, sending)")
    oldest_waiting_age_s: int | None
    match_window_days: int
    match_alert_below: Decimal
    match_rate: Decimal | None
    match_alert: bool
    pixels: list[DeliveryPixel]
    dead: list[DeadEvent]


def _rate(accepted: int, eligible: int) -> Decimal | None:
    return None if eligible == 0 else (Decimal(accepted) / Decimal(eligible)).quantize(Decimal("0.0001"))


def purchase_match_query(now: datetime) -> Any:
    """Per pixel: Purchase events queued in the match window, and how many Meta accepted.

    Group by `outbox.c.pixel_id` before running it.
    """
    return select(
        outbox.c.pixel_id, func.count(), func.sum(case((outbox.c.state == "sent", 1), else_=0))
    ).where(
        outbox.c.event_name == "Purchase",
        outbox.c.created_at >= now - MATCH_WINDOW,
        outbox.c.created_at <= now - MATCH_GRACE,
    )


def delivery_view(engine: Engine, *, now: datetime, shops: list[str] | None) -> DeliveryView:
    with engine.connect() as conn:
        return _delivery_view(conn, now=now, shops=shops)


def _delivery_view(conn: Connection, *, now: datetime, shops: list[str] | None) -> DeliveryView:
    shop_filter = outbox.c.shop_id.in_(shops) if shops is not None else None
    pixels: dict[str, DeliveryPixel] = {}

    def px(pixel_id: str) -> DeliveryPixel:
        return pixels.setdefault(pixel_id, DeliveryPixel(pixel_id=pixel_id))

    counts = select(outbox.c.pixel_id, outbox.c.state, func.count())
    oldest = select(outbox.c.pixel_id, func.min(outbox.c.created_at)).where(
        outbox.c.state.in_(("pending", "retry", "sending"))
    )
    eligible = purchase_match_query(now)
    dead = select(outbox).where(outbox.c.state == "dead").order_by(outbox.c.id.desc()).limit(DEAD_LIST_LIMIT)
    if shop_filter is not None:
        counts, oldest, eligible, dead = (q.where(shop_filter) for q in (counts, oldest, eligible, dead))
    for pixel_id, state, n in conn.execute(counts.group_by(outbox.c.pixel_id, outbox.c.state)):
        if state in ("pending", "sending", "retry", "sent", "dead"):
            setattr(px(pixel_id), state, int(n))
    for pixel_id, created in conn.execute(oldest.group_by(outbox.c.pixel_id)):
        if created is not None:
            px(pixel_id).oldest_waiting_age_s = max(0, int((now - created).total_seconds()))
    for pixel_id, n, accepted in conn.execute(eligible.group_by(outbox.c.pixel_id)):
        p = px(pixel_id)
        p.purchases_eligible, p.purchases_accepted = int(n), int(accepted or 0)
        p.match_rate = _rate(p.purchases_accepted, p.purchases_eligible)
        p.match_alert = p.match_rate is not None and p.match_rate < MATCH_ALERT_BELOW
    stats = outbox_store.stats(conn, now=now)
    for paused in stats.paused:
        if paused.pixel_id in pixels or shops is None:
            p = px(paused.pixel_id)
            p.paused, p.pause_reason = True, paused.reason or None
            p.paused_since, p.paused_until = paused.paused_at, paused.paused_until
    for pixel_id, until in stats.throttled.items():
        if pixel_id in pixels:
            pixels[pixel_id].throttled_until = until
    dead_rows = [
        DeadEvent(
            id=r["id"],
            shop_id=r["shop_id"],
            pixel_id=r["pixel_id"],
            event_name=r["event_name"],
            event_id=r["event_id"],
            order_id=r["order_id"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            created_at=r["created_at"],
        )
        for r in conn.execute(dead).mappings()
    ]
    rows = sorted(pixels.values(), key=lambda p: p.pixel_id)
    total_eligible = sum(p.purchases_eligible for p in rows)
    rate = _rate(sum(p.purchases_accepted for p in rows), total_eligible)
    ages = [p.oldest_waiting_age_s for p in rows if p.oldest_waiting_age_s is not None]
    return DeliveryView(
        generated_at=now,
        depth=sum(p.pending + p.sending + p.retry for p in rows),
        oldest_waiting_age_s=max(ages) if ages else None,
        match_window_days=MATCH_WINDOW.days,
        match_alert_below=MATCH_ALERT_BELOW,
        match_rate=rate,
        match_alert=rate is not None and rate < MATCH_ALERT_BELOW,
        pixels=rows,
        dead=dead_rows,
    )


def replay_dead(engine: Engine, *, ids: list[int] | None, shops: list[str] | None, now: datetime) -> int:
    """Dead events back to pending (same event_id); a shop caller can only touch its own events."""
    with engine.begin() as conn:
        if shops is not None:
            q = select(outbox.c.id).where(and_(outbox.c.state == "dead", outbox.c.shop_id.in_(shops)))
            if ids is not None:
                q = q.where(outbox.c.id.in_(ids))
            ids = [int(i) for i in conn.execute(q).scalars()]
            if not ids:
                return 0
        return outbox_store.replay(conn, ids=ids, now=now)
