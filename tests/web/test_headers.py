"""Response headers (CSP on every page, no-store on everything but /static) and the API docs behind login."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.settings import Settings, ShopConfig
from poas.web.app import create_app
from poas.web.auth import hash_password

PASSWORD = "correct horse battery staple"
ADMIN = {"Authorization": "Bearer admin-token-123456"}
SHOP = {"Authorization": "Bearer shop-token-abcdef"}
PAGES = ["/", "/campaigns", "/products", "/orders", "/delivery", "/costs", "/settings", "/docs", "/redoc"]
API = ["/api/v1/orders", "/api/v1/delivery", "/api/v1/openapi.json"]


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("header-test-secret-" + "z" * 20),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[ShopConfig(id="nordic", api_token=SecretStr("shop-token-abcdef"))],
    )
    with TestClient(create_app(settings, engine)) as c:
        yield c


def _login(c: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert token
    ok = c.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1)}, follow_redirects=False)
    assert ok.status_code == 303


def _csp(header: str) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2] for d in header.split(";") if d.strip()}


def test_every_dashboard_page_and_api_answer_has_the_csp_and_no_store(client: TestClient) -> None:
    _login(client)
    for path in PAGES + API:
        r = client.get(path)
        assert r.status_code == 200, path
        csp = _csp(r.headers["content-security-policy"])
        assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'", path
        if path == "/redoc":  # ReDoc's run-time <style> elements: a nonce fresh for each page
            assert re.match(r"'self' 'nonce-[\w-]{24}' 'sha256-", csp["style-src"]), csp["style-src"]
            assert csp["worker-src"] == "'self' blob:"
            nonce = csp["style-src"].split("'nonce-")[1].split("'")[0]
            assert f'data-style-nonce="{nonce}"' in r.text
        else:
            assert csp["style-src"] == "'self'", path
        assert csp["frame-ancestors"] == "'none'", path
        assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'", path
        assert "unsafe" not in r.headers["content-security-policy"], path
        assert path == "/redoc" or "worker-src" not in csp, path
        assert r.headers["cache-control"] == "no-store", path


def test_the_login_page_has_the_csp_and_static_files_stay_cacheable(client: TestClient) -> None:
    login = client.get("/login")
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    assert login.headers["cache-control"] == "no-store"
    static = client.get("/static/poas.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_api_docs_need_a_login(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next=%2F{path[1:]}"
        assert client.get(path, headers=ADMIN, follow_redirects=False).status_code == 303  # a browser page
    assert client.get("/api/v1/openapi.json").status_code == 401
    assert client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer nope"}).status_code == 401
    for token in (ADMIN, SHOP):  # any caller the API answers may read the document describing it
        doc = client.get("/api/v1/openapi.json", headers=token)
        assert doc.status_code == 200 and "/api/v1/orders" in doc.json()["paths"]
    assert client.get("/openapi.json").status_code == 404  # FastAPI's default address is not served


def test_api_docs_load_their_scripts_from_this_site_only(client: TestClient) -> None:
    _login(client)
    for path, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(path).text
        sources = re.findall(r'<script src="([^"]+)"', html)
        assert any(s.endswith(f"/static/vendor/{script}") for s in sources), (path, sources)
        assert all(s.startswith(("/static/", "http://testserver/static/")) for s in sources), sources
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {path}"
        assert "cdn" not in html.lower()
        for src in sources:
            assert client.get(src).status_code == 200, src
