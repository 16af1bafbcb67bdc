"""Cohorts in the API and on the dashboard (both engines): /api/v1/cohorts, /api/v1/value-rules,
/api/v1/ltv-calibration's refusal without history, and the /customers table with its chart data."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.settings import Settings
from poas.web.app import create_app
from poas.web.auth import hash_password

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_cohorts import CAMPAIGN, ORDERS, SHOP
from test_cohorts import seeded as seeded

PASSWORD = "customers-page-pass-1"
ADMIN = {"Authorization": "Bearer admin-token-123456"}


def _settings() -> Settings:
    return Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        admin_api_token=SecretStr("admin-token-123456"),
        session_secret=SecretStr("customers-secret-" + "x" * 20),
        shops=[SHOP],
    )


@pytest.fixture
def client(engine: Engine, seeded: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), engine), base_url="http://testserver") as c:
        yield c


def _login(client: TestClient) -> None:
    html = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    r = client.post(
        "/login", data={"password": PASSWORD, "csrf_token": token.group(1)}, follow_redirects=False
    )
    assert r.status_code == 303


def test_cohorts_api(client: TestClient) -> None:
    doc = client.get("/api/v1/cohorts", params={"by": "campaign", "from": "2026-01-01"}, headers=ADMIN).json()
    row = next(r for r in doc["cohorts"] if r["key"] == CAMPAIGN)
    assert row["customers"] == 2 and row["cac"] == "300.00" and row["ltv_cac"]["180"] is not None
    months = client.get("/api/v1/cohorts", headers=ADMIN).json()
    assert [r["key"] for r in months["cohorts"]] == ["2026-01", "2026-02", "2026-10"]
    assert client.get("/api/v1/cohorts", params={"by": "week"}, headers=ADMIN).status_code == 422
    rules = client.get("/api/v1/value-rules", params={"from": "2026-01-01"}, headers=ADMIN).json()
    assert rules["applied"] is False and rules["orders"] == len(ORDERS)
    cal = client.get("/api/v1/ltv-calibration", headers=ADMIN)
    assert cal.status_code == 409 and "calibration needs" in cal.json()["detail"]


def test_customers_page(client: TestClient) -> None:
    assert client.get("/customers", follow_redirects=False).status_code in (302, 303, 401)
    _login(client)
    html = client.get("/customers", params={"by": "campaign", "from": "2026-01-01"}).text
    assert 'id="cohorts"' in html and "Vinter" in html and 'data-col="cac"' in html
    chart = re.search(r'<script type="application/json" id="cohort-chart-data">(.*?)</script>', html, re.S)
    assert chart
    data = json.loads(chart.group(1))
    assert data["data"]["labels"][0] == "30 days" and len(data["data"]["datasets"]) == 2
    assert 'id="value-rules"' in html and "fewer than 30 orders" in html  # 7 orders: evidence, no advice
    months = client.get("/customers").text
    assert "2026-01" in months and 'href="/customers"' in months
