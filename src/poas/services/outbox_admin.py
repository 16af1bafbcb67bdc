"""Looking at and repairing the event outbox: stats, listings, replaying dead events, purging sent
ones, resuming paused pixels (`poas outbox …`, the demo)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from poas.services.views.order_values import EventValues, event_values
from poas.store import outbox as ob

STATES = ("pending", "sending", "retry", "sent", "dead")


def outbox_stats(engine: Engine, *, now: datetime) -> ob.OutboxStats:
    """Events by pixel and state, the oldest unsent per pixel, paused and throttled pixels."""
    with engine.connect() as conn:
        return ob.stats(conn, now=now)


def list_events(
    engine: Engine,
    *,
    state: str | None = None,
    limit: int = 50,
    order: tuple[str, str] | None = None,
    with_payload: bool = False,
) -> list[dict[str, Any]]:
    """Outbox rows oldest first (payloads only when asked); `order=(shop_id, order_id)` narrows them."""
    with engine.connect() as conn:
        return ob.list_events(conn, state=state, limit=limit, order=order, with_payload=with_payload)


def list_event_values(
    engine: Engine, *, state: str | None = None, limit: int = 50
) -> list[tuple[dict[str, Any], EventValues]]:
    """Outbox rows oldest first, each without its payload but with the values it tells Meta
    (`value`, `net_revenue`, `currency`, read from the payload as queued)."""
    out = []
    for row in list_events(engine, state=state, limit=limit, with_payload=True):
        payload = row.pop("payload")
        out.append((row, event_values(row["event_name"], payload)))
    return out


def replay_dead(engine: Engine, *, ids: Sequence[int] | None, now: datetime) -> int:
    """Dead events (the given ones, or all when `ids` is None) back to pending with the same event_id."""
    with engine.begin() as conn:
        return ob.replay(conn, ids=ids, now=now)


def purge_sent(engine: Engine, *, older_than: datetime) -> tuple[int, int]:
    """Delete sent events and delivery-log rows older than `older_than`: (events, log rows)."""
    with engine.begin() as conn:
        return ob.purge(conn, older_than=older_than)


def resume_pixel(engine: Engine, pixel_id: str, *, now: datetime) -> bool:
    """Lift a pixel's pause or throttle; False when it had neither."""
    with engine.begin() as conn:
        return ob.resume_pixel(conn, pixel_id, now=now)
