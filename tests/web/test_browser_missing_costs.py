"""Costs page in the browser: the variants sold without a cost, and how an upload clears them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser_kit import LiveApp, screenshot

from poas.services.ingest import ingest_order
from poas.sources.shopify import parse_order
from poas.store.orders import ensure_shop

pytestmark = pytest.mark.browser
FIXTURE = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_paid_not_subscribed.json"
SWEATER, HAT = "44021137555656", "44021137588424"


def test_costs_page_lists_variants_without_cost_until_costed(
    desktop: Any, live_app: LiveApp, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    payload = json.loads(FIXTURE.read_text())  # the shop has no cost rows and no default margin
    payload["created_at"] = payload["processed_at"] = payload["updated_at"] = now.isoformat()
    shop = live_app.settings.shops[0]
    with live_app.engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, True, now)
        ingest_order(conn, parse_order(payload, shop.id), shop, now=now, trigger_purchase=False)
    page = desktop
    page.goto(f"{live_app.url}/costs")
    assert "1 order(s) of the last 30 days" in page.locator("#missing-summary").inner_text()
    rows = page.locator("#missing-costs tbody tr")
    assert {rows.nth(i).get_attribute("data-key") for i in range(rows.count())} == {SWEATER, HAT}
    sweater = page.locator(f'#missing-costs tr[data-key="{SWEATER}"] td').all_inner_texts()
    assert "Ullgenser" in sweater[0] and SWEATER in sweater[0]  # the product's name beside its id
    assert sweater[1:3] == ["1", "2"]  # one order, two units sold
    screenshot(page, "costs-missing")

    csv = tmp_path / "sweater.csv"
    csv.write_text(f"variant_id,unit_cost,currency,valid_from\n{SWEATER},300,NOK,2026-01-01\n")
    page.set_input_files("#file", str(csv))
    page.click("form[action='/costs/upload'] button[type=submit]")
    page.wait_for_selector("#upload-result")
    # The stored order was priced again: the sweater has a cost now, the hat still has none.
    keys = page.locator("#missing-costs tbody tr").evaluate_all("rs => rs.map(r => r.dataset.key)")
    assert keys == [HAT]
