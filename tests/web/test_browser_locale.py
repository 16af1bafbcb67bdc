"""The dashboard in Bokmål and English in chromium: amounts, nav and chart ticks by the browser's
language, the header's switch remembered, and times on the shop's Oslo clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from browser_kit import PHONE, LiveApp, login, screenshot, seed_order

from conftest import DemoApp

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}
SIZES = {"1440": WIDE, "390": PHONE}
NAV = {
    "nb": ["Oversikt", "Kampanjer", "Produkter", "Ordrer", "Levering", "Kostnader", "Innstillinger"],
    "en": ["Overview", "Campaigns", "Products", "Orders", "Delivery", "Costs", "Settings"],
}
SEP = "[ \u00a0\u202f]"  # Babel and Intl group (and put kr) with a no-break space
NB_MONEY = re.compile(rf"(?<![\d,.]){'[-−]'}?\d{{1,3}}(?:{SEP}\d{{3}})*,\d{{2}}{SEP}kr")
EN_MONEY = re.compile(r"-?NOK[ \u00a0]\d{1,3}(?:,\d{3})*\.\d{2}(?![\d])")
NB_TICK = re.compile(rf"^[-−]?\d{{1,3}}(?:{SEP}\d{{3}})*{SEP}kr$")
EN_TICK = re.compile(r"^-?NOK[ \u00a0]\d{1,3}(?:,\d{3})*$")


@pytest.fixture
def pages(browser: Any) -> Iterator[Any]:
    """New browser contexts with a given Accept-Language; console errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(viewport: dict[str, int], locale: str) -> Any:
        context = browser.new_context(viewport=viewport, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        return page

    yield make
    for c in contexts:
        c.close()
    assert not errors, f"browser errors: {errors}"


def _demo_login(page: Any, app: DemoApp) -> None:
    page.goto(f"{app.url}/login")
    page.fill("#password", app.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{app.url}/")


def _nav(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("header.top nav:not(.lang) a").all_inner_texts()]


def _ticks(page: Any, chart: str, axis: str) -> list[dict[str, Any]]:
    page.wait_for_function(f"() => window.Chart && Chart.getChart('{chart}')")
    ticks: list[dict[str, Any]] = page.evaluate(
        f"() => Chart.getChart('{chart}').scales['{axis}'].ticks"
        ".map(t => ({value: t.value, label: t.label}))"
    )
    assert len(ticks) >= 2, ticks
    return ticks


@pytest.mark.parametrize("size", list(SIZES))
def test_overview_in_bokmal(pages: Any, demo_app: DemoApp, size: str) -> None:
    page = pages(SIZES[size], "nb-NO")
    _demo_login(page, demo_app)
    assert page.get_attribute("html", "lang") == "nb-NO"
    assert set(NAV["nb"]) <= set(_nav(page)), _nav(page)
    assert page.locator("form.logout button").inner_text().strip() == "Logg ut"
    text = page.locator("#main").inner_text()
    amounts = NB_MONEY.findall(text)
    assert len(amounts) >= 5, text[:500]
    assert not EN_MONEY.search(text) and not re.search(r"\d,\d{3}\.\d{2}", text)
    assert re.search(r"\d,\d{2}×", text)  # ratios with a decimal comma
    assert "Europe/Oslo" in page.locator("#time-zone").inner_text()
    # chart axes as the tables: kroner on the daily chart, ratios on the campaign chart
    for t in _ticks(page, "daily", "y"):
        assert NB_TICK.match(t["label"]), t
    big = [t for t in _ticks(page, "daily", "y") if abs(t["value"]) >= 1000]
    assert big, "the demo's daily figures reach 1 000 kr"
    for t in _ticks(page, "roas-poas", "x"):
        assert re.fullmatch(r"\d+,\d×", t["label"]), t
    tooltip = page.evaluate("() => window.poasFormat('money', 126835.73, 2)")
    assert re.fullmatch(rf"126{SEP}835,73{SEP}kr", tooltip), tooltip
    screenshot(page, f"locale-overview-nb-{size}")


@pytest.mark.parametrize("size", list(SIZES))
def test_overview_in_english(pages: Any, demo_app: DemoApp, size: str) -> None:
    page = pages(SIZES[size], "en-US")
    _demo_login(page, demo_app)
    assert page.get_attribute("html", "lang") == "en"
    assert set(NAV["en"]) <= set(_nav(page))
    text = page.locator("#main").inner_text()
    assert len(EN_MONEY.findall(text)) >= 5 and not NB_MONEY.search(text)
    for t in _ticks(page, "daily", "y"):
        assert EN_TICK.match(t["label"]), t
    for t in _ticks(page, "roas-poas", "x"):
        assert re.fullmatch(r"\d+\.\d×", t["label"]), t
    screenshot(page, f"locale-overview-en-{size}")


def test_language_switch_persists(pages: Any, demo_app: DemoApp) -> None:
    page = pages(PHONE, "en-US")
    _demo_login(page, demo_app)
    assert "Orders" in _nav(page)
    page.click("nav.lang a[lang=nb]")
    page.wait_for_url(f"{demo_app.url}/")
    assert page.get_attribute("html", "lang") == "nb-NO" and "Ordrer" in _nav(page)
    page.click("header.top nav >> text=Ordrer")
    page.wait_for_url(re.compile(r".*/orders$"))
    assert page.locator("nav.lang a[aria-current]").inner_text() == "Norsk"
    again = page.context.new_page()  # the cookie outlives the page, whatever the browser asks for
    again.goto(f"{demo_app.url}/campaigns")
    assert "Kampanjer" in _nav(again)
    screenshot(again, "locale-switched-nb-390")
    again.click("nav.lang a[lang=en]")
    again.wait_for_url(re.compile(r".*/campaigns$"))
    assert "Campaigns" in _nav(again)


def test_times_on_the_shops_clock(pages: Any, live_app: LiveApp) -> None:
    """An order at 22:30 UTC on 4 September is 00:30 on 5 September in Oslo, in both languages."""
    from poas.domain.costs import CostRow
    from poas.store.costs import import_costs

    shop = live_app.settings.shops[0]
    assert shop.timezone == "Europe/Oslo"
    seed_order(live_app.engine, shop, datetime(2026, 9, 5, 1, 30, tzinfo=UTC), order_id="7001")
    oslo_midnight = datetime(2026, 9, 4, 22, 0, tzinfo=UTC)  # a cost entered as valid from 2026-09-05
    with live_app.engine.begin() as conn:
        import_costs(
            conn,
            shop.id,
            [CostRow("v-scarf", Decimal("75"), "NOK", oslo_midnight, source="test")],
            now=datetime(2026, 9, 5, 1, 30, tzinfo=UTC),
        )
    for locale, size in (("nb-NO", WIDE), ("en-US", PHONE)):
        page = pages(size, locale)
        login(page, live_app.url, "/orders")
        row = page.locator("#orders tbody tr", has_text="7001")
        assert "2026-09-05 00:30" in row.inner_text()
        assert "2026-09-04" not in page.locator("#orders").inner_text()
        assert "Europe/Oslo" in page.locator("#time-zone").inner_text()
        page.goto(f"{live_app.url}/costs?q=v-scarf")
        cost = page.locator("tr", has_text="v-scarf").first.inner_text()
        assert "2026-09-05" in cost and "2026-09-04" not in cost, cost
        screenshot(page, f"locale-orders-{locale}")
