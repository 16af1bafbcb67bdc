"""Decisions in chromium at 1440 px and 390 px: one profit basis named on every report page, no green
on what the advice cuts, the overview as a P&L against the previous period, phone priority columns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from browser_kit import PHONE, screenshot

from conftest import DemoApp, _page

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}
GREEN = "rgb(23, 128, 61)"  # --good
REPORT_PAGES = ["/", "/campaigns", "/campaigns?by=adset", "/campaigns?by=ad", "/products"]
BASIS_TEXT = {"expected": "profit after expected returns", "gross": "gross profit (returns left out)"}
ROWS = """(sel) => [...document.querySelectorAll(sel)].map(tr => ({
    key: tr.dataset.key, verdict: tr.dataset.verdict,
    green: [...tr.querySelectorAll('td, td *')]
             .some(e => getComputedStyle(e).color === 'GREEN')}))""".replace("GREEN", GREEN)


@pytest.fixture(params=[WIDE, PHONE], ids=["1440", "390"])
def screen(request: pytest.FixtureRequest, browser: Any, demo_app: DemoApp) -> Iterator[Any]:
    yield from _page(browser, demo_app, request.param)


@pytest.fixture
def wide(browser: Any, demo_app: DemoApp) -> Iterator[Any]:
    yield from _page(browser, demo_app, WIDE)


@pytest.fixture
def phone(browser: Any, demo_app: DemoApp) -> Iterator[Any]:
    yield from _page(browser, demo_app, PHONE)


def _width(page: Any) -> int:
    return int(page.viewport_size["width"])


def _shot(page: Any, path: str, suffix: str = "") -> None:
    name = path.strip("/").replace("?", "-").replace("=", "-").replace("&", "-") or "overview"
    screenshot(page, f"decisions-{name}{suffix}-{_width(page)}")


@pytest.mark.parametrize("basis", ["expected", "gross"])
def test_no_page_colours_green_what_the_advice_cuts(screen: Any, demo_app: DemoApp, basis: str) -> None:
    page = screen
    page.goto(f"{demo_app.url}/campaigns?basis={basis}")
    advice = page.evaluate(ROWS, "#advice tbody tr[data-key]")
    cut = {r["key"] for r in advice if r["verdict"] in ("cut", "pause")}
    assert cut, "the demo has campaigns below the target POAS"
    for path in REPORT_PAGES:
        sep = "&" if "?" in path else "?"
        page.goto(f"{demo_app.url}{path}{sep}basis={basis}")
        basis_line = page.locator("#basis")
        assert BASIS_TEXT[basis] in basis_line.inner_text(), path
        assert basis_line.get_attribute("data-basis") == basis
        rows = page.evaluate(ROWS, "#campaign-table tbody tr[data-key], #report tbody tr[data-key]")
        assert rows, path
        for r in rows:
            assert not (r["green"] and r["verdict"] in ("cut", "pause", "unknown")), (path, r)
            if path in ("/", "/campaigns"):  # the campaign lines the advice acts on
                assert not (r["green"] and r["key"] in cut), (path, r)
        if path in ("/", "/campaigns"):
            page_advice = page.evaluate(ROWS, "#advice tbody tr[data-key]")
            assert {r["key"]: r["verdict"] for r in page_advice} == {r["key"]: r["verdict"] for r in advice}
            for r in page_advice:
                assert not (r["green"] and r["key"] in cut), (path, r)
        _shot(page, path, f"-{basis}")


def test_the_other_basis_is_one_click_away_on_every_report_page(wide: Any, demo_app: DemoApp) -> None:
    page = wide
    for path in REPORT_PAGES:
        page.goto(f"{demo_app.url}{path}")
        assert page.locator("#basis").get_attribute("data-basis") == "expected"  # the shop's default
        page.click("#basis-switch")
        page.wait_for_url("**basis=gross**")
        assert BASIS_TEXT["gross"] in page.locator("#basis").inner_text()
        page.click("#basis-switch")
        page.wait_for_url("**basis=expected**")
        assert page.locator("#basis").get_attribute("data-basis") == "expected"


def test_the_overview_is_a_pnl_against_the_previous_period(screen: Any, demo_app: DemoApp) -> None:
    page = screen
    page.goto(f"{demo_app.url}/")
    shown = page.locator("#to").input_value()
    to = date.fromisoformat(shown)
    since = to - timedelta(days=6)  # a week whose previous week also has demo figures
    page.goto(f"{demo_app.url}/?from={since}&to={to}")
    values: dict[str, Decimal] = {}
    for kpi in ("revenue", "gross-profit", "spend", "profit-after-ads", "poas"):
        box = page.locator(f"#kpi-{kpi}")
        assert box.is_visible()
        value, previous = box.get_attribute("data-value"), box.get_attribute("data-previous")
        assert value and previous, kpi
        values[kpi] = Decimal(value)
        change = box.locator("[data-change]")
        assert change.is_visible(), kpi
        assert Decimal(change.get_attribute("data-change") or "x") == Decimal(value) - Decimal(previous)
    # profit after ad spend and POAS come from the same profit and the same spend
    profit = values["profit-after-ads"] + values["spend"]
    assert abs(profit / values["spend"] - values["poas"]) < Decimal("0.0001")
    assert "last synced" in page.locator("#spend-synced").inner_text()
    assert str(since - timedelta(days=7)) in page.locator("#period-compare").inner_text()
    assert page.locator("#unattributed").is_visible()
    # every campaign the advice cuts or pauses is called out, with the advice on the same page
    cut = {
        r["key"]
        for r in page.evaluate(ROWS, "#advice tbody tr[data-key]")
        if r["verdict"] in ("cut", "pause")
    }
    flagged = {
        page.locator("[data-loser]").nth(i).get_attribute("data-loser")
        for i in range(page.locator("[data-loser]").count())
    }
    assert cut and flagged == cut
    # definitions on hover
    assert page.locator("#campaign-table thead abbr[title]").count() >= 3
    _shot(page, "/", "-pnl")


def test_the_overview_table_sorts_by_poas_on_the_basis(wide: Any, demo_app: DemoApp) -> None:
    page = wide
    page.goto(f"{demo_app.url}/")
    page.click("#campaign-table thead th.basis-col a")
    page.wait_for_url("**sort=poas_basis**")
    values = [
        Decimal(v)
        for v in page.locator('#campaign-table tbody td[data-col="poas"]').evaluate_all(
            "cells => cells.map(c => c.dataset.value)"
        )
        if v
    ]
    assert len(values) >= 3 and values == sorted(values, reverse=True)


@pytest.mark.parametrize("lang", ["en", "nb"])
def test_a_phone_overview_shows_campaign_poas_and_profit_after_ads(
    phone: Any, demo_app: DemoApp, lang: str
) -> None:
    page = phone
    page.goto(f"{demo_app.url}/language?lang={lang}&next=/")
    page.wait_for_load_state("load")
    assert page.evaluate("() => document.documentElement.lang").startswith(lang)
    fits = page.evaluate(
        """() => { const t = document.getElementById('campaign-table'), w = t.closest('.table-wrap');
                   return {wrap: [w.scrollWidth, w.clientWidth],
                           doc: [document.documentElement.scrollWidth, window.innerWidth]}; }"""
    )
    assert fits["wrap"][0] <= fits["wrap"][1], fits
    assert fits["doc"][0] <= fits["doc"][1], fits
    rows = page.locator("#campaign-table tbody tr[data-key]")
    assert rows.count() >= 3
    for i in range(rows.count()):
        row = rows.nth(i)
        for cell in (
            row.locator("td.name"),
            row.locator('td[data-col="poas"]'),
            row.locator('td[data-col="profit_after_ads"]'),
        ):
            assert cell.is_visible()
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (i, box)
        assert row.locator("td.name").inner_text().strip()
    assert page.locator("#kpi-profit-after-ads").is_visible()
    _shot(page, "/", f"-{lang}")


@pytest.mark.parametrize("lang", ["en", "nb"])
@pytest.mark.parametrize("path", ["/campaigns", "/products"])
def test_wide_screens_use_the_full_width_and_show_break_even_roas(
    wide: Any, demo_app: DemoApp, path: str, lang: str
) -> None:
    page = wide
    page.goto(f"{demo_app.url}/language?lang={lang}&next={path}")
    page.wait_for_load_state("load")
    main = page.evaluate("() => document.getElementById('main').clientWidth")
    assert main > 1300
    header = page.locator('#report thead th:has(a[href*="sort=break_even_roas"])')
    if lang == "en":
        assert "Break-even ROAS" in header.inner_text()
    assert header.is_visible()
    box = header.bounding_box()
    assert box is not None and box["x"] + box["width"] <= WIDE["width"]
    wrap = page.evaluate(
        "() => { const w = document.querySelector('#report').closest('.table-wrap');"
        " return [w.scrollWidth, w.clientWidth]; }"
    )
    assert wrap[0] <= wrap[1], wrap
    assert page.locator('#report tbody td[data-col="break_even_roas"]').first.is_visible()
    _shot(page, path, f"-{lang}")


@pytest.mark.parametrize("path", ["/campaigns", "/products", "/glossary"])
def test_report_pages_fit_a_phone(phone: Any, demo_app: DemoApp, path: str) -> None:
    page = phone
    page.goto(f"{demo_app.url}{path}")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    if path != "/glossary":
        row = page.locator("#report tbody tr[data-key]").first
        assert row.locator("td[data-basis]").is_visible()
        assert row.locator('td[data-col="profit_after_ads"]').is_visible()
    _shot(page, path)


def test_the_glossary_is_in_the_nav_and_defines_the_words(screen: Any, demo_app: DemoApp) -> None:
    page = screen
    page.goto(f"{demo_app.url}/")
    page.click("header nav >> text=Glossary")
    page.wait_for_url("**/glossary")
    for term in ("poas", "profit_after_ads", "expected_profit", "gross_profit", "basis", "unattributed"):
        assert page.locator(f"dt#{term}").is_visible()
    assert "break-even" in page.locator("dt#poas + dd").inner_text()
    _shot(page, "/glossary")


def test_other_channel_spend_enters_blended_poas(wide: Any, demo_app: DemoApp) -> None:
    """Last in the file: it adds spend to the shared demo store."""
    page = wide
    page.goto(f"{demo_app.url}/")
    spend_before = Decimal(page.locator("#kpi-spend").get_attribute("data-value") or "x")
    poas_before = Decimal(page.locator("#kpi-poas").get_attribute("data-value") or "x")
    assert "no other channel" in page.locator("#blended-note").inner_text()
    page.fill("#channel", "Google Ads")
    page.fill("#amount", "30000")
    page.click("#channel-spend-form button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "Google Ads" in page.locator("#spend-split").inner_text()
    assert "1 other channel" in page.locator("#blended-note").inner_text()
    spend_after = Decimal(page.locator("#kpi-spend").get_attribute("data-value") or "x")
    poas_after = Decimal(page.locator("#kpi-poas").get_attribute("data-value") or "x")
    assert spend_after > spend_before and poas_after < poas_before
    page.fill("#channel", "Meta")
    page.fill("#amount", "10")
    page.click("#channel-spend-form button[type=submit]")
    assert "read from Meta" in page.locator(".flash.error").inner_text()
    _shot(page, "/", "-other-spend")
