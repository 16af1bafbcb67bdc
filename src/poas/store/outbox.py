"""The transactional outbox: enqueue, claim with a lease, mark sent/retry/dead, replay, purge, pauses.

Workers claim rows (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time
through `BEGIN IMMEDIATE`), send outside the transaction, then mark the result. Each claim has its own
lease owner, `<worker id>.<n>`, and every mark is guarded by it, so a claim whose lease expired and was
taken over (by another worker, or by another slot of the same worker) cannot overwrite the newer
claim's result. Before each request a worker extends its lease (`extend_lease`, which returns the ids
the claim still owns) so that it covers the request, and sends only those ids: it never starts
sending an event whose lease it lost. Delivery is still at least once: a worker stalled past its lease while a
request was in flight has its rows claimed again and resent with the same event_id, which Meta
deduplicates.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.dml import Insert

from poas.domain.capi_events import APPEND_VALUE
from poas.domain.google_events import GOOGLE_RESTATEMENT
from poas.store.tables.delivery import delivery_log, outbox, pixel_state

CLAIMABLE = ("pending", "retry", "sending")  # sending: only once its lease has expired
# Events that correct an earlier one of the same order and destination: they wait for it.
CORRECTIONS = (APPEND_VALUE, GOOGLE_RESTATEMENT)

# A lease owner is `<worker id>.<claim number>` in a String(100) column: room for 19 digits.
MAX_WORKER_ID = 80
_claim_numbers = itertools.count(1)  # process-wide, so claims of one worker id never share an owner


def worker_of(lease_owner: str) -> str:
    """The worker id part of a lease owner."""
    return lease_owner.rpartition(".")[0]


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event to enqueue; `payload` is the Graph-ready event (dict or its JSON text)."""

    shop_id: str
    pixel_id: str
    event_name: str
    event_id: str
    event_time: datetime
    payload: Mapping[str, Any] | str
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    id: int
    shop_id: str
    pixel_id: str
    event_name: str
    event_id: str
    event_time: datetime
    payload: str
    attempts: int


@dataclass(slots=True)
class Claim:
    """Leased events of one pixel. `owner`: this claim's lease owner, which every result must name.
    `held`: the ids still leased as of the claim or the last `extend_lease` (finished ones drop out
    then too); each of them is leased until `lease_until` or later.
    """

    worker_id: str
    owner: str
    pixel_id: str
    events: list[ClaimedEvent]
    claimed_at: datetime
    lease_until: datetime
    held: set[int]


# ---------------------------------------------------------------- engine differences


class _Dialect:
    """What differs between the engines: the idempotent insert and the row lock of a claim."""

    def insert_ignore(self, table: Any) -> Insert:
        raise NotImplementedError

    def lock(self, query: Select[Any]) -> Select[Any]:
        raise NotImplementedError

    def id_in(self, ids: Sequence[int]) -> ColumnElement[bool]:
        return outbox.c.id.in_(list(ids))


class _Sqlite(_Dialect):
    def insert_ignore(self, table: Any) -> Insert:
        return sqlite.insert(table).on_conflict_do_nothing()

    def lock(self, query: Select[Any]) -> Select[Any]:
        return query  # BEGIN IMMEDIATE already holds the only write lock


class _Postgres(_Dialect):
    def insert_ignore(self, table: Any) -> Insert:
        return postgresql.insert(table).on_conflict_do_nothing()

    def lock(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True)

    def id_in(self, ids: Sequence[int]) -> ColumnElement[bool]:
        # One array parameter instead of 1,000 scalars: cheaper to bind, plan and log.
        return outbox.c.id == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(BigInteger)))


def _dialect(bind: Connection | Engine) -> _Dialect:
    name = bind.dialect.name
    if name == "sqlite":
        return _Sqlite()
    if name == "postgresql":
        return _Postgres()
    raise ValueError(f"unsupported database engine for the outbox: {name}")


# ---------------------------------------------------------------- enqueue


def enqueue(conn: Connection, events: Iterable[OutboxEvent], *, now: datetime) -> list[int]:
    """Insert events in the caller's transaction; an existing (pixel, name, event_id) is left alone.

    Returns the ids of the rows actually inserted.
    """
    rows = [
        {
            "shop_id": e.shop_id,
            "pixel_id": e.pixel_id,
            "event_name": e.event_name,
            "event_id": e.event_id,
            "order_id": e.order_id,
            "event_time": e.event_time,
            "payload": e.payload
            if isinstance(e.payload, str)
            else json.dumps(e.payload, separators=(",", ":")),
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for e in events
    ]
    if not rows:
        return []
    stmt = _dialect(conn).insert_ignore(outbox).returning(outbox.c.id)
    return [int(r[0]) for r in conn.execute(stmt, rows).all()]


# ---------------------------------------------------------------- claim


def blocked_pixels(conn: Connection, now: datetime) -> list[str]:
    """Pixels that must not be sent to now: paused, or throttled until later."""
    paused = and_(
        pixel_state.c.paused, or_(pixel_state.c.paused_until.is_(None), pixel_state.c.paused_until > now)
    )
    q = select(pixel_state.c.pixel_id).where(or_(paused, pixel_state.c.throttle_until > now))
    return [str(r[0]) for r in conn.execute(q)]


def _claimable(now: datetime) -> ColumnElement[bool]:
    # A claim sets next_attempt_at = lease_until, so one index range finds due *and* expired rows.
    due = and_(outbox.c.state.in_(CLAIMABLE), outbox.c.next_attempt_at <= now)
    # An AppendValue waits while its order's Purchase is still unsent: Meta rejects a correction
    # whose original event it has not seen (and one bad event sinks a batch). A Google restatement
    # waits for its conversion likewise: sent first, Google would take it as a new conversion.
    original = outbox.alias("original")
    waiting = exists(
        select(original.c.id).where(
            original.c.shop_id == outbox.c.shop_id,
            original.c.order_id == outbox.c.order_id,
            # an adjustment sent through the Google Ads API (gadj:) waits for its gads: conversion
            original.c.pixel_id == func.replace(outbox.c.pixel_id, "gadj:", "gads:"),
            original.c.event_name.not_in(CORRECTIONS),
            original.c.state.in_(CLAIMABLE),
        )
    )
    return and_(due, or_(outbox.c.event_name.not_in(CORRECTIONS), ~waiting))


def claim(
    engine: Engine, worker_id: str, pixel_id: str | None, limit: int, lease_s: float, now: datetime
) -> Claim | None:
    """Lease up to `limit` due events of one pixel (the given one, or the first with due work) to a new
    owner of `worker_id`'s: a slot of the same worker that claims them again later is told apart."""
    if len(worker_id) > MAX_WORKER_ID:
        raise ValueError(f"a worker id has at most {MAX_WORKER_ID} characters")
    owner = f"{worker_id}.{next(_claim_numbers)}"
    lease_until = now + timedelta(seconds=lease_s)
    dialect = _dialect(engine)
    with engine.begin() as conn:
        blocked = blocked_pixels(conn, now)
        where = _claimable(now)
        if blocked:
            where = and_(where, outbox.c.pixel_id.not_in(blocked))
        if pixel_id is None:
            # Locking the probe row too makes the probe skip rows other workers hold right now.
            pixel_id = conn.execute(dialect.lock(select(outbox.c.pixel_id).where(where).limit(1))).scalar()
            if pixel_id is None:
                return None
        elif pixel_id in blocked:
            return None
        # One statement: pick (locking on PostgreSQL, skipping rows other workers hold) and lease.
        picked = (
            dialect.lock(select(outbox.c.id).where(where, outbox.c.pixel_id == pixel_id).limit(limit))
            .cte("picked")
            .prefix_with("MATERIALIZED")
        )
        stmt = (
            update(outbox)
            .where(outbox.c.id.in_(select(picked.c.id)))
            .values(
                state="sending",
                lease_owner=owner,
                lease_until=lease_until,
                next_attempt_at=lease_until,
                attempts=outbox.c.attempts + 1,
            )
            .returning(
                outbox.c.id,
                outbox.c.shop_id,
                outbox.c.pixel_id,
                outbox.c.event_name,
                outbox.c.event_id,
                outbox.c.event_time,
                outbox.c.payload,
                outbox.c.attempts,
            )
        )
        events = [ClaimedEvent(*r) for r in conn.execute(stmt)]
    if not events:
        return None
    events.sort(key=lambda e: e.id)
    return Claim(worker_id, owner, pixel_id, events, now, lease_until, {e.id for e in events})


# ---------------------------------------------------------------- results (guarded by the claim's owner)


def _owned(conn: Connection, owner: str, ids: Sequence[int]) -> ColumnElement[bool]:
    return and_(_dialect(conn).id_in(ids), outbox.c.state == "sending", outbox.c.lease_owner == owner)


def _of_worker(worker_id: str) -> ColumnElement[bool]:
    # Exact and case-sensitive (SQLite's LIKE is not): the worker id, a dot, a claim number.
    prefix = worker_id + "."
    rest = func.substr(outbox.c.lease_owner, len(prefix) + 1)
    return and_(func.substr(outbox.c.lease_owner, 1, len(prefix)) == prefix, ~rest.contains("."), rest != "")


def extend_lease(conn: Connection, owner: str, ids: Sequence[int], *, until: datetime) -> list[int]:
    """Hold the claim's rows among `ids` until at least `until`; returns the ids it still owns.

    A lease is never shortened (two halves of a bisection may extend at once), and rows claimed
    again since (by any worker, this one too), or already finished, are left alone and not returned.
    """
    if not ids:
        return []
    later = case(
        (outbox.c.lease_until > until, outbox.c.lease_until), else_=literal(until, outbox.c.lease_until.type)
    )
    stmt = (
        update(outbox)
        .where(_owned(conn, owner, ids))
        .values(lease_until=later, next_attempt_at=later)
        .returning(outbox.c.id)
    )
    return sorted(int(r[0]) for r in conn.execute(stmt))


def mark_sent(
    conn: Connection, owner: str, ids: Sequence[int], *, now: datetime, meta_response: dict[str, Any]
) -> int:
    """The batch was accepted; returns how many rows the claim `owner` still owned."""
    if not ids:
        return 0
    stmt = (
        update(outbox)
        .where(_owned(conn, owner, ids))
        .values(state="sent", sent_at=now, lease_owner=None, lease_until=None, meta_response=meta_response)
    )
    return conn.execute(stmt).rowcount


def mark_retry(conn: Connection, owner: str, ids: Sequence[int], *, next_at: datetime, error: str) -> int:
    if not ids:
        return 0
    stmt = (
        update(outbox)
        .where(_owned(conn, owner, ids))
        .values(state="retry", next_attempt_at=next_at, lease_owner=None, lease_until=None, last_error=error)
    )
    return conn.execute(stmt).rowcount


def mark_dead(conn: Connection, owner: str, ids: Sequence[int], *, reason: str) -> int:
    if not ids:
        return 0
    stmt = (
        update(outbox)
        .where(_owned(conn, owner, ids))
        .values(state="dead", lease_owner=None, lease_until=None, last_error=reason)
    )
    return conn.execute(stmt).rowcount


def release(
    conn: Connection, owner: str, ids: Sequence[int] | None, *, now: datetime, undo_attempt: bool = False
) -> int:
    """Give claims back (paused pixel, shutdown): due again now, the attempt optionally not counted.

    With `ids`, `owner` is a claim's lease owner and its rows among `ids` go back; with None, `owner`
    is a worker id and every claim of that worker goes back.
    """
    if ids is None:
        where = and_(outbox.c.state == "sending", _of_worker(owner))
    else:
        where = and_(outbox.c.state == "sending", outbox.c.lease_owner == owner, outbox.c.id.in_(list(ids)))
    values: dict[str, Any] = {
        "state": "retry",
        "next_attempt_at": now,
        "lease_owner": None,
        "lease_until": None,
    }
    if undo_attempt:
        values["attempts"] = outbox.c.attempts - 1
    return conn.execute(update(outbox).where(where).values(**values)).rowcount


def replay(conn: Connection, *, ids: Sequence[int] | None = None, now: datetime) -> int:
    """Dead events back to pending with the same event_id (all dead ones when `ids` is None)."""
    where = outbox.c.state == "dead"
    if ids is not None:
        where = and_(where, outbox.c.id.in_(list(ids)))
    stmt = update(outbox).where(where).values(state="pending", attempts=0, next_attempt_at=now)
    return conn.execute(stmt).rowcount


def purge(conn: Connection, *, older_than: datetime) -> tuple[int, int]:
    """Delete sent events and delivery-log rows older than the cutoff; returns (events, log rows)."""
    events = conn.execute(
        delete(outbox).where(outbox.c.state == "sent", outbox.c.sent_at < older_than)
    ).rowcount
    logs = conn.execute(delete(delivery_log).where(delivery_log.c.finished_at < older_than)).rowcount
    return events, logs


# ---------------------------------------------------------------- pixel pause / throttle


def _pixel_row(conn: Connection, pixel_id: str, now: datetime) -> dict[str, Any]:
    row = conn.execute(select(pixel_state).where(pixel_state.c.pixel_id == pixel_id)).mappings().first()
    if row is not None:
        return dict(row)
    conn.execute(
        _dialect(conn).insert_ignore(pixel_state),
        {"pixel_id": pixel_id, "paused": False, "throttle_strikes": 0, "updated_at": now},
    )
    return {"pixel_id": pixel_id, "paused": False, "throttle_strikes": 0}


def pause_pixel(
    conn: Connection, pixel_id: str, *, reason: str, now: datetime, until: datetime | None = None
) -> None:
    """Stop sending to a pixel until `until` (None: until `resume_pixel`)."""
    _pixel_row(conn, pixel_id, now)
    conn.execute(
        update(pixel_state)
        .where(pixel_state.c.pixel_id == pixel_id)
        .values(paused=True, paused_until=until, pause_reason=reason, paused_at=now, updated_at=now)
    )


def resume_pixel(conn: Connection, pixel_id: str, *, now: datetime) -> bool:
    stmt = (
        update(pixel_state)
        .where(pixel_state.c.pixel_id == pixel_id)
        .values(paused=False, paused_until=None, pause_reason=None, throttle_until=None, updated_at=now)
    )
    return conn.execute(stmt).rowcount > 0


def throttle_pixel(conn: Connection, pixel_id: str, *, now: datetime) -> int:
    """Count one more throttling answer for the pixel; returns the strikes in a row (1, 2, …)."""
    strikes = int(_pixel_row(conn, pixel_id, now)["throttle_strikes"] or 0) + 1
    conn.execute(
        update(pixel_state)
        .where(pixel_state.c.pixel_id == pixel_id)
        .values(throttle_strikes=strikes, updated_at=now)
    )
    return strikes


def set_throttle_until(conn: Connection, pixel_id: str, *, until: datetime, now: datetime) -> None:
    conn.execute(
        update(pixel_state)
        .where(
            pixel_state.c.pixel_id == pixel_id,
            or_(pixel_state.c.throttle_until.is_(None), pixel_state.c.throttle_until < until),
        )
        .values(throttle_until=until, updated_at=now)
    )


def clear_throttle(conn: Connection, pixel_id: str, *, now: datetime) -> None:
    conn.execute(
        update(pixel_state)
        .where(pixel_state.c.pixel_id == pixel_id, pixel_state.c.throttle_strikes > 0)
        .values(throttle_strikes=0, throttle_until=None, updated_at=now)
    )


# ---------------------------------------------------------------- delivery log and stats


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request to Meta, for the delivery log."""

    pixel_id: str
    worker_id: str
    outbox_ids: list[int]
    outcome: str
    latency_ms: int
    claimed_at: datetime
    lease_until: datetime
    finished_at: datetime
    http_status: int | None = None
    meta_code: int | None = None
    meta_subcode: int | None = None
    fbtrace_id: str | None = None
    events_received: int | None = None
    message: str | None = None


def log_attempt(conn: Connection, attempt: Attempt) -> None:
    conn.execute(
        delivery_log.insert(),
        {
            "pixel_id": attempt.pixel_id,
            "worker_id": attempt.worker_id,
            "batch_size": len(attempt.outbox_ids),
            "outcome": attempt.outcome,
            "http_status": attempt.http_status,
            "meta_code": attempt.meta_code,
            "meta_subcode": attempt.meta_subcode,
            "fbtrace_id": attempt.fbtrace_id,
            "events_received": attempt.events_received,
            "latency_ms": attempt.latency_ms,
            "message": attempt.message,
            "outbox_ids": attempt.outbox_ids,
            "claimed_at": attempt.claimed_at,
            "lease_until": attempt.lease_until,
            "finished_at": attempt.finished_at,
        },
    )


@dataclass(frozen=True, slots=True)
class PausedPixel:
    pixel_id: str
    reason: str
    paused_at: datetime | None
    paused_until: datetime | None


@dataclass
class OutboxStats:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # pixel -> state -> n
    oldest_due: dict[str, datetime] = field(default_factory=dict)  # pixel -> created_at of the oldest unsent
    paused: list[PausedPixel] = field(default_factory=list)
    throttled: dict[str, datetime] = field(default_factory=dict)

    def total(self, state: str) -> int:
        return sum(c.get(state, 0) for c in self.counts.values())


def stats(conn: Connection, *, now: datetime) -> OutboxStats:
    result = OutboxStats()
    q = select(outbox.c.pixel_id, outbox.c.state, func.count()).group_by(outbox.c.pixel_id, outbox.c.state)
    for pixel, state, n in conn.execute(q):
        result.counts.setdefault(pixel, {})[state] = int(n)
    q2 = (
        select(outbox.c.pixel_id, func.min(outbox.c.created_at))
        .where(outbox.c.state.in_(("pending", "retry", "sending")))
        .group_by(outbox.c.pixel_id)
    )
    for pixel, oldest in conn.execute(q2):
        result.oldest_due[pixel] = oldest
    for row in conn.execute(select(pixel_state)).mappings():
        paused_now = row["paused"] and (row["paused_until"] is None or row["paused_until"] > now)
        if paused_now:
            result.paused.append(
                PausedPixel(row["pixel_id"], row["pause_reason"] or "", row["paused_at"], row["paused_until"])
            )
        if row["throttle_until"] is not None and row["throttle_until"] > now:
            result.throttled[row["pixel_id"]] = row["throttle_until"]
    return result


def list_events(
    conn: Connection,
    *,
    state: str | None = None,
    limit: int = 50,
    order: tuple[str, str] | None = None,
    with_payload: bool = False,
) -> list[dict[str, Any]]:
    """Outbox rows, oldest first; `order=(shop_id, order_id)` narrows them to one order's events."""
    cols = [c for c in outbox.c if with_payload or c.name != "payload"]
    q = select(*cols).order_by(outbox.c.id).limit(limit)
    if state is not None:
        q = q.where(outbox.c.state == state)
    if order is not None:
        q = q.where(outbox.c.shop_id == order[0], outbox.c.order_id == order[1])
    return [dict(r) for r in conn.execute(q).mappings()]
