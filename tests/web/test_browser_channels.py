"""The Channels level of the campaigns page in chromium at 1440 px and 390 px: Meta's row with its
spend and POAS, the unattributed orders apart (no spend, no verdict colour), the blended total, the
level switch, and the same figures as the JSON API's `report?by=channel`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from browser_kit import PHONE, screenshot

from conftest import DemoApp, _page

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}


@pytest.fixture(params=[WIDE, PHONE], ids=["1440", "390"])
def screen(request: pytest.FixtureRequest, browser: Any, demo_app: DemoApp) -> Iterator[Any]:
    yield from _page(browser, demo_app, request.param)


def test_the_channels_level_shows_each_channel_and_the_blended_total(screen: Any, demo_app: DemoApp) -> None:
    page = screen
    page.goto(f"{demo_app.url}/campaigns")
    page.click("nav.search >> text=Channels")
    page.wait_for_url("**by=channel**")
    assert page.locator('nav.search a[aria-current="page"]').inner_text() == "Channels"
    keys = page.locator("#report tbody tr[data-key]").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert keys[0] == "meta" and keys[-1] == ""  # the unattributed orders last, apart
    meta = page.locator('#report tbody tr[data-key="meta"]')
    assert meta.locator("td[data-basis]").is_visible()
    assert meta.locator('td[data-col="profit_after_ads"]').is_visible()
    total = Decimal(
        page.locator('#report tfoot td[data-col="total_poas"]').get_attribute("data-value") or "x"
    )
    assert total > 0
    api = page.request.get(f"{demo_app.url}/api/v1/report?by=channel").json()
    assert [r["key"] for r in api["rows"]] == keys
    assert Decimal(str(api["total"]["poas_basis"])) == total
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"channels-{page.viewport_size['width']}")
