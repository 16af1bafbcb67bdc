"""The inbox: deliveries stored on receipt (deduplicated), claimed with a lease, marked done or retried.

A body is stored in its private form (`poas.sources.stored_body`: contact data hashed on arrival,
nothing that identifies a person kept raw); `body_sha256` is the raw body's. `finish` drops it.

Claims are safe for any number of processes: PostgreSQL locks candidate rows with
`FOR UPDATE SKIP LOCKED`; SQLite's `BEGIN IMMEDIATE` already makes the claim the only writer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from poas.store.tables.foundation import orders
from poas.store.tables.intake import inbox, intake_orders


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery as received, before any processing."""

    shop_id: str
    source: str  # shopify | woocommerce | api
    topic: str
    dedup_key: str
    body: bytes
    received_at: datetime
    triggered_at: datetime | None = None
    order_id: str | None = None
    rejected: str | None = None  # why its body can never be processed: stored parked as `rejected`
    body_sha256: str | None = None  # of the raw body as received (`body` is its stored form); None: of `body`


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    shop_id: str
    source: str
    topic: str
    body: bytes
    attempts: int
    received_at: datetime


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


_STORE: dict[str, Any] = {}


def _store_statement(conn: Connection) -> Any:
    """The insert-unless-known statement, built once per dialect: the values go in as parameters, so
    SQLAlchemy reuses the compiled form instead of rebuilding and re-keying a statement per delivery."""
    name = conn.dialect.name
    stmt = _STORE.get(name)
    if stmt is None:
        stmt = _STORE[name] = _insert(conn, inbox).on_conflict_do_nothing().returning(inbox.c.id)
    return stmt


def store(conn: Connection, d: Delivery, *, now: datetime) -> tuple[int, bool]:
    """Insert the delivery unless its (shop, source, topic, dedup key) is known: (row id, newly stored)."""
    params = {
        "shop_id": d.shop_id,
        "source": d.source,
        "topic": d.topic,
        "dedup_key": d.dedup_key[:200],
        "received_at": d.received_at,
        "triggered_at": d.triggered_at,
        "order_id": d.order_id,
        "body": d.body,
        "body_sha256": d.body_sha256 or hashlib.sha256(d.body).hexdigest(),
        "status": "pending" if d.rejected is None else "rejected",
        "attempts": 0,
        "next_attempt_at": now,
        "error": d.rejected,
    }
    new_id = conn.execute(_store_statement(conn), params).scalar()
    if new_id is not None:
        return int(new_id), True
    existing = conn.execute(
        select(inbox.c.id).where(
            inbox.c.shop_id == d.shop_id,
            inbox.c.source == d.source,
            inbox.c.topic == d.topic,
            inbox.c.dedup_key == d.dedup_key[:200],
        )
    ).scalar_one()
    return int(existing), False


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(inbox.c.status == "pending", inbox.c.next_attempt_at <= now),
        and_(inbox.c.status == "processing", inbox.c.lease_until < now),
    )


def claim(
    conn: Connection,
    *,
    worker: str,
    now: datetime,
    lease: timedelta = timedelta(seconds=60),  # a batch takes seconds; a dead worker's rows return soon
    limit: int = 100,
    ids: Sequence[int] | None = None,
) -> list[Claimed]:
    """Lease up to `limit` due rows (or just `ids`) to `worker`, oldest first."""
    query = select(inbox.c.id).where(_claimable(now)).order_by(inbox.c.next_attempt_at, inbox.c.id)
    if ids is not None:
        query = query.where(inbox.c.id.in_(list(ids)))
    query = query.limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(conn.execute(query).scalars())
    if not candidates:
        return []
    rows = conn.execute(
        update(inbox)
        .where(inbox.c.id.in_(candidates), _claimable(now))
        .values(status="processing", worker=worker, lease_until=now + lease)
        .returning(
            inbox.c.id,
            inbox.c.shop_id,
            inbox.c.source,
            inbox.c.topic,
            inbox.c.body,
            inbox.c.attempts,
            inbox.c.received_at,
        )
    ).all()
    claimed = [
        Claimed(int(r.id), r.shop_id, r.source, r.topic, bytes(r.body or b""), r.attempts, r.received_at)
        for r in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


def finish(
    conn: Connection,
    row_id: int,
    worker: str,
    *,
    status: str,
    outcome: str,
    order_id: str | None,
    now: datetime,
) -> bool:
    """Mark a claimed row done or skipped and drop its raw body (it holds contact data)."""
    result = conn.execute(
        update(inbox)
        .where(inbox.c.id == row_id, inbox.c.worker == worker, inbox.c.status == "processing")
        .values(
            status=status,
            outcome=outcome[:200],
            order_id=func.coalesce(order_id, inbox.c.order_id),
            body=None,
            error=None,
            lease_until=None,
            processed_at=now,
        )
    )
    return bool(result.rowcount)


def fail(
    conn: Connection,
    row_id: int,
    worker: str,
    *,
    error: str,
    next_at: datetime | None,
    now: datetime,
    body: bytes | None = None,
) -> bool:
    """Record a failed attempt: retried at `next_at`, or parked as failed when `next_at` is None.
    `body` replaces the stored body (a raw body of 0.x by its private form); None keeps it."""
    result = conn.execute(
        update(inbox)
        .where(inbox.c.id == row_id, inbox.c.worker == worker, inbox.c.status == "processing")
        .values(
            **_new_body(body),
            status="pending" if next_at is not None else "failed",
            attempts=inbox.c.attempts + 1,
            next_attempt_at=next_at if next_at is not None else now,
            error=error[:2000],
            lease_until=None,
        )
    )
    return bool(result.rowcount)


def reject(
    conn: Connection, row_id: int, worker: str, *, error: str, now: datetime, body: bytes | None = None
) -> bool:
    """Park a claimed row whose body can never be processed as `rejected`: no retries. `body` as
    for `fail`."""
    result = conn.execute(
        update(inbox)
        .where(inbox.c.id == row_id, inbox.c.worker == worker, inbox.c.status == "processing")
        .values(
            **_new_body(body),
            status="rejected",
            attempts=inbox.c.attempts + 1,
            next_attempt_at=now,
            error=error[:2000],
            lease_until=None,
            processed_at=now,
        )
    )
    return bool(result.rowcount)


def _new_body(body: bytes | None) -> dict[str, Any]:
    return {} if body is None else {"body": body}


def retry(conn: Connection, *, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Make failed rows (or the given failed/pending/rejected rows) due now; returns how many."""
    cond = inbox.c.status == "failed" if ids is None else inbox.c.id.in_(list(ids))
    result = conn.execute(
        update(inbox)
        .where(cond, inbox.c.status.in_(("failed", "pending", "rejected")))
        .values(status="pending", next_attempt_at=now)
    )
    return int(result.rowcount)


def rows(
    conn: Connection,
    *,
    statuses: Sequence[str] | None = None,
    shop_id: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Inbox rows without their bodies, newest first."""
    cols = [c for c in inbox.c if c.name != "body"]
    query = select(*cols).order_by(inbox.c.id.desc()).limit(limit)
    if statuses:
        query = query.where(inbox.c.status.in_(list(statuses)))
    if shop_id:
        query = query.where(inbox.c.shop_id == shop_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def counts(conn: Connection) -> dict[str, int]:
    result = conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status))
    return {status: int(n) for status, n in result}


# ---- per-order intake state ----------------------------------------------------------------------


@dataclass(slots=True)
class OrderState:
    """One order's intake state: the newest order payload (contact data removed) with its order-edit
    clock `updated_at` (the payload's own), and the refunds delivered apart, by refund id."""

    shop_id: str
    order_id: str
    source: str
    updated_at: datetime | None
    payload: dict[str, Any] | None
    refunds: dict[str, Any]


def lock_state(conn: Connection, shop_id: str, order_id: str, source: str, *, now: datetime) -> OrderState:
    """The order's intake state, created empty if new, locked until the transaction ends."""
    conn.execute(
        _insert(conn, intake_orders)
        .values(shop_id=shop_id, order_id=order_id, source=source, refunds={}, stored_at=now)
        .on_conflict_do_nothing()
    )
    query = select(intake_orders).where(
        intake_orders.c.shop_id == shop_id, intake_orders.c.order_id == order_id
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    r = conn.execute(query).one()
    return OrderState(r.shop_id, r.order_id, r.source, r.updated_at, r.payload, dict(r.refunds or {}))


def stored_clock(conn: Connection, shop_id: str, order_id: str) -> tuple[bool, datetime | None]:
    """(whether the order is stored, its order-edit clock `orders.updated_at`). Refunds never move
    the clock: it is the `updated_at` of the order version stored."""
    row = conn.execute(
        select(orders.c.updated_at).where(orders.c.shop_id == shop_id, orders.c.order_id == order_id)
    ).first()
    return (row is not None), (row.updated_at if row is not None else None)


def save_state(conn: Connection, state: OrderState, *, now: datetime) -> None:
    conn.execute(
        update(intake_orders)
        .where(intake_orders.c.shop_id == state.shop_id, intake_orders.c.order_id == state.order_id)
        .values(
            updated_at=state.updated_at,
            payload=state.payload,
            refunds=dict(state.refunds),
            stored_at=now,
        )
    )


def scrub_refund(refund: Mapping[str, Any]) -> dict[str, Any]:
    """A refund payload without free text written by staff or customers."""
    return {k: v for k, v in refund.items() if k not in ("note", "reason", "user_id")}
