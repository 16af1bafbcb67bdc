"""Rollups stay inside the shop's real dates and are written in short transactions: an order stored
with an absurd date (1970, 0001-01-01, 9999-12-31; refused at intake, stored here directly) neither
makes a report rebuild decades of empty days nor breaks the reports (both engines)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from read_beside_writer import shopify_order, store_order
from sqlalchemy import Engine, event, func, select

from poas.services import rollups
from poas.services.report import build_report
from poas.settings import Settings, ShopConfig
from poas.store.tables.spend import rollup_daily
from poas.web.app import create_app
from poas.web.auth import hash_password

SHOP = ShopConfig(id="nordic", currency="NOK", timezone="Europe/Oslo", api_token=SecretStr("nordic-token-1"))
PASSWORD = "rollup-window-test-1"


def _rollup_days(engine: Engine) -> tuple[int, date | None]:
    with engine.connect() as conn:
        count, first = conn.execute(
            select(func.count(func.distinct(rollup_daily.c.day)), func.min(rollup_daily.c.day)).where(
                rollup_daily.c.shop_id == SHOP.id
            )
        ).one()
    return int(count), first


def test_an_order_dated_1970_does_not_stretch_the_rollups(engine: Engine) -> None:
    now = datetime.now(UTC)
    store_order(engine, SHOP, shopify_order(1001, "1970-01-01T00:00:00+00:00"), now)
    store_order(engine, SHOP, shopify_order(1002, (now - timedelta(days=3)).isoformat()), now)
    report = build_report(engine, SHOP, by="day", now=now)
    assert not report.stale and report.total.figures.orders == 1  # the real order, not the 1970 one
    days, first = _rollup_days(engine)
    assert days <= 5, f"{days} days of rollups for one real order three days old"
    assert first is not None and first >= SHOP.earliest_order_date


def test_a_rebuild_commits_in_short_transactions(engine: Engine) -> None:
    now = datetime.now(UTC)
    store_order(engine, SHOP, shopify_order(1003, (now - timedelta(days=3)).isoformat()), now)
    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    today = now.date()
    written = rollups.rebuild_days(engine, SHOP, [today - timedelta(days=i) for i in range(100)], now=now)
    assert written >= 100
    assert len(commits) >= 100 // rollups.CHUNK_DAYS + 1  # never all 100 days in one transaction


@pytest.mark.parametrize("absurd", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"])
def test_orders_at_the_ends_of_the_calendar_do_not_break_the_reports(engine: Engine, absurd: str) -> None:
    now = datetime.now(UTC)
    store_order(engine, SHOP, shopify_order(1004, absurd), now)
    store_order(engine, SHOP, shopify_order(1005, (now - timedelta(days=1)).isoformat()), now)
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("rollup-window-secret-0123456789"),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[SHOP],
    )
    with TestClient(create_app(settings, engine), base_url="http://testserver") as client:
        report = client.get("/api/v1/report?by=day", headers={"Authorization": "Bearer admin-token-123456"})
        assert report.status_code == 200, report.text
        assert report.json()["total"]["orders"] == 1
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1)})
        for path in ("/", "/campaigns", "/products"):
            page = client.get(path)
            assert page.status_code == 200 and "/login" not in str(page.url), path
    days, first = _rollup_days(engine)
    assert days <= 3 and first is not None and first >= SHOP.earliest_order_date
