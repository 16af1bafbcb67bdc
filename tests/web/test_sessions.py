"""Admin sessions kept in the store: logout, revocation and a new password end them for every copy of
the cookie and every web process; idle and absolute lifetimes; the id is stored only as a hash.

Every test runs on SQLite and PostgreSQL (the `engine` / `db_url` fixtures); time is driven through
`app.state.auth.clock`, never by sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from poas.settings import Settings, ShopConfig
from poas.store.db import make_engine
from poas.store.tables.login import admin_sessions
from poas.web.app import create_app
from poas.web.auth import SESSION_COOKIE, hash_password

cli_app = importlib.import_module(
    "poas.cli.app"
)  # the module (`poas.cli.app` the attribute is the Typer app)
PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD)
NEW_PASSWORD = "a brand new passphrase"
NEW_HASH = hash_password(NEW_PASSWORD)
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _settings(password_hash: str = HASH, **overrides: Any) -> Settings:
    return Settings(
        admin_password_hash=SecretStr(password_hash),
        session_secret=SecretStr("session-test-secret-" + "y" * 20),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[ShopConfig(id="nordic", api_token=SecretStr("shop-token-abcdef"))],
        **overrides,
    )


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _app(engine: Engine, clock: Clock, password_hash: str = HASH, **overrides: Any) -> FastAPI:
    app = create_app(_settings(password_hash, **overrides), engine)
    app.state.auth.clock = clock
    return app


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def _login(c: TestClient, password: str = PASSWORD) -> str:
    """Log in; returns the session cookie as the browser holds it."""
    token = _csrf(c.get("/login").text)
    ok = c.post("/login", data={"password": password, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    cookie = c.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


def _admitted(app: FastAPI, cookie: str) -> tuple[int, int]:
    """(/settings, /api/v1/orders) status codes for a fresh client holding only this cookie."""
    with TestClient(app, cookies={SESSION_COOKIE: cookie}) as other:
        page = other.get("/settings", follow_redirects=False).status_code
        api = other.get("/api/v1/orders").status_code
    return page, api


def _session_id(cookie: str) -> str:
    """The id inside starlette's signed cookie (`base64(json).timestamp.signature`)."""
    payload = cookie.split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    sid = data["sid"]
    assert isinstance(sid, str)
    return sid


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(admin_sessions)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_cookie_copied_before_logout_is_refused_after_it(engine: Engine, clock: Clock) -> None:
    app = _app(engine, clock)
    with TestClient(app) as c:
        copied = _login(c)
        assert _admitted(app, copied) == (200, 200)  # the copy works while the session lives
        page = c.get("/settings")
        out = c.post("/logout", data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
        assert out.status_code == 303
    page_status, api_status = _admitted(app, copied)
    assert page_status == 303  # back to the login page
    assert api_status == 401
    assert _rows(engine) == []


def test_a_logout_on_one_process_ends_the_session_on_all(db_url: str, clock: Clock) -> None:
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        one, two = _app(engines[0], clock), _app(engines[1], clock)
        with TestClient(one) as c:
            cookie = _login(c)
        assert _admitted(two, cookie) == (200, 200)
        with TestClient(two, cookies={SESSION_COOKIE: cookie}) as c:
            page = c.get("/settings")
            assert c.post("/logout", data={"csrf_token": _csrf(page.text)}).status_code == 200
        assert _admitted(one, cookie) == (303, 401)
    finally:
        for e in engines:
            e.dispose()


def test_a_session_ends_after_the_idle_lifetime(engine: Engine, clock: Clock) -> None:
    app = _app(engine, clock, session_idle_s=600, session_max_s=86400)
    with TestClient(app) as c:
        cookie = _login(c)
    for _ in range(4):  # used every 590 s: never idle for 600 s, so it lives past 2000 s
        clock.advance(590)
        assert _admitted(app, cookie) == (200, 200)
    clock.advance(601)
    assert _admitted(app, cookie) == (303, 401)
    assert _rows(engine) == []  # a refused session is removed


def test_a_session_ends_after_the_absolute_lifetime_however_busy(engine: Engine, clock: Clock) -> None:
    app = _app(engine, clock, session_idle_s=600, session_max_s=1800)
    with TestClient(app) as c:
        cookie = _login(c)
    for _ in range(3):
        clock.advance(500)
        assert _admitted(app, cookie) == (200, 200)
    clock.advance(301)  # 1801 s after the login, 301 s after its last use
    assert _admitted(app, cookie) == (303, 401)


def test_the_lifetimes_are_validated_like_other_durations() -> None:
    with pytest.raises(ValueError, match="POAS_SESSION_IDLE_S must be seconds above 0"):
        _settings(session_idle_s=0)
    with pytest.raises(ValueError, match="POAS_SESSION_MAX_S must be seconds above 0 and at most"):
        _settings(session_max_s=400 * 86400)
    defaults = Settings()
    assert (defaults.session_idle_s, defaults.session_max_s) == (8 * 3600, 7 * 86400)


def test_a_new_admin_password_ends_the_sessions_of_the_old_one(engine: Engine, clock: Clock) -> None:
    """POAS_ADMIN_PASSWORD_HASH changed and the web restarted (a new app on the same store)."""
    before = _app(engine, clock)
    with TestClient(before) as c:
        cookie = _login(c)
    after = _app(engine, clock, password_hash=NEW_HASH)
    assert _admitted(after, cookie) == (303, 401)
    assert _rows(engine) == []
    with TestClient(after) as c:
        fresh = _login(c, NEW_PASSWORD)
    assert _admitted(after, fresh) == (200, 200)


def test_the_session_id_is_stored_only_as_its_hash(engine: Engine, clock: Clock) -> None:
    app = _app(engine, clock)
    with TestClient(app) as c:
        cookie = _login(c)
    sid = _session_id(cookie)
    assert len(base64.urlsafe_b64decode(sid + "=" * (-len(sid) % 4))) * 8 >= 128
    rows = _rows(engine)
    assert len(rows) == 1
    stored = " ".join(str(value) for row in rows for value in row)
    assert sid not in stored and cookie not in stored
    assert rows[0].id_hash == hashlib.sha256(sid.encode()).hexdigest()
    assert HASH not in stored  # the password hash only as a fingerprint


def test_logging_in_again_replaces_the_old_session(engine: Engine, clock: Clock) -> None:
    app = _app(engine, clock)
    with TestClient(app) as c:
        first = _login(c)
        second = _login(c)
    assert _admitted(app, first) == (303, 401)
    assert _admitted(app, second) == (200, 200)
    assert len(_rows(engine)) == 1


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POAS_ADMIN_PASSWORD_HASH", HASH)
    monkeypatch.setenv("COLUMNS", "200")
    cli_app.settings.cache_clear()
    cli_app.store.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli_app.app, list(args), catch_exceptions=False)

    yield run
    if cli_app.store.cache_info().currsize:
        cli_app.store().dispose()
    cli_app.store.cache_clear()
    cli_app.settings.cache_clear()


def _three_sessions(db_url: str) -> tuple[Engine, FastAPI, list[str]]:
    engine = make_engine(db_url)
    app = create_app(_settings(), engine)
    cookies = []
    for _ in range(3):
        with TestClient(app) as c:
            cookies.append(_login(c))
    return engine, app, cookies


def test_sessions_list_shows_handles_never_ids(cli: Any, db_url: str) -> None:
    engine, _, cookies = _three_sessions(db_url)
    try:
        result = cli("admin", "sessions", "list")
        assert result.exit_code == 0, result.output
        for row in _rows(engine):
            assert row.id_hash[:12] in result.stdout
            assert row.id_hash not in result.stdout  # only the start of the hash
        for cookie in cookies:
            assert _session_id(cookie) not in result.stdout
        assert result.stdout.count("active") == 3
        as_json = json.loads(cli("admin", "sessions", "list", "--json").stdout)
        assert [s["state"] for s in as_json] == ["active"] * 3
        assert {"handle", "created_at", "last_seen_at", "expires_at", "state"} == set(as_json[0])
    finally:
        engine.dispose()


def test_sessions_revoke_one_by_prefix_then_all(cli: Any, db_url: str) -> None:
    engine, app, cookies = _three_sessions(db_url)
    try:
        target = hashlib.sha256(_session_id(cookies[0]).encode()).hexdigest()
        bad = cli("admin", "sessions", "revoke", "ab")
        assert bad.exit_code == 1 and "at least 4 hex characters" in bad.output
        nothing = cli("admin", "sessions", "revoke")
        assert nothing.exit_code == 2 and "--all" in nothing.output
        one = cli("admin", "sessions", "revoke", target[:8])
        assert one.exit_code == 0, one.output
        assert "revoked 1 session" in one.stdout
        assert _admitted(app, cookies[0]) == (303, 401)
        assert _admitted(app, cookies[1]) == (200, 200)
        gone = cli("admin", "sessions", "revoke", target[:8])
        assert gone.exit_code == 1 and "no session" in gone.output
        every = cli("admin", "sessions", "revoke", "--all")
        assert every.exit_code == 0 and "revoked 2 sessions" in every.stdout
        assert [_admitted(app, c) for c in cookies] == [(303, 401)] * 3
        assert _rows(engine) == []
    finally:
        engine.dispose()


def test_a_session_check_never_waits_for_a_writer(engine: Engine, clock: Clock) -> None:
    """The last use is noted only when the write lock is free: a page beside a long write answers at
    once (SQLite) and the use is noted by the next request after the writer is gone."""
    app = _app(engine, clock)
    with TestClient(app) as c:
        cookie = _login(c)
    clock.advance(120)  # past the touch interval: this request would like to write
    with engine.connect() as writer:
        writer.begin()  # an explicit begin is a write (SQLite: BEGIN IMMEDIATE, the write lock)
        writer.execute(
            admin_sessions.insert().values(id_hash="f" * 64, password_fp="x", created_at=T0, last_seen_at=T0)
        )
        started = time.monotonic()
        assert _admitted(app, cookie) == (200, 200)
        assert time.monotonic() - started < 3
        writer.rollback()
    [row] = _rows(engine)
    if engine.dialect.name == "sqlite":
        assert row.last_seen_at == T0  # gave way to the writer
    assert _admitted(app, cookie) == (200, 200)
    assert _rows(engine)[0].last_seen_at == T0 + timedelta(seconds=120)
