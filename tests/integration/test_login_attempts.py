"""Login throttling in the store: the window, the wait, clearing, pruning, address keys, races, and the
limit and window the settings configure, through the login form."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from poas.services.login_attempts import (
    LoginAttempt,
    LoginPolicy,
    client_key,
    configured_policy,
    login_succeeded,
    start_attempt,
)
from poas.settings import Settings
from poas.store.tables.login import login_attempts
from poas.web.app import create_app
from poas.web.auth import hash_password

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = LoginPolicy(limit=2, window=timedelta(seconds=60))


def _rows(engine: Engine, client: str | None = None) -> int:
    query = select(func.count()).select_from(login_attempts)
    if client is not None:
        query = query.where(login_attempts.c.client == client)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _at(engine: Engine, host: str, seconds: float) -> LoginAttempt:
    return start_attempt(engine, host, now=T0 + timedelta(seconds=seconds), policy=POLICY)


def test_the_window_and_the_wait(engine: Engine) -> None:
    assert _at(engine, "192.0.2.1", 0).allowed
    assert _at(engine, "192.0.2.1", 10).allowed
    refused = _at(engine, "192.0.2.1", 20)
    assert not refused.allowed and refused.retry_after == timedelta(seconds=40)
    assert _at(engine, "192.0.2.9", 20).allowed  # another address has its own count
    late = _at(engine, "192.0.2.1", 59.5)
    assert not late.allowed and late.retry_after == timedelta(seconds=0.5)
    assert _rows(engine, "192.0.2.1") == 2  # refused attempts are not recorded: no longer wait
    # At 60 s the first attempt has left the window: one more try, then the second one holds it.
    assert _at(engine, "192.0.2.1", 60).allowed
    again = _at(engine, "192.0.2.1", 61)
    assert not again.allowed and again.retry_after == timedelta(seconds=9)


def test_a_success_clears_only_its_own_address(engine: Engine) -> None:
    first = _at(engine, "192.0.2.1", 0)
    _at(engine, "192.0.2.2", 0)
    _at(engine, "192.0.2.2", 1)
    login_succeeded(engine, first)
    assert _rows(engine, "192.0.2.1") == 0 and _rows(engine, "192.0.2.2") == 2
    assert not _at(engine, "192.0.2.2", 2).allowed


def test_old_attempts_of_every_address_are_pruned(engine: Engine) -> None:
    for i in range(5):
        _at(engine, f"192.0.2.{i}", 0)
    assert _rows(engine) == 5
    assert _at(engine, "198.51.100.1", 60).allowed  # any attempt prunes what left the window
    assert _rows(engine) == 1


def test_parallel_attempts_never_exceed_the_limit(engine: Engine) -> None:
    """Many guesses at once (threads with their own connections, as several processes would be):
    exactly `limit` of them get to check a password."""
    policy = LoginPolicy(limit=5, window=timedelta(minutes=15))
    start = threading.Barrier(12)

    def guess(_: int) -> bool:
        start.wait()
        return start_attempt(engine, "203.0.113.5", now=T0, policy=policy).allowed

    with ThreadPoolExecutor(12) as pool:
        allowed = list(pool.map(guess, range(12)))
    assert allowed.count(True) == 5
    assert _rows(engine, "203.0.113.5") == 5


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:eeee:dddd:cccc", "2001:db8:1:2::/64"),  # same /64: same count
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.10", "192.0.2.10"),  # IPv4 seen through an IPv6 socket
        ("testclient", "testclient"),
        (None, "unknown"),
        ("x" * 300, "x" * 64),
    ],
)
def test_client_keys(host: str | None, key: str) -> None:
    assert client_key(host) == key


def test_one_ipv6_subscriber_cannot_rotate_addresses(engine: Engine) -> None:
    assert _at(engine, "2001:db8:1:2::1", 0).allowed
    assert _at(engine, "2001:db8:1:2::2", 1).allowed
    assert not _at(engine, "2001:db8:1:2::3", 2).allowed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"limit": 0}, "limit must be at least 1"), ({"window": timedelta(0)}, "window must be positive")],
)
def test_policy_refuses_nonsense(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoginPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_naive_time_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive timestamp"):
        start_attempt(engine, "192.0.2.1", now=datetime(2025, 3, 1, 12, 0), policy=POLICY)


PASSWORD = "correct horse battery staple"


def _login(client: TestClient, password: str) -> httpx.Response:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match, "the login page has no CSRF field"
    data = {"password": password, "csrf_token": match.group(1)}
    return client.post("/login", data=data, follow_redirects=False)


def test_the_login_form_honours_the_configured_limit_and_window(engine: Engine) -> None:
    """POAS_LOGIN_MAX_FAILURES=3, POAS_LOGIN_WINDOW_S=120: the fourth try is refused, even with the
    right password, for at most two minutes (the default would allow ten tries in fifteen)."""
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("throttle-test-secret-0123456789"),
        login_max_failures=3,
        login_window_s=120,
    )
    with TestClient(create_app(settings, engine), base_url="http://testserver") as client:
        for _ in range(3):
            assert _login(client, "guess").status_code == 401
        refused = _login(client, PASSWORD)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 120
        assert "Too many wrong passwords" in refused.text
    assert _rows(engine, "testclient") == 3  # the refused try was not recorded


def test_the_configured_window_frees_the_address(engine: Engine) -> None:
    policy = configured_policy(Settings(login_max_failures=3, login_window_s=120))
    for second in (0, 1, 2):
        assert start_attempt(engine, "192.0.2.7", now=T0 + timedelta(seconds=second), policy=policy).allowed
    refused = start_attempt(engine, "192.0.2.7", now=T0 + timedelta(seconds=3), policy=policy)
    assert not refused.allowed and refused.retry_after == timedelta(seconds=117)
    assert not start_attempt(engine, "192.0.2.7", now=T0 + timedelta(seconds=119), policy=policy).allowed
    assert start_attempt(engine, "192.0.2.7", now=T0 + timedelta(seconds=120), policy=policy).allowed
