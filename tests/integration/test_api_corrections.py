"""An order's profit corrections (AppendValue or why not) are part of its detail in the API and page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.domain.order import Order, OrderLine
from poas.services.ingest import ingest_order
from poas.services.returns import finalize_due
from poas.settings import Settings, ShopConfig
from poas.store.costs import import_costs
from poas.web.app import create_app
from poas.web.auth import hash_password

ADMIN = {"Authorization": "Bearer admin-token-123456"}


def test_order_detail_lists_its_corrections(engine: Engine) -> None:
    now = datetime.now(UTC)
    shop = ShopConfig(id="a")
    placed = now - timedelta(days=40)
    line = OrderLine("1", 1, Decimal("250.00"), sku="MUG", tax=Decimal("50.00"))
    with engine.begin() as conn:
        import_costs(
            conn, "a", [CostRow.of("MUG", Decimal("80"), "NOK", placed - timedelta(days=1))], now=now
        )
        ingest_order(conn, Order("a", "9", placed, "NOK", (line,)), shop, now=placed, trigger_purchase=True)
    report = finalize_due(engine, shop, now=now)
    assert report.unsent == 1
    settings = Settings(
        session_secret=SecretStr("s" * 32),
        admin_api_token=SecretStr("admin-token-123456"),
        admin_password_hash=SecretStr(hash_password("pw-for-the-test")),
        shops=[shop],
    )
    with TestClient(create_app(settings, engine)) as client:
        detail = client.get("/api/v1/orders/a/9", headers=ADMIN)
        form = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        client.post("/login", data={"password": "pw-for-the-test", "csrf_token": csrf.group(1), "next": "/"})
        page = client.get("/orders/a/9")
    assert detail.status_code == 200, detail.text
    corrections = detail.json()["corrections"]
    assert [(c["trigger"], c["state"]) for c in corrections] == [("window_closed", "unsent")]
    assert Decimal(corrections[0]["final_profit"]) == Decimal("120.00")
    assert corrections[0]["sent_net_revenue"] is None
    assert page.status_code == 200
    assert 'id="corrections"' in page.text
    assert "window_closed" in page.text and "no Purchase was sent" in page.text
