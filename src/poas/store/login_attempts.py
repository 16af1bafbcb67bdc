"""Login attempts per client address: record, count within a window, clear after a login, prune.

Callers lock the address first (`lock_client`) so that counting and recording are one step for any
number of processes: PostgreSQL takes a transaction-scoped advisory lock per address; SQLite's
`BEGIN IMMEDIATE` already makes the transaction the only writer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, text

from poas.store.tables.login import login_attempts


def lock_client(conn: Connection, client: str) -> None:
    """Hold the address until the transaction ends (PostgreSQL; SQLite is serialized already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"poas.login:{client}"})


def attempts_since(conn: Connection, client: str, since: datetime) -> list[datetime]:
    """The address's attempts after `since`, oldest first."""
    rows = conn.execute(
        select(login_attempts.c.attempted_at)
        .where(login_attempts.c.client == client, login_attempts.c.attempted_at > since)
        .order_by(login_attempts.c.attempted_at)
    )
    return [at for (at,) in rows]


def record(conn: Connection, client: str, at: datetime) -> None:
    conn.execute(insert(login_attempts).values(client=client, attempted_at=at))


def clear(conn: Connection, client: str) -> int:
    """Forget the address's attempts (after a successful login); returns how many were removed."""
    return conn.execute(delete(login_attempts).where(login_attempts.c.client == client)).rowcount


def prune(conn: Connection, before: datetime) -> int:
    """Remove every address's attempts at or before `before`; returns how many were removed.

    On PostgreSQL one transaction prunes at a time and the others skip (the next attempt prunes
    again), so two prunes never wait on each other's rows.
    """
    if conn.dialect.name == "postgresql":
        mine = conn.execute(text("SELECT pg_try_advisory_xact_lock(hashtext('poas.login:prune'))")).scalar()
        if not mine:
            return 0
    return conn.execute(delete(login_attempts).where(login_attempts.c.attempted_at <= before)).rowcount
