"""Admin sessions: add, read, touch and remove rows keyed by the SHA-256 of the session id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from poas.store.tables.login import admin_sessions

_COLUMNS = (
    admin_sessions.c.id_hash,
    admin_sessions.c.password_fp,
    admin_sessions.c.created_at,
    admin_sessions.c.last_seen_at,
)


@dataclass(frozen=True, slots=True)
class StoredSession:
    id_hash: str
    password_fp: str
    created_at: datetime
    last_seen_at: datetime


def add(conn: Connection, id_hash: str, password_fp: str, now: datetime) -> None:
    conn.execute(
        insert(admin_sessions).values(
            id_hash=id_hash, password_fp=password_fp, created_at=now, last_seen_at=now
        )
    )


def get(conn: Connection, id_hash: str) -> StoredSession | None:
    row = conn.execute(select(*_COLUMNS).where(admin_sessions.c.id_hash == id_hash)).first()
    return None if row is None else StoredSession(*row)


def touch(conn: Connection, id_hash: str, now: datetime) -> None:
    """Move the session's last use forward (never back: two processes may touch it at once)."""
    conn.execute(
        update(admin_sessions)
        .where(admin_sessions.c.id_hash == id_hash, admin_sessions.c.last_seen_at < now)
        .values(last_seen_at=now)
    )


def remove(conn: Connection, id_hashes: list[str]) -> int:
    if not id_hashes:
        return 0
    return conn.execute(delete(admin_sessions).where(admin_sessions.c.id_hash.in_(id_hashes))).rowcount


def remove_all(conn: Connection) -> int:
    return conn.execute(delete(admin_sessions)).rowcount


def prune(conn: Connection, *, idle_before: datetime, created_before: datetime) -> int:
    """Remove sessions unused since `idle_before` or created before `created_before`."""
    return conn.execute(
        delete(admin_sessions).where(
            (admin_sessions.c.last_seen_at < idle_before) | (admin_sessions.c.created_at < created_before)
        )
    ).rowcount


def all_sessions(conn: Connection) -> list[StoredSession]:
    """Every stored session, newest first."""
    rows = conn.execute(
        select(*_COLUMNS).order_by(admin_sessions.c.created_at.desc(), admin_sessions.c.id_hash)
    )
    return [StoredSession(*row) for row in rows]
