"""Admin password hashes, login with the signed session, CSRF on forms, API bearer tokens, throttling
shared by every web process, and the Secure flag of the session cookie."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from poas.settings import Settings, ShopConfig
from poas.store.db import make_engine
from poas.store.tables.login import login_attempts
from poas.web.app import create_app
from poas.web.auth import SESSION_COOKIE, hash_password, verify_password
from poas.web.server import run_in_thread

PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD)


def test_scrypt_hash_round_trip_and_salted() -> None:
    again = hash_password(PASSWORD)
    assert HASH.startswith("scrypt$") and again != HASH  # a fresh salt each time
    assert verify_password(PASSWORD, HASH) and verify_password(PASSWORD, again)
    assert not verify_password(PASSWORD + "x", HASH)
    assert not verify_password("", HASH)


def test_pbkdf2_hashes_are_accepted() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt, 1000)
    b64 = [base64.urlsafe_b64encode(raw).decode().rstrip("=") for raw in (salt, digest)]
    enc = f"pbkdf2_sha256$1000${b64[0]}${b64[1]}"
    assert verify_password("s3cret", enc)
    assert not verify_password("S3cret", enc)


@pytest.mark.parametrize(
    "garbage", ["", "scrypt$", "md5$abc", "scrypt$x$8$1$AAAA$BBBB", "pbkdf2_sha256$-1$A$B"]
)
def test_malformed_hashes_never_verify(garbage: str) -> None:
    assert not verify_password(PASSWORD, garbage)


def test_empty_password_cannot_be_hashed() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def _settings(**overrides: Any) -> Settings:
    return Settings(
        admin_password_hash=SecretStr(HASH),
        session_secret=SecretStr("test-secret-" + "x" * 20),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[ShopConfig(id="nordic", api_token=SecretStr("shop-token-abcdef"))],
        **overrides,
    )


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    # Login attempts are counted in the store, so the app runs on a migrated one (both engines).
    with TestClient(create_app(_settings(), engine), base_url="http://testserver") as c:
        yield c


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def test_pages_redirect_to_login_with_next(client: TestClient) -> None:
    r = client.get("/settings?x=1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fsettings%3Fx%3D1"


def test_login_needs_the_right_password_and_csrf(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    no_csrf = client.post("/login", data={"password": PASSWORD}, follow_redirects=False)
    assert no_csrf.status_code == 403
    wrong = client.post("/login", data={"password": "nope", "csrf_token": token}, follow_redirects=False)
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    ok = client.post(
        "/login",
        data={"password": PASSWORD, "csrf_token": token, "next": "/settings"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/settings"
    assert SESSION_COOKIE in client.cookies
    assert "httponly" in ok.headers["set-cookie"].lower()


def test_login_never_redirects_off_site(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    r = client.post(
        "/login",
        data={"password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_tampered_session_cookie_is_not_admin(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "eyJhZG1pbiI6IHRydWV9.forged.signature")
    assert client.get("/settings", follow_redirects=False).status_code == 303


def test_logout_needs_csrf_and_ends_the_session(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/settings"})
    page = client.get("/settings")
    assert page.status_code == 200
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    out = client.post("/logout", data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/settings", follow_redirects=False).status_code == 303


def test_settings_page_masks_tokens(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/settings"})
    html = client.get("/settings").text
    assert "shop-token-abcdef" not in html and "admin-token-123456" not in html
    assert "sh…ef (17 chars)" in html


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example"]
)
def test_login_next_cannot_leave_the_site(client: TestClient, target: str) -> None:
    token = _csrf(client.get("/login").text)
    r = client.post(
        "/login", data={"password": PASSWORD, "csrf_token": token, "next": target}, follow_redirects=False
    )
    assert r.headers["location"] == "/"


def test_api_bearer_tokens_and_session_rules(client: TestClient) -> None:
    admin = {"Authorization": "Bearer admin-token-123456"}
    # The replay endpoint needs a valid token; the store is not touched before auth answers.
    assert client.post("/api/v1/delivery/replay", json={"ids": [1]}).status_code == 401
    assert (
        client.post(
            "/api/v1/delivery/replay", json={"ids": [1]}, headers={"Authorization": "Bearer x"}
        ).status_code
        == 401
    )
    assert client.post("/api/v1/delivery/replay", json={"ids": [0]}, headers=admin).status_code == 422
    # A logged-in browser may change things through the API only with the CSRF header.
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/settings"})
    page_token = _csrf(client.get("/settings").text)
    assert client.post("/api/v1/delivery/replay", json={"ids": [0]}).status_code == 401
    assert (
        client.post(
            "/api/v1/delivery/replay", json={"ids": [0]}, headers={"X-CSRF-Token": page_token}
        ).status_code
        == 422
    )


def test_security_headers(client: TestClient) -> None:
    r = client.get("/login")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


def _attempt(c: TestClient, password: str) -> httpx.Response:
    token = _csrf(c.get("/login").text)
    return c.post("/login", data={"password": password, "csrf_token": token}, follow_redirects=False)


def test_repeated_wrong_passwords_slow_the_client_down(client: TestClient) -> None:
    for _ in range(10):
        assert _attempt(client, "guess").status_code == 401
    r = _attempt(client, PASSWORD)
    assert r.status_code == 429  # even the right password waits until the window has passed
    assert "Too many wrong passwords" in r.text
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert client.get("/settings", follow_redirects=False).status_code == 303  # not logged in


def test_a_right_password_clears_the_address(client: TestClient) -> None:
    for _ in range(9):
        assert _attempt(client, "guess").status_code == 401
    assert _attempt(client, PASSWORD).status_code == 303
    for _ in range(9):  # counting starts afresh: nine more wrong guesses are still only 401s
        assert _attempt(client, "guess").status_code == 401


def test_the_limit_is_per_client_address(engine: Engine) -> None:
    app = create_app(_settings(), engine)
    with (
        TestClient(app, client=("203.0.113.7", 50000)) as guesser,
        TestClient(app, client=("198.51.100.2", 50000)) as admin,
    ):
        for _ in range(10):
            assert _attempt(guesser, "guess").status_code == 401
        assert _attempt(guesser, PASSWORD).status_code == 429
        assert _attempt(admin, PASSWORD).status_code == 303


def test_failures_are_counted_across_web_processes(db_url: str) -> None:
    """Two app instances, each with its own engine (as two `poas web` processes), on one database."""
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        with (
            TestClient(create_app(_settings(), engines[0])) as one,
            TestClient(create_app(_settings(), engines[1])) as two,
        ):
            for _ in range(5):
                assert _attempt(one, "guess-one").status_code == 401
                assert _attempt(two, "guess-two").status_code == 401
            # Ten wrong passwords in all: each process refuses, though each saw only five.
            assert _attempt(one, PASSWORD).status_code == 429
            assert _attempt(two, PASSWORD).status_code == 429
        with engines[0].connect() as conn:
            rows = conn.execute(select(login_attempts)).all()
    finally:
        for e in engines:
            e.dispose()
    assert len(rows) == 10 and {r.client for r in rows} == {"testclient"}
    assert set(login_attempts.c.keys()) == {"id", "client", "attempted_at"}
    assert not any("guess" in str(value) for row in rows for value in row)  # no password is stored


def test_a_login_on_one_process_clears_the_address_on_all(db_url: str) -> None:
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        with (
            TestClient(create_app(_settings(), engines[0])) as one,
            TestClient(create_app(_settings(), engines[1])) as two,
        ):
            for _ in range(9):
                assert _attempt(one, "guess").status_code == 401
            assert _attempt(two, PASSWORD).status_code == 303
            for _ in range(9):
                assert _attempt(one, "guess").status_code == 401
    finally:
        for e in engines:
            e.dispose()


def _session_cookie(response: httpx.Response) -> str:
    found = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{SESSION_COOKIE}=")]
    assert len(found) == 1, response.headers
    return found[0].lower()


def _flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0] for part in cookie.split(";")[1:]}


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite store, for tests about the cookie rather than the database."""
    shutil.copy(sqlite_template, tmp_path / "poas.db")
    eng = make_engine(f"sqlite:///{tmp_path / 'poas.db'}")
    yield eng
    eng.dispose()


@pytest.mark.parametrize(
    ("setting", "scheme", "secure"),
    [
        ("auto", "http", False),  # the local demo on http://127.0.0.1 keeps working
        ("auto", "https", True),
        ("true", "https", True),
        ("false", "http", False),
        ("false", "https", False),
    ],
)
def test_session_cookie_secure_flag(sqlite_engine: Engine, setting: str, scheme: str, secure: bool) -> None:
    app = create_app(_settings(cookie_secure=setting), sqlite_engine)
    with TestClient(app, base_url=f"{scheme}://poas.example") as c:
        first = c.get("/login")  # the CSRF token starts the session
        ok = c.post(
            "/login", data={"password": PASSWORD, "csrf_token": _csrf(first.text)}, follow_redirects=False
        )
        assert ok.status_code == 303
        page = c.get("/settings")
        out = c.post("/logout", data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
        assert out.status_code == 303
    for cookie in (_session_cookie(first), _session_cookie(ok), _session_cookie(out)):
        assert {"httponly", "samesite"} <= _flags(cookie)
        assert ("secure" in _flags(cookie)) is secure, cookie


def test_cookie_secure_true_over_plain_http(sqlite_engine: Engine) -> None:
    """`true` means it: the cookie is Secure even over http, so a client never sends it back there and
    a login over plain http fails its CSRF check (the reason `auto` is the default)."""
    app = create_app(_settings(cookie_secure="true"), sqlite_engine)
    with TestClient(app, base_url="http://poas.example") as c:
        first = c.get("/login")
        assert "secure" in _flags(_session_cookie(first))
        r = c.post("/login", data={"password": PASSWORD, "csrf_token": _csrf(first.text)})
        assert r.status_code == 403


def test_cookie_secure_refuses_other_values() -> None:
    with pytest.raises(ValueError, match="cookie_secure"):
        _settings(cookie_secure="yes")


def test_auto_trusts_x_forwarded_proto_from_a_local_proxy(sqlite_engine: Engine) -> None:
    """Real uvicorn on 127.0.0.1: a proxy on the same machine is trusted by default (uvicorn's
    FORWARDED_ALLOW_IPS), and its `X-Forwarded-Proto: https` makes the cookie Secure."""
    with run_in_thread(create_app(_settings(), sqlite_engine)) as server:
        proxied = httpx.get(f"{server.url}/login", headers={"X-Forwarded-Proto": "https"})
        direct = httpx.get(f"{server.url}/login")
        plain_proxy = httpx.get(f"{server.url}/login", headers={"X-Forwarded-Proto": "http"})
    assert "secure" in _flags(_session_cookie(proxied))
    assert "secure" not in _flags(_session_cookie(direct))
    assert "secure" not in _flags(_session_cookie(plain_proxy))


def _web_access(html: str) -> dict[str, str]:
    """The settings page's "Web access" facts, label -> text."""
    block = re.search(r'<dl class="facts" id="web-access">(.*?)</dl>', html, flags=re.S)
    assert block, "the settings page has no Web access section"
    return dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block.group(1), flags=re.S))


def _logged_in_settings(client: TestClient) -> str:
    token = _csrf(client.get("/login").text)
    ok = client.post("/login", data={"password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    return client.get("/settings").text


@pytest.mark.parametrize(
    ("setting", "scheme", "rule"),
    [
        ("auto", "http", "Secure when the request came over https"),
        ("auto", "https", "X-Forwarded-Proto: https from a trusted proxy"),
        ("true", "https", "always Secure"),
        ("false", "http", "never Secure"),
    ],
)
def test_settings_page_shows_web_access_without_secrets(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, setting: str, scheme: str, rule: str
) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    settings = _settings(cookie_secure=setting, login_max_failures=4, login_window_s=600)
    with TestClient(create_app(settings, sqlite_engine), base_url=f"{scheme}://poas.example") as c:
        html = _logged_in_settings(c)
    facts = _web_access(html)
    assert facts["Session cookie"].startswith(f"cookie_secure = {setting}: ")
    assert rule in facts["Session cookie"]
    if setting == "auto":
        now = "Secure" if scheme == "https" else "not Secure"
        assert facts["Session cookie"].endswith(f"(this page came over {scheme}: {now})")
    assert facts["Login throttle"].startswith("4 wrong passwords per 10 min per client address")
    assert facts["Session secret"] == "set (POAS_SESSION_SECRET)"
    assert facts["Admin password"] == "set"
    assert facts["Trusted proxies"].startswith("127.0.0.1, ::1 (FORWARDED_ALLOW_IPS unset")
    assert settings.session_secret is not None and settings.admin_password_hash is not None
    for secret in (settings.session_secret, settings.admin_password_hash):
        assert secret.get_secret_value() not in html
    assert "test-secret-" not in html and "admin-token-123456" not in html


def test_settings_page_without_a_session_secret_and_with_every_proxy_trusted(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    settings = _settings()
    settings.session_secret = None  # each process makes its own; the page says so
    with TestClient(create_app(settings, sqlite_engine), base_url="http://poas.example") as c:
        html = _logged_in_settings(c)
    facts = _web_access(html)
    assert facts["Session secret"].startswith("not set: a random one per process")
    assert facts["Login throttle"].startswith("10 wrong passwords per 15 min")  # the defaults
    assert facts["Trusted proxies"].startswith("* (FORWARDED_ALLOW_IPS: every address")
    assert "defeats the login throttle" in facts["Trusted proxies"]
