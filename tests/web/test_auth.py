"""Admin password hashes, login with the signed session, CSRF on forms, API bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine

from poas.settings import Settings, ShopConfig
from poas.web.app import create_app
from poas.web.auth import SESSION_COOKIE, LoginFailures, hash_password, verify_password

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


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(
        admin_password_hash=SecretStr(HASH),
        session_secret=SecretStr("test-secret-" + "x" * 20),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[ShopConfig(id="nordic", api_token=SecretStr("shop-token-abcdef"))],
    )
    # Login and the API guard never touch the store; an unmigrated in-memory engine is enough here.
    app = create_app(settings, create_engine("sqlite://"))
    with TestClient(app, base_url="http://testserver") as c:
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


def test_repeated_wrong_passwords_slow_the_client_down(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    for _ in range(10):
        r = client.post("/login", data={"password": "guess", "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 401
    r = client.post("/login", data={"password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 429  # even the right password waits until the window has passed
    assert "Too many wrong passwords" in r.text


def test_login_failures_window() -> None:
    failures = LoginFailures(limit=2, window_s=60)
    failures.add("1.2.3.4", 0)
    failures.add("1.2.3.4", 10)
    assert failures.blocked("1.2.3.4", 20) and not failures.blocked("5.6.7.8", 20)
    assert not failures.blocked("1.2.3.4", 65)  # the first failure left the window
    failures.clear("1.2.3.4")
    assert "1.2.3.4" not in failures.seen
