"""Admin sessions kept in the store, so every web process sees a logout, a revocation or a new password.

Rules (docs/contracts.md, "Admin sessions"):
- A login makes a session id of 32 random bytes; the cookie carries it, the store keeps only its
  SHA-256 (`admin_sessions.id_hash`) and a fingerprint of the admin password hash it logged in with.
- A session is accepted while its row exists, its fingerprint matches the password hash this process
  is configured with, it was used within the idle lifetime (`POAS_SESSION_IDLE_S`) and it is younger
  than the absolute lifetime (`POAS_SESSION_MAX_S`). A refused row is removed.
- Logout removes the row; `poas admin sessions revoke` removes one (by the prefix of its handle) or all.
- The last use is written at most every `touch_every` (a minute, or a tenth of the idle lifetime when
  that is shorter), so reading pages does not write on every request, and only when SQLite's write
  lock is free within 0.1 s (a request never waits behind a long write; the next one notes the use).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from poas.settings import Settings
from poas.store import admin_sessions as store
from poas.store.db import write_if_free

HANDLE_CHARS = 12
MIN_PREFIX_CHARS = 4
TOUCH_WAIT_S = 0.1  # how long a request waits for SQLite's write lock to note a session's use


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(hours=8)
    max_age: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if self.idle <= timedelta(0) or self.max_age <= timedelta(0):
            raise ValueError(
                f"session policy: lifetimes must be positive, got {self.idle} and {self.max_age}"
            )

    @property
    def touch_every(self) -> timedelta:
        return min(timedelta(minutes=1), self.idle / 10)


def configured_session_policy(settings: Settings) -> SessionPolicy:
    """The lifetimes `POAS_SESSION_IDLE_S` and `POAS_SESSION_MAX_S` set."""
    return SessionPolicy(
        timedelta(seconds=settings.session_idle_s), timedelta(seconds=settings.session_max_s)
    )


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def password_fingerprint(password_hash: str) -> str:
    """Names the admin password hash a session logged in with, without storing that hash."""
    return hashlib.sha256(b"poas.admin-session.password:" + password_hash.strip().encode()).hexdigest()


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"admin session: naive timestamp {now.isoformat()} (need a timezone, e.g. UTC)")
    return now


def _expired(created_at: datetime, last_seen_at: datetime, now: datetime, policy: SessionPolicy) -> bool:
    return now - last_seen_at > policy.idle or now - created_at > policy.max_age


def start_session(engine: Engine, password_hash: str, *, now: datetime, policy: SessionPolicy) -> str:
    """A new session for a right password; returns its id (for the cookie only). Expired rows go."""
    now = _aware(now)
    session_id = secrets.token_urlsafe(32)  # 256 random bits
    with engine.begin() as conn:
        store.prune(conn, idle_before=now - policy.idle, created_before=now - policy.max_age)
        store.add(conn, id_hash(session_id), password_fingerprint(password_hash), now)
    return session_id


def check_session(
    engine: Engine, session_id: str, password_hash: str | None, *, now: datetime, policy: SessionPolicy
) -> bool:
    """Whether the session is still good (see the module rules); refreshes its last use."""
    now = _aware(now)
    key = id_hash(session_id)
    with engine.connect() as conn:
        row = store.get(conn, key)
    if row is None:
        return False
    good = (
        password_hash is not None
        and secrets.compare_digest(row.password_fp, password_fingerprint(password_hash))
        and not _expired(row.created_at, row.last_seen_at, now, policy)
    )
    if not good or now - row.last_seen_at >= policy.touch_every:
        # A page read never waits for the writer: when the write lock is busy, the refused row
        # stays for the next request (or the next login's prune) and the last use is moved later.
        with write_if_free(engine, TOUCH_WAIT_S) as conn:
            if conn is not None:
                if good:
                    store.touch(conn, key, now)
                else:
                    store.remove(conn, [key])
    return good


def end_session(engine: Engine, session_id: str) -> bool:
    """Logout: the session is gone for every process; False when it was gone already."""
    with engine.begin() as conn:
        return store.remove(conn, [id_hash(session_id)]) > 0


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What `poas admin sessions list` shows: a handle (the start of the stored hash), never the id."""

    handle: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    state: str  # active | expired | other password


def list_sessions(
    engine: Engine, password_hash: str | None, *, now: datetime, policy: SessionPolicy
) -> list[SessionInfo]:
    now = _aware(now)
    fp = password_fingerprint(password_hash) if password_hash else None
    with engine.connect() as conn:
        rows = store.all_sessions(conn)
    found = []
    for row in rows:
        if row.password_fp != fp:
            state = "other password"
        elif _expired(row.created_at, row.last_seen_at, now, policy):
            state = "expired"
        else:
            state = "active"
        expires = min(row.last_seen_at + policy.idle, row.created_at + policy.max_age)
        found.append(
            SessionInfo(row.id_hash[:HANDLE_CHARS], row.created_at, row.last_seen_at, expires, state)
        )
    return found


class SessionPrefixError(ValueError):
    pass


def revoke_sessions(engine: Engine, prefix: str | None) -> int:
    """Remove every session (`prefix` None) or the one whose handle starts with `prefix`.

    A prefix must be at least 4 hex characters and name exactly one session; otherwise nothing is
    removed and `SessionPrefixError` says why.
    """
    with engine.begin() as conn:
        if prefix is None:
            return store.remove_all(conn)
        cleaned = prefix.strip().lower()
        if len(cleaned) < MIN_PREFIX_CHARS or any(c not in "0123456789abcdef" for c in cleaned):
            raise SessionPrefixError(
                f"a session handle prefix is at least {MIN_PREFIX_CHARS} hex characters"
                " (see poas admin sessions list)"
            )
        matches = [row.id_hash for row in store.all_sessions(conn) if row.id_hash.startswith(cleaned)]
        if not matches:
            raise SessionPrefixError(f"no session's handle starts with {cleaned!r}")
        if len(matches) > 1:
            raise SessionPrefixError(
                f"{len(matches)} sessions' handles start with {cleaned!r}: give more of it"
            )
        return store.remove(conn, matches)
