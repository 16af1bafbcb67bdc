"""Alert conditions read from the store (paused pixels, dead letters, stuck inbox rows) and the
per-key alert state, changed only by a conditional UPDATE on the token the caller read (the claim).

Nothing here reads a payload or a delivery body: only ids, counts, states and the stored reasons.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from poas.store.tables.alerts import alert_state
from poas.store.tables.delivery import outbox, pixel_state
from poas.store.tables.intake import inbox

UNSENT = ("pending", "retry", "sending")


def new_token() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class PausedPixelRow:
    pixel_id: str
    reason: str
    paused_at: datetime | None
    paused_until: datetime | None
    shops: tuple[str, ...]  # the shops whose events are queued for the pixel
    waiting: int  # unsent events held back by the pause


def paused_pixels(conn: Connection, now: datetime) -> list[PausedPixelRow]:
    paused_now = and_(
        pixel_state.c.paused, or_(pixel_state.c.paused_until.is_(None), pixel_state.c.paused_until > now)
    )
    rows = conn.execute(select(pixel_state).where(paused_now).order_by(pixel_state.c.pixel_id)).mappings()
    found = []
    for row in rows:
        pixel = str(row["pixel_id"])
        queued = conn.execute(
            select(outbox.c.shop_id, func.count())
            .where(outbox.c.pixel_id == pixel, outbox.c.state.in_(UNSENT))
            .group_by(outbox.c.shop_id)
            .order_by(outbox.c.shop_id)
        ).all()
        found.append(
            PausedPixelRow(
                pixel,
                str(row["pause_reason"] or ""),
                row["paused_at"],
                row["paused_until"],
                tuple(str(s) for s, _ in queued),
                sum(int(n) for _, n in queued),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class DeadLetters:
    pixel_id: str
    count: int
    shops: tuple[str, ...]
    reasons: list[tuple[str, int]]  # the most common stored reasons, most frequent first


def dead_letters(conn: Connection, *, top: int = 3) -> dict[str, DeadLetters]:
    """Dead events per pixel with their most common reasons (`last_error`, never the payload)."""
    result: dict[str, DeadLetters] = {}
    counts = conn.execute(
        select(outbox.c.pixel_id, outbox.c.shop_id, outbox.c.last_error, func.count())
        .where(outbox.c.state == "dead")
        .group_by(outbox.c.pixel_id, outbox.c.shop_id, outbox.c.last_error)
    ).all()
    per_pixel: dict[str, tuple[set[str], Counter[str]]] = {}
    for pixel, shop, reason, n in counts:
        shops, reasons = per_pixel.setdefault(str(pixel), (set(), Counter()))
        shops.add(str(shop))
        reasons[str(reason or "no reason recorded")] += int(n)
    for pixel, (shops, reasons) in sorted(per_pixel.items()):
        result[pixel] = DeadLetters(
            pixel, sum(reasons.values()), tuple(sorted(shops)), reasons.most_common(top)
        )
    return result


@dataclass(frozen=True, slots=True)
class StuckDeliveries:
    shop_id: str
    source: str
    topic: str
    failed: int  # failed for good (until `poas inbox retry`)
    retrying: int  # still being retried, first received more than the threshold ago
    oldest: datetime | None
    rejected: int = 0  # parked as unreadable (a body that can never be processed), received lately


def stuck_inbox(
    conn: Connection, now: datetime, *, retrying_for: timedelta, rejected_within: timedelta | None = None
) -> list[StuckDeliveries]:
    """Inbox rows that failed permanently, have been retried for longer than `retrying_for`, or (with
    `rejected_within`) were rejected as unreadable within that time: their orders will never count,
    and the condition resolves once they are older."""
    cutoff = now - retrying_for
    retrying = and_(
        inbox.c.status.in_(("pending", "processing")), inbox.c.attempts > 0, inbox.c.received_at < cutoff
    )
    wanted = [inbox.c.status == "failed", retrying]
    if rejected_within is not None:
        wanted.append(and_(inbox.c.status == "rejected", inbox.c.received_at >= now - rejected_within))
    rows = conn.execute(
        select(
            inbox.c.shop_id,
            inbox.c.source,
            inbox.c.topic,
            inbox.c.status,
            func.count(),
            func.min(inbox.c.received_at),
        )
        .where(or_(*wanted))
        .group_by(inbox.c.shop_id, inbox.c.source, inbox.c.topic, inbox.c.status)
    ).all()
    merged: dict[tuple[str, str, str], list[Any]] = {}
    for shop, source, topic, status, n, oldest in rows:
        entry = merged.setdefault((str(shop), str(source), str(topic)), [0, 0, None, 0])
        entry[{"failed": 0, "rejected": 3}.get(str(status), 1)] += int(n)
        if oldest is not None and (entry[2] is None or oldest < entry[2]):
            entry[2] = oldest
    return [
        StuckDeliveries(*key, failed, retried, oldest, rejected)
        for key, (failed, retried, oldest, rejected) in sorted(merged.items())
    ]


# ---------------------------------------------------------------- alert state


@dataclass(frozen=True, slots=True)
class AlertState:
    key: str
    first_seen_at: datetime
    last_sent_at: datetime | None
    sent_state: str | None
    resolved_at: datetime | None
    seen: int
    claim: str


def _state(row: Any) -> AlertState:
    return AlertState(
        row["key"],
        row["first_seen_at"],
        row["last_sent_at"],
        row["sent_state"],
        row["resolved_at"],
        int(row["seen"] or 0),
        row["claim"],
    )


def states(conn: Connection) -> dict[str, AlertState]:
    return {r["key"]: _state(r) for r in conn.execute(select(alert_state)).mappings()}


def get_or_create(conn: Connection, key: str, *, now: datetime) -> AlertState:
    """The key's row, created (unsent, count 0) if missing; a concurrent creator's row wins."""
    values = {"key": key, "first_seen_at": now, "seen": 0, "claim": new_token(), "updated_at": now}
    insert = (
        postgresql.insert(alert_state) if conn.dialect.name == "postgresql" else sqlite.insert(alert_state)
    )
    conn.execute(insert.on_conflict_do_nothing(), values)
    row = conn.execute(select(alert_state).where(alert_state.c.key == key)).mappings().one()
    return _state(row)


def change_if_unchanged(
    conn: Connection, key: str, read_claim: str, *, now: datetime, **values: Any
) -> str | None:
    """Set `values` on the key's row if its claim is still `read_claim` (nobody changed it since it was
    read); returns the new claim token, or None when another checker got there first.

    On PostgreSQL a concurrent UPDATE waits for the first one's row lock, then sees the new token and
    matches nothing; SQLite runs one writer at a time. So exactly one of several checkers wins.
    """
    token = new_token()
    result = conn.execute(
        update(alert_state)
        .where(alert_state.c.key == key, alert_state.c.claim == read_claim)
        .values(claim=token, updated_at=now, **values)
    )
    return token if result.rowcount == 1 else None
