"""Browser harness: Debian chromium through Playwright, the app under real uvicorn on a free port.

Playwright never downloads a browser here: it drives `/usr/bin/chromium` (POAS_CHROMIUM overrides).
Without chromium the browser tests skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_kit import DESKTOP, PASSWORD, PHONE, LiveApp, login
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.settings import Settings, ShopConfig
from poas.store.db import make_engine
from poas.web.app import create_app
from poas.web.auth import hash_password
from poas.web.server import ServerThread

CHROMIUM = Path(os.environ.get("POAS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
_HASH = hash_password(PASSWORD)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"chromium not found at {CHROMIUM} (apt-get install -y chromium, or set POAS_CHROMIUM)"
        if IN_CI:
            pytest.fail(f"browser tests are required under CI=true: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def web_settings(home: Path) -> Settings:
    return Settings(
        home=home,
        admin_password_hash=SecretStr(_HASH),
        session_secret=SecretStr("browser-session-secret-0123456789"),
        admin_api_token=SecretStr("browser-admin-token"),
        shops=[
            ShopConfig(
                id="nordic",
                platform="shopify",
                domain="nordic.example",
                currency="NOK",
                pixel_id="1234567890",
                access_token=SecretStr("EAAB-secret-access-token-xyz"),
                api_token=SecretStr("nordic-api-token-0001"),
            )
        ],
    )


@pytest.fixture
def store_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite store for a browser test (the browser tests need no second engine)."""
    path = tmp_path / "poas.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def live_app(store_engine: Engine, tmp_path: Path) -> Iterator[LiveApp]:
    settings = web_settings(tmp_path)
    server = ServerThread(create_app(settings, store_engine))
    server.start()
    try:
        yield LiveApp(server.url, store_engine, settings)
    finally:
        server.stop()


@pytest.fixture
def desktop(browser: Any, live_app: LiveApp) -> Iterator[Any]:
    """A logged-in 1280×800 page; console errors fail the test."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    login(page, live_app.url, "/settings")
    yield page
    context.close()
    assert not errors, f"browser errors: {errors}"


@dataclass
class DemoApp:
    url: str
    password: str
    engine: Engine


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApp]:
    """A store seeded the real way: the demo shop's webhooks, costs, rules, delivery and spend."""
    from poas.cli.demo_run import Demo, DemoOptions

    home = tmp_path_factory.mktemp("demo")  # no older history: these pages are tested on the window
    with Demo(DemoOptions(home=home, days=14, orders_per_day=12, history_days=0)) as demo:
        # The demo runs its own asyncio loop; Playwright's sync API already has one in this thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(demo.run).result()
        assert demo.admin_password is not None
        yield DemoApp(demo.web.url, demo.admin_password, demo.engine)


def _page(browser: Any, app: DemoApp, viewport: dict[str, int]) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{app.url}/login")
    page.fill("#password", app.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{app.url}/")
    yield page
    context.close()
    assert not errors, f"browser errors: {errors}"


@pytest.fixture
def demo_desktop(browser: Any, demo_app: DemoApp) -> Iterator[Any]:
    yield from _page(browser, demo_app, DESKTOP)


@pytest.fixture
def demo_phone(browser: Any, demo_app: DemoApp) -> Iterator[Any]:
    yield from _page(browser, demo_app, PHONE)
