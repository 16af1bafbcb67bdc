"""The Customers page in Chromium: the cohort table by campaign, its chart drawn from the same numbers,
and the value-rule evidence; no console errors (CSP holds with the chart)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from browser_kit import LiveApp, screenshot
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.services.ingest import ingest_order
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_cohorts import JAN, NOW, ORDERS, SHOP

pytestmark = pytest.mark.browser


def _seed(engine: Engine) -> None:
    from datetime import timedelta

    from poas.store.tables.spend import ad_spend

    with engine.begin() as conn:
        ensure_shop(conn, "nordic", "NOK", True, NOW)
        import_costs(
            conn, "nordic", [CostRow("ok", Decimal("100"), "NOK", JAN - timedelta(days=60))], now=NOW
        )
        for o in ORDERS:
            ingest_order(conn, o, SHOP, now=NOW, trigger_purchase=False)
        conn.execute(
            ad_spend.insert().values(
                shop_id="nordic",
                account_id="act_1",
                row_key="r1",
                day=JAN.date(),
                campaign_id="120200000000000001",
                campaign_name="Vinter",
                currency="NOK",
                spend_minor=60000,
                source="csv",
                fetched_at=NOW,
            )
        )


def test_customers_page_table_and_chart(desktop: Any, live_app: LiveApp) -> None:
    _seed(live_app.engine)
    desktop.goto(f"{live_app.url}/customers?shop=nordic&by=campaign&from=2026-01-01")
    rows = desktop.locator("#cohorts tbody tr")
    assert rows.count() == 2  # Vinter and the unattributed first orders
    vinter = desktop.locator("#cohorts tbody tr", has_text="Vinter")
    assert "300" in vinter.locator("[data-col=cac]").inner_text()
    desktop.wait_for_function("document.querySelector('#cohort-chart').width > 0")
    drawn = desktop.evaluate("Chart.getChart(document.querySelector('#cohort-chart')).data.datasets.length")
    assert drawn == 2
    assert desktop.locator("#value-rules tbody tr").count() >= 3
    screenshot(desktop, "customers_by_campaign")
    desktop.goto(f"{live_app.url}/customers?shop=nordic")
    assert desktop.locator("#cohorts tbody tr").count() == 3  # 2026-01, 2026-02, 2026-10
    screenshot(desktop, "customers_by_month")
