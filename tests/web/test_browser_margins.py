"""The contribution-margin and customer table in chromium at 1440 px and 390 px: under the campaign
report, every campaign line and the total, the page never wider than the screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_kit import PHONE, screenshot

from conftest import DemoApp, _page

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}


@pytest.fixture(params=[WIDE, PHONE], ids=["1440", "390"])
def screen(request: pytest.FixtureRequest, browser: Any, demo_app: DemoApp) -> Iterator[Any]:
    yield from _page(browser, demo_app, request.param)


def test_margin_table_under_the_campaign_report(screen: Any, demo_app: DemoApp) -> None:
    page = screen
    page.goto(f"{demo_app.url}/campaigns")
    assert page.locator("#margins-heading").is_visible()
    report_keys = page.eval_on_selector_all(
        "#report tbody tr[data-key]", "rows => rows.map(r => r.dataset.key)"
    )
    margin_keys = page.eval_on_selector_all(
        "#margins tbody tr[data-key]", "rows => rows.map(r => r.dataset.key)"
    )
    assert report_keys and margin_keys == report_keys  # the same lines, in the same order
    total = page.locator("#margins tfoot tr.total")
    assert (
        total.locator("[data-col=cm3]").is_visible() and total.locator("[data-col=net_profit]").is_visible()
    )
    assert total.locator("[data-col=cm3]").inner_text().strip() not in ("", "–")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]
    page.locator("#margins").scroll_into_view_if_needed()
    screenshot(page, f"margins-campaigns-{page.viewport_size['width']}")
