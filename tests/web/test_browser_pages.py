"""Dashboard pages in chromium on a demo-seeded store: charts equal their tables, waterfall, costs, phones."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from browser_kit import PHONE, screenshot
from playwright.sync_api import expect

from conftest import DemoApp

pytestmark = pytest.mark.browser


def number(text: str) -> Decimal:
    """A table cell as a Decimal in either language: `NOK 13,691.27`, `13 691,27 kr`, `2,27×` → Decimal."""
    cleaned = re.sub(r"[\s\u00a0\u202f×%]|NOK|kr", "", text).replace("\u2212", "-")
    if re.search(r",\d{1,2}$", cleaned) and "." not in cleaned:
        return Decimal(cleaned.replace(",", "."))  # Bokmål: comma decimals, space grouping
    return Decimal(cleaned.replace(",", ""))  # English: comma grouping


def test_login_page_rejects_a_wrong_password(browser: Any, demo_app: DemoApp) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{demo_app.url}/")
    assert page.url.startswith(f"{demo_app.url}/login")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator(".flash.error").inner_text() == "Wrong password."
    context.close()


def test_overview_chart_has_the_same_numbers_as_its_table(demo_desktop: Any, demo_app: DemoApp) -> None:
    page = demo_desktop
    page.wait_for_function("() => window.Chart && Chart.getChart('roas-poas')")
    chart = page.evaluate(
        """() => { const c = Chart.getChart('roas-poas');
                   return {labels: c.data.labels,
                           sets: c.data.datasets.map(d => ({label: d.label, data: d.data}))}; }"""
    )
    rows = page.locator("#campaign-table tbody tr")
    assert rows.count() == len(chart["labels"]) >= 3
    by_label = {s["label"]: s["data"] for s in chart["sets"]}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == chart["labels"][i]
        for col, label in (("roas", "ROAS"), ("poas", "POAS (profit after expected returns)")):
            text = rows.nth(i).locator(f'td[data-col="{col}"]').inner_text()
            value = by_label[label][i]
            if text == "–":
                assert value is None
            else:
                assert number(text) == Decimal(str(value)).quantize(Decimal("0.01")), (label, i)
    # The break-even line and the blended POAS are on the page.
    assert page.evaluate("() => Chart.getChart('roas-poas').config._config.breakEven") == "1"
    blended = number(page.locator("#kpi-poas .value").inner_text())  # no other channel's spend entered
    assert blended == number(page.locator('#campaign-table tfoot td[data-col="poas"]').inner_text())
    daily = page.evaluate("() => Chart.getChart('daily').data.datasets[0].data.length")
    assert daily == page.locator("#daily-table tbody tr").count()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "overview-desktop")


def test_open_an_orders_profit_waterfall(demo_desktop: Any, demo_app: DemoApp) -> None:
    page = demo_desktop
    page.click("nav >> text=Orders")
    page.locator("#orders tbody tr a").first.click()
    page.wait_for_function("() => window.Chart && Chart.getChart('waterfall')")
    bars = page.evaluate("() => Chart.getChart('waterfall').data.datasets[0].data")
    labels = page.evaluate("() => Chart.getChart('waterfall').data.labels")
    assert labels[0] == "Revenue incl. VAT" and labels[-1] == "Expected profit"
    assert {"VAT", "Cost of goods", "Shipping cost", "Payment fees", "Expected returns"} <= set(labels)
    rows = page.locator("#waterfall-table tbody tr")
    assert rows.count() == len(bars)
    revenue = number(rows.nth(0).locator("td").nth(1).inner_text())
    deductions = Decimal(0)
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        amount = Decimal(cells.nth(1).get_attribute("data-value") or "0")
        assert Decimal(str(bars[i][1])).quantize(Decimal("0.01")) == number(cells.nth(2).inner_text())
        if rows.nth(i).get_attribute("data-key") not in ("revenue", "revenue_ex_vat", "expected_profit"):
            deductions += amount
    profit = number(rows.last.locator("td").nth(1).inner_text())
    assert revenue + deductions == profit
    assert page.locator("#lines tbody tr").count() >= 1
    assert "per unit, valid from" in page.locator("#lines").inner_text()  # the cost row in words
    sources = page.locator("#waterfall-table").inner_text()
    assert "Shipping rule" in sources and "rule:" not in sources and "shipping_included" not in sources
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "order-waterfall")


def test_an_order_shows_the_events_sent_and_metas_answer(demo_desktop: Any, demo_app: DemoApp) -> None:
    page = demo_desktop
    page.goto(f"{demo_app.url}/orders")
    sent_row = page.locator("#orders tbody tr", has_text="1 of 1 sent").first
    sent_row.locator("td a").click()
    events = page.locator("#events tbody tr")
    expect(events).to_have_count(1)
    text = events.first.inner_text()
    assert "Purchase" in text and "sent" in text
    assert "events_received" in text and "fbtrace_id" in text  # Meta's answer to the batch
    payload = events.first.locator("pre").text_content() or ""
    assert '"net_revenue"' in payload and '"em"' in payload
    assert "@" not in payload  # contact data leaves poas hashed only


def test_orders_search_narrows_the_table_as_you_type(demo_desktop: Any, demo_app: DemoApp) -> None:
    page = demo_desktop
    page.goto(f"{demo_app.url}/orders")
    rows = page.locator("#orders tbody tr")
    assert rows.count() > 1
    name = rows.nth(1).locator("td a").inner_text()
    page.fill("#q", name)  # htmx fetches the matching rows and swaps the table, no submit
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td a")).to_have_text(name)
    assert "q=" in page.url


def test_upload_a_cost_csv_with_one_bad_row(demo_desktop: Any, demo_app: DemoApp, tmp_path: Any) -> None:
    page = demo_desktop
    page.goto(f"{demo_app.url}/costs")
    key = page.locator("#costs tbody tr").first.get_attribute("data-key")
    csv = tmp_path / "new-costs.csv"
    csv.write_text(
        "variant_id,unit_cost,currency,valid_from\n"
        f"{key},123.45,NOK,2026-01-01\n"
        "BAD-ROW,twelve,NOK,2026-01-01\n"
        "FRESH-SKU-1,10,NOK,\n"
    )
    page.set_input_files("#file", str(csv))
    page.click("form[action='/costs/upload'] button[type=submit]")
    page.wait_for_selector("#upload-result")
    assert "2 cost row(s) imported, 1 rejected" in page.locator("#upload-result .flash").inner_text()
    error = page.locator("#upload-errors tbody tr").all_inner_texts()
    assert len(error) == 1
    assert error[0].split("\t")[:3] == ["new-costs.csv", "3", "unit_cost"]
    page.fill("#q", "FRESH-SKU-1")  # the cost list is paged: find the new row by its key
    page.click("form.search button[type=submit]")
    expect(page.locator('#costs tr[data-key="FRESH-SKU-1"]')).to_have_count(1)
    screenshot(page, "costs-upload-error")


@pytest.mark.parametrize(
    "path", ["/", "/campaigns", "/products", "/orders", "{order}", "/delivery", "/costs", "/settings"]
)
def test_pages_fit_a_phone_without_horizontal_overflow(demo_phone: Any, demo_app: DemoApp, path: str) -> None:
    page = demo_phone
    if path == "{order}":
        page.goto(f"{demo_app.url}/orders")
        page.locator("#orders tbody tr a").first.click()
        page.wait_for_selector("#waterfall-table")
        path = "/order"
    else:
        page.goto(f"{demo_app.url}{path}")
    page.wait_for_load_state("load")
    widths = page.evaluate(
        """() => ({doc: document.documentElement.scrollWidth,
                  main: document.getElementById('main').scrollWidth,
                  view: window.innerWidth})"""
    )
    assert widths["view"] == PHONE["width"]
    assert widths["main"] <= widths["view"], widths
    assert widths["doc"] <= widths["view"], widths
    screenshot(page, "phone-" + (path.strip("/") or "overview"))


def test_tables_are_readable_without_javascript(browser: Any, demo_app: DemoApp) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{demo_app.url}/login")
    page.fill("#password", demo_app.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo_app.url}/")
    assert page.locator("#campaign-table tbody tr").count() >= 3
    page.goto(f"{demo_app.url}/campaigns?sort=poas&dir=asc")
    cells = page.locator('#report tbody td[data-col="poas"]').all_inner_texts()
    values = [number(c) for c in cells if c != "–"]
    assert values == sorted(values) and len(values) >= 3
    context.close()


def test_budget_advice_weighs_profit_after_expected_returns(demo_desktop: Any, demo_app: DemoApp) -> None:
    page = demo_desktop
    page.goto(f"{demo_app.url}/campaigns")
    expect(page.locator("#advice")).to_be_visible()
    expect(page.locator("#basis")).to_contain_text("Decisions on profit after expected returns")
    advice_rows = page.locator("#advice tbody tr[data-key]")
    assert advice_rows.count() >= 3
    for i in range(advice_rows.count()):
        row = advice_rows.nth(i)
        key = row.get_attribute("data-key")
        report_cell = page.locator(f'#report tbody tr[data-key="{key}"] td[data-col="poas_expected"]')
        assert row.locator('td[data-col="poas"]').inner_text() == report_cell.inner_text()
