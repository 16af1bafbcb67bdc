"""Readers never wait for writers: while another connection holds an uncommitted write (on SQLite the
one write lock), the store's read path, /healthz, the order API, a dashboard page and `poas report`
answer at once, from what was committed (both engines)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from read_beside_writer import READ_LIMIT_S, shopify_order, store_order, write_held
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from poas.cli import app as cli_app
from poas.cli.app import settings, store
from poas.services.report import STALE_NOTE, build_report
from poas.services.views import reports as report_views
from poas.services.views.reports import report_view
from poas.settings import Settings, ShopConfig
from poas.store.tables.foundation import orders
from poas.web.app import create_app
from poas.web.auth import hash_password

PASSWORD = "readers-never-wait-1"
ADMIN = {"Authorization": "Bearer admin-token-123456"}
SHOP = ShopConfig(id="nordic", currency="NOK", pixel_id="111", api_token=SecretStr("nordic-token-0001"))


def _settings() -> Settings:
    return Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("read-beside-writer-secret-0123456789"),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[SHOP],
    )


T = TypeVar("T")


def _timed(read: Callable[[], T]) -> T:
    started = time.monotonic()
    result = read()
    elapsed = time.monotonic() - started
    assert elapsed < READ_LIMIT_S, f"the read waited {elapsed:.1f} s for the writer"
    return result


@pytest.fixture
def seeded(engine: Engine) -> str:
    now = datetime.now(UTC)
    created = (now - timedelta(hours=2)).isoformat()
    return store_order(engine, SHOP, shopify_order(5830120800777, created), now)


def test_store_read_beside_a_writer_sees_the_committed_order(engine: Engine, seeded: str) -> None:
    def read() -> str:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    select(orders.c.name).where(orders.c.shop_id == SHOP.id, orders.c.order_id == seeded)
                ).scalar_one()
            )

    with write_held(engine, SHOP.id):
        assert _timed(read) == f"#{seeded}"  # the committed name, not the held one


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), engine), base_url="http://testserver") as c:
        yield c


def test_healthz_and_the_order_api_beside_a_writer(client: TestClient, engine: Engine, seeded: str) -> None:
    with write_held(engine, SHOP.id):
        health = _timed(lambda: client.get("/healthz"))
        assert health.status_code == 200 and health.json()["database"] == "ok"
        detail = _timed(lambda: client.get(f"/api/v1/orders/{SHOP.id}/{seeded}", headers=ADMIN))
        assert detail.status_code == 200 and detail.json()["name"] == f"#{seeded}"
        listed = _timed(lambda: client.get("/api/v1/orders", headers=ADMIN))
        assert listed.status_code == 200 and listed.json()["total"] == 1
        report = _timed(lambda: client.get("/api/v1/report?by=day", headers=ADMIN))
        assert report.status_code == 200
        if engine.dialect.name == "sqlite":  # the refresh is a write: it gave way and says so
            assert STALE_NOTE in report.json()["notes"]
    # The writer is gone: the next report refreshes (a skipped refresh is not throttled) and counts it.
    after = client.get("/api/v1/report?by=day", headers=ADMIN).json()
    assert STALE_NOTE not in after["notes"] and after["total"]["orders"] == 1


def _login(client: TestClient) -> None:
    page = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "login page has no CSRF field"
    r = client.post(
        "/login", data={"password": PASSWORD, "csrf_token": match.group(1)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def test_dashboard_pages_beside_a_writer(client: TestClient, engine: Engine, seeded: str) -> None:
    _login(client)  # the login is a write: done before the writer takes the store
    with write_held(engine, SHOP.id):
        for path in ("/", "/campaigns", "/products", f"/orders/{SHOP.id}/{seeded}"):
            page = _timed(lambda path=path: client.get(path))
            assert page.status_code == 200, (path, page.text[:300])
            assert "/login" not in str(page.url)


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = tmp_path / "poas.toml"
    config.write_text('[[shops]]\nid = "nordic"\ncurrency = "NOK"\n')
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    settings.cache_clear()
    store.cache_clear()
    yield config
    store().dispose()
    settings.cache_clear()
    store.cache_clear()


def test_poas_report_beside_a_writer(configured: Path) -> None:
    engine = store()
    now = datetime.now(UTC)
    store_order(engine, SHOP, shopify_order(5830120800777, (now - timedelta(hours=2)).isoformat()), now)
    with write_held(engine, SHOP.id):
        res = _timed(lambda: CliRunner().invoke(cli_app, ["report", "--by", "day", "--format", "json"]))
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    if engine.dialect.name == "sqlite":
        assert STALE_NOTE in out["notes"]
    again = CliRunner().invoke(cli_app, ["report", "--by", "day", "--format", "json"])
    assert again.exit_code == 0 and json.loads(again.output)["total"]["orders"] == 1


def test_a_later_report_reads_at_once_and_refreshes_in_the_background(
    engine: Engine, seeded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    first = report_view(engine, SHOP, by="day", now=now)  # the first report refreshes before reading
    assert first.total.orders == 1
    store_order(engine, SHOP, shopify_order(5830120800778, (now - timedelta(hours=1)).isoformat()), now)
    monkeypatch.setattr(report_views, "REFRESH_EVERY_S", 0.0)  # the next one is due
    with write_held(engine, SHOP.id):
        later = _timed(lambda: report_view(engine, SHOP, by="day", now=now))
        if engine.dialect.name == "sqlite":  # the background refresh waits for the writer
            assert later.total.orders == 1 and STALE_NOTE not in later.notes
    deadline = time.monotonic() + 30
    while build_report(engine, SHOP, by="day", now=now, refresh_first=False).total.figures.orders != 2:
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.1)
    while report_views._RUNNING.get(engine):  # finished (its watermark written) before teardown
        assert time.monotonic() < deadline
        time.sleep(0.05)
