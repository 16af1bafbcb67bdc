"""Login throttling shared by every web process, kept in the store.

Rule: a client address may make at most `limit` unsuccessful login attempts within `window`; after
that it is refused until the oldest of them has left the window. A successful login clears the
address. Only the address is stored (an IPv6 client as its /64), never a password or a user name.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from poas.settings import Settings
from poas.store import login_attempts as store

UNKNOWN_CLIENT = "unknown"
_KEY_CHARS = 64


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """The limit and window; the running app's come from `POAS_LOGIN_MAX_FAILURES` and
    `POAS_LOGIN_WINDOW_S`."""

    limit: int = 10
    window: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"login policy: limit must be at least 1, got {self.limit}")
        if self.window <= timedelta(0):
            raise ValueError(f"login policy: window must be positive, got {self.window}")

    def describe(self) -> str:
        """`10 wrong passwords per 15 min per client address`, for the settings page and `poas doctor`."""
        noun = "wrong password" if self.limit == 1 else "wrong passwords"
        return f"{self.limit} {noun} per {duration_text(self.window)} per client address"


def configured_policy(settings: Settings) -> LoginPolicy:
    """The policy `POAS_LOGIN_MAX_FAILURES` and `POAS_LOGIN_WINDOW_S` set."""
    return LoginPolicy(settings.login_max_failures, timedelta(seconds=settings.login_window_s))


def duration_text(span: timedelta) -> str:
    """`90 s`, `15 min`, `2 h`, `1 d`: the largest unit the span is a whole number of."""
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:.10g} s"


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    client: str  # the throttling key (see `client_key`)
    allowed: bool
    retry_after: timedelta  # how long a refused address waits; zero when allowed


def client_key(host: str | None) -> str:
    """The throttling key of a client address.

    IPv4 as it is; IPv6 as its /64 network, since one subscriber usually holds a whole /64 and could
    otherwise change address for every guess; anything else (no address, a test client's name) as
    given, cut to 64 characters.
    """
    if not host:
        return UNKNOWN_CLIENT
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:_KEY_CHARS]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def start_attempt(
    engine: Engine, host: str | None, *, now: datetime, policy: LoginPolicy | None = None
) -> LoginAttempt:
    """Count a login attempt before its password is checked, or refuse it when the address is over
    the limit.

    The attempt is recorded first and stays counted as a failure unless `login_succeeded` clears the
    address: parallel guesses cannot all pass the check while the (deliberately slow) password hash
    runs, and a process that dies mid-check still counts the guess. Refused attempts are not
    recorded, so hammering a refused address does not extend its wait.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"login attempt: naive timestamp {now.isoformat()} (need a timezone, e.g. UTC)")
    policy = policy or LoginPolicy()
    key = client_key(host)
    since = now - policy.window
    with engine.begin() as conn:
        store.lock_client(conn, key)
        store.prune(conn, since)
        recent = store.attempts_since(conn, key, since)
        if len(recent) >= policy.limit:
            free_at = recent[len(recent) - policy.limit] + policy.window
            return LoginAttempt(key, allowed=False, retry_after=max(free_at - now, timedelta(0)))
        store.record(conn, key, now)
    return LoginAttempt(key, allowed=True, retry_after=timedelta(0))


def login_succeeded(engine: Engine, attempt: LoginAttempt) -> None:
    """The password was right: the address starts afresh."""
    with engine.begin() as conn:
        store.lock_client(conn, attempt.client)
        store.clear(conn, attempt.client)
