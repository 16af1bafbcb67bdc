"""Every dashboard page and the API docs under the Content-Security-Policy in a real browser: nothing
refused, nothing fetched from another site, and the vendored Swagger UI and ReDoc actually render."""

from __future__ import annotations

from typing import Any

import pytest
from browser_kit import DESKTOP, LiveApp, login, seed_delivery, seed_order, utcnow

pytestmark = pytest.mark.browser
PAGES = [
    "/",
    "/campaigns",
    "/products",
    "/orders",
    "/orders/nordic/5001",
    "/delivery",
    "/costs",
    "/settings",
]
# ReDoc's sidebar always asks for Redocly's logo from their CDN: the policy refuses it (ReDoc then
# leaves it out), which is the point. Any other refusal is a fault.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_no_page_breaks_the_csp_or_leaves_the_site(browser: Any, live_app: LiveApp) -> None:
    now = utcnow()
    seed_order(live_app.engine, live_app.settings.shops[0], now)
    seed_delivery(live_app.engine, now)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    messages: list[str] = []
    errors: list[str] = []
    answered_elsewhere: list[str] = []
    page.on("console", lambda msg: messages.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    own = (live_app.url, f"blob:{live_app.url}", "data:")
    page.on("response", lambda r: None if r.url.startswith(own) else answered_elsewhere.append(r.url))
    login(page, live_app.url, "/settings")
    for path in PAGES:
        page.goto(f"{live_app.url}{path}", wait_until="networkidle")
        assert page.locator("#main").count() == 1, path
    page.goto(f"{live_app.url}/", wait_until="networkidle")
    assert page.locator("canvas").count() >= 1  # Chart.js drew under script-src 'self'
    page.goto(f"{live_app.url}/docs", wait_until="networkidle")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "poas" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 3  # the operations of the fetched document
    page.goto(f"{live_app.url}/redoc", wait_until="networkidle")
    page.locator("#redoc h1").first.wait_for()
    assert "poas" in page.locator("#redoc h1").first.inner_text()
    assert page.locator("#redoc [role=menuitem]").count() > 3  # ReDoc's menu of operations
    context.close()
    refused_logo = [m for m in messages if REDOCLY_LOGO in m and "Content Security Policy" in m]
    assert len(refused_logo) == 1, messages
    other = [m for m in messages if m not in refused_logo]
    assert not other and not errors, (other, errors)
    assert not answered_elsewhere, answered_elsewhere
