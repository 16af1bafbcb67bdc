"""Delivery read model: outbox depth and ages, per-pixel states and pauses, the Purchase match rate,
and what did not reach Meta grouped by reason.

Reasons split in two: *expected* conditions (an event older than Meta's 7-day limit, an order without
ads-measurement consent, a test order) that no replay can change, and *failures* that need a look.
Replay offers only events that can still succeed: dead, and with an event_time inside Meta's window;
the count shown is the count `replay_dead` would queue, computed by the same predicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, and_, case, exists, func, or_, select
from sqlalchemy.sql import ColumnElement

from poas.domain.destinations import destination_kind
from poas.services.deliver import MAX_EVENT_AGE
from poas.services.views.delivery_reasons import (
    TOO_OLD_PREFIX,
    DeliveryReason,
    NotQueued,
    group_reasons,
    matching_errors,
    reason_words,
)
from poas.store import outbox as outbox_store
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import orders

# Match rate: Purchase events created in the window (minus a grace period for ones still in
# flight) that Meta accepted; below the threshold the dashboard raises an alert.
MATCH_WINDOW = timedelta(days=7)
MATCH_GRACE = timedelta(hours=1)
MATCH_ALERT_BELOW = Decimal("0.90")
DEAD_PAGE = 50


class DeliveryPixel(BaseModel):
    pixel_id: str = Field(description="the destination id: a Meta pixel id, or gads:<customer>:<action>")
    kind: str = Field("meta_pixel", description="meta_pixel | google_ads_conversion_action")
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
    event_time: datetime | None = None
    reason: str = Field("", description="last_error in words (as the reason groups say it)")
    replayable: bool = Field(False, description="inside Meta's 7-day window: a replay can deliver it")


class DeliveryView(BaseModel):
    generated_at: datetime
    depth: int = Field(description="events waiting to be sent (pending, retry, sending)")
    oldest_waiting_age_s: int | None
    match_window_days: int
    match_alert_below: Decimal
    match_rate: Decimal | None
    match_alert: bool
    pixels: list[DeliveryPixel]
    reasons: list[DeliveryReason] = Field(
        default_factory=list, description="dead and retrying events grouped by state and reason"
    )
    not_queued: list[NotQueued] = Field(
        default_factory=list, description="orders with no event at all, by the reason known from the order"
    )
    dead_total: int = Field(0, description="dead events (all reasons)")
    dead_expected: int = Field(0, description="of those, expected ones (too old for Meta): not failures")
    replayable: int = Field(0, description="dead events a replay can still deliver (inside Meta's window)")
    dead: list[DeadEvent] = Field(description="one page of dead events, newest first (filtered by `reason`)")
    dead_matching: int = Field(0, description="dead events matching the filter (for paging)")
    reason: str | None = Field(None, description="the reason key the dead list is filtered by")
    limit: int = DEAD_PAGE
    offset: int = 0


def _rate(accepted: int, eligible: int) -> Decimal | None:
    return None if eligible == 0 else (Decimal(accepted) / Decimal(eligible)).quantize(Decimal("0.0001"))


def purchase_match_query(now: datetime) -> Any:
    """Per pixel: Purchase events queued in the match window, and how many Meta accepted.

    Events that were already older than Meta's 7-day limit (history queued late, dead as "too old")
    could never be accepted: they are an expected condition, not a miss, and are left out.
    Group by `outbox.c.pixel_id` before running it.
    """
    too_old = and_(outbox.c.state == "dead", outbox.c.last_error.like(f"{TOO_OLD_PREFIX}%"))
    return select(
        outbox.c.pixel_id, func.count(), func.sum(case((outbox.c.state == "sent", 1), else_=0))
    ).where(
        outbox.c.event_name == "Purchase",
        outbox.c.created_at >= now - MATCH_WINDOW,
        outbox.c.created_at <= now - MATCH_GRACE,
        ~too_old,
    )


def replayable_condition(now: datetime) -> ColumnElement[bool]:
    """Dead and still inside Meta's window: the only events a replay can deliver."""
    return and_(outbox.c.state == "dead", outbox.c.event_time >= now - MAX_EVENT_AGE)


def delivery_view(
    engine: Engine,
    *,
    now: datetime,
    shops: list[str] | None,
    reason: str | None = None,
    limit: int = DEAD_PAGE,
    offset: int = 0,
) -> DeliveryView:
    """The delivery page; the dead list is one page (`limit`, `offset`), of one reason when given."""
    with engine.connect() as conn:
        return _delivery_view(conn, now=now, shops=shops, reason=reason, limit=limit, offset=offset)


def _reasons(conn: Connection, now: datetime, shops: list[str] | None) -> list[DeliveryReason]:
    fresh = outbox.c.event_time >= now - MAX_EVENT_AGE
    q = select(
        outbox.c.state,
        outbox.c.last_error,
        func.count(),
        func.sum(case((fresh, 1), else_=0)),
        func.min(outbox.c.created_at),
        func.max(outbox.c.created_at),
    ).where(outbox.c.state.in_(("dead", "retry")))
    if shops is not None:
        q = q.where(outbox.c.shop_id.in_(shops))
    rows = conn.execute(q.group_by(outbox.c.state, outbox.c.last_error)).all()
    return group_reasons([(r[0], r[1], int(r[2]), int(r[3] or 0), r[4], r[5]) for r in rows])


def _not_queued(conn: Connection, shops: list[str] | None) -> list[NotQueued]:
    """Orders without any event, by what the order itself says (test, consent declined, other)."""
    o = orders.c
    queued = exists().where(outbox.c.shop_id == o.shop_id, outbox.c.order_id == o.order_id)
    kind = case((o.test.is_(True), "test"), (o.consent_ads_tracking.is_(False), "no_consent"), else_="other")
    q = select(kind, func.count()).where(~queued)
    if shops is not None:
        q = q.where(o.shop_id.in_(shops))
    counts = {str(k): int(n) for k, n in conn.execute(q.group_by(kind))}
    return [NotQueued.of(k, counts[k]) for k in ("no_consent", "test", "other") if counts.get(k)]


def error_condition(errors: list[str | None]) -> ColumnElement[bool]:
    """last_error is one of these texts (None: no text); nothing matches an empty list."""
    texts = [e for e in errors if e is not None]
    conds: list[ColumnElement[bool]] = [outbox.c.last_error.in_(texts)] if texts else []
    if None in errors:
        conds.append(outbox.c.last_error.is_(None))
    return or_(*conds) if conds else outbox.c.id < 0


def _dead_page(
    conn: Connection,
    *,
    now: datetime,
    shops: list[str] | None,
    errors: list[str | None] | None,
    limit: int,
    offset: int,
) -> tuple[list[DeadEvent], int]:
    where: list[ColumnElement[bool]] = [outbox.c.state == "dead"]
    if shops is not None:
        where.append(outbox.c.shop_id.in_(shops))
    if errors is not None:
        where.append(error_condition(errors))
    total = int(conn.execute(select(func.count()).select_from(outbox).where(*where)).scalar_one())
    q = select(outbox).where(*where).order_by(outbox.c.id.desc()).limit(limit).offset(offset)
    oldest_ok = now - MAX_EVENT_AGE
    rows = [
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
            event_time=r["event_time"],
            reason=reason_words(r["last_error"])[0],
            replayable=r["event_time"] >= oldest_ok,
        )
        for r in conn.execute(q).mappings()
    ]
    return rows, total


def _delivery_view(
    conn: Connection, *, now: datetime, shops: list[str] | None, reason: str | None, limit: int, offset: int
) -> DeliveryView:
    shop_filter = outbox.c.shop_id.in_(shops) if shops is not None else None
    pixels: dict[str, DeliveryPixel] = {}

    def px(pixel_id: str) -> DeliveryPixel:
        return pixels.setdefault(pixel_id, DeliveryPixel(pixel_id=pixel_id, kind=destination_kind(pixel_id)))

    counts = select(outbox.c.pixel_id, outbox.c.state, func.count())
    oldest = select(outbox.c.pixel_id, func.min(outbox.c.created_at)).where(
        outbox.c.state.in_(("pending", "retry", "sending"))
    )
    eligible = purchase_match_query(now)
    if shop_filter is not None:
        counts, oldest, eligible = (q.where(shop_filter) for q in (counts, oldest, eligible))
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
    reasons = _reasons(conn, now, shops)
    known = {g.key for g in reasons}
    reason = reason if reason in known else None
    errors = matching_errors(reasons, reason) if reason else None
    dead_rows, matching = _dead_page(conn, now=now, shops=shops, errors=errors, limit=limit, offset=offset)
    dead_groups = [g for g in reasons if g.state == "dead"]
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
        reasons=reasons,
        not_queued=_not_queued(conn, shops),
        dead_total=sum(g.count for g in dead_groups),
        dead_expected=sum(g.count for g in dead_groups if g.expected),
        replayable=sum(g.replayable for g in dead_groups),
        dead=dead_rows,
        dead_matching=matching,
        reason=reason,
        limit=limit,
        offset=offset,
    )


def replay_dead(
    engine: Engine,
    *,
    ids: list[int] | None,
    shops: list[str] | None,
    now: datetime,
    reason: str | None = None,
) -> int:
    """Dead events that can still succeed back to pending (same event_id): all of them, the `ids`
    given, or those of one `reason` group. Events older than Meta's window are never re-queued (they
    could only die again); a shop caller can only touch its own events."""
    with engine.begin() as conn:
        q = select(outbox.c.id).where(replayable_condition(now))
        if shops is not None:
            q = q.where(outbox.c.shop_id.in_(shops))
        if ids is not None:
            q = q.where(outbox.c.id.in_(ids))
        if reason is not None:
            q = q.where(error_condition(matching_errors(_reasons(conn, now, shops), reason)))
        chosen = [int(i) for i in conn.execute(q).scalars()]
        step = 1000  # ids per UPDATE … IN (…)
        return sum(
            outbox_store.replay(conn, ids=chosen[i : i + step], now=now) for i in range(0, len(chosen), step)
        )
