"""Delivery page in the browser: the counts, the match-rate alert, replaying a dead event."""

from __future__ import annotations

from typing import Any

import pytest
from browser_kit import LiveApp, screenshot, seed_delivery, utcnow
from playwright.sync_api import expect
from sqlalchemy import select

from poas.store.tables.delivery import outbox

pytestmark = pytest.mark.browser


def test_replay_a_dead_event(desktop: Any, live_app: LiveApp) -> None:
    dead = seed_delivery(live_app.engine, utcnow())
    page = desktop
    page.goto(f"{live_app.url}/delivery")
    row = page.locator('#pixels tr[data-pixel="1234567890"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[2:7] == ["0", "0", "0", "3", "2"]  # pending, sending, retrying, sent, dead
    assert page.locator("#match-rate").inner_text() == "60.0%"  # English: the browser's Accept-Language
    assert "below 90.0%" in page.locator("#match-alert").inner_text()
    assert page.locator("#dead-events tbody tr").count() == 2
    screenshot(page, "delivery-before-replay")

    page.locator(f'#dead-events tr[data-event="{dead[0]}"] button').click()  # htmx: swaps #main in place
    expect(page.locator(".flash.ok")).to_contain_text("1 dead event(s) queued again")
    expect(page.locator("#dead-events tbody tr")).to_have_count(1)
    expect(page.locator(f'#dead-events tr[data-event="{dead[0]}"]')).to_have_count(0)
    assert row.locator("td").all_inner_texts()[2] == "1"
    with live_app.engine.connect() as conn:
        state = conn.execute(select(outbox.c.state).where(outbox.c.id == dead[0])).scalar_one()
    assert state == "pending"
    screenshot(page, "delivery-after-replay")
