"""Costs and Settings in Debian chromium at 1440 px and 390 px: a cost entered for an Oslo date shows
that date, an upload answers after a redirect (a refresh does not post again), an inline edit adds a
row, paging and search, the template downloads and re-uploads cleanly; a settings change persists,
is audited and is what the next request and a `poas` process use; test mode is shown plainly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from browser_kit import PHONE, LiveApp, login, screenshot
from playwright.sync_api import expect
from sqlalchemy import func, select

from poas.domain.costs import CostRow
from poas.services.cost_import import save_costs
from poas.services.ingest import ingest_order
from poas.sources.shopify import parse_order
from poas.store import costs as cost_store
from poas.store.orders import ensure_shop
from poas.store.tables.foundation import product_costs

pytestmark = pytest.mark.browser
WIDE = {"width": 1440, "height": 900}
FIXTURE = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_paid_not_subscribed.json"
SWEATER = "44021137555656"
POAS = str(Path(sys.executable).with_name("poas"))


@pytest.fixture(params=[WIDE, PHONE], ids=["1440", "390"])
def page(request: pytest.FixtureRequest, browser: Any, live_app: LiveApp) -> Iterator[Any]:
    context = browser.new_context(viewport=request.param)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    login(p, live_app.url, "/settings")
    p.width = request.param["width"]
    yield p
    context.close()
    assert not errors, f"browser errors: {errors}"


def _fits(page: Any) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths


def _cost_rows(live_app: LiveApp) -> int:
    with live_app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(product_costs)).scalar_one())


def _seed_order(live_app: LiveApp) -> None:
    now = datetime.now(UTC)
    payload = json.loads(FIXTURE.read_text())
    payload["created_at"] = payload["processed_at"] = payload["updated_at"] = now.isoformat()
    shop = live_app.settings.shops[0]
    with live_app.engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, True, now)
        ingest_order(conn, parse_order(payload, shop.id), shop, now=now, trigger_purchase=False)


def test_upload_redirects_shows_the_oslo_date_and_a_refresh_posts_nothing(
    page: Any, live_app: LiveApp, tmp_path: Path
) -> None:
    page.goto(f"{live_app.url}/costs")
    csv = tmp_path / "costs.csv"
    csv.write_text("variant_id,unit_cost,currency,valid_from\nSKU-OSLO,100,NOK,2026-09-05\nBAD,x,NOK,\n")
    page.set_input_files("#file", str(csv))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-result")
    assert "/costs?shop=nordic" in page.url and "/upload" not in page.url  # after the 303
    expect(page.locator("#upload-result .flash")).to_contain_text("1 cost row(s) imported, 1 rejected")
    row = page.locator('#costs tr[data-key="SKU-OSLO"]')
    expect(row.locator(".valid-from")).to_have_text("2026-09-05")  # entered in Oslo, shown in Oslo
    with live_app.engine.connect() as conn:
        stored = cost_store.load_cost_rows(conn, "nordic", ["SKU-OSLO"])
    assert [r.valid_from for r in stored] == [datetime(2026, 9, 4, 22, 0, tzinfo=UTC)]  # Oslo midnight
    assert len(posts) == 1
    page.reload()
    page.wait_for_load_state("load")
    assert len(posts) == 1  # the refresh is a GET of /costs
    assert page.locator("#upload-result").count() == 0  # shown once
    assert _cost_rows(live_app) == 1
    _fits(page)
    screenshot(page, f"costs-upload-{page.width}")


def test_inline_edit_adds_a_row_from_the_date_and_keeps_the_old_one(page: Any, live_app: LiveApp) -> None:
    shop = live_app.settings.shops[0]
    old_start = datetime(2026, 1, 1, tzinfo=UTC)
    first = CostRow.of("SKU-EDIT", Decimal("100"), "NOK", old_start)
    save_costs(live_app.engine, shop, [first], now=old_start, recompute_reason=None)
    page.goto(f"{live_app.url}/costs")
    row = page.locator('#costs tr[data-key="SKU-EDIT"]')
    row.locator("summary").click()
    row.locator("input[name=unit_cost]").fill("123,40")
    row.locator("input[name=valid_from]").fill("2026-09-05")
    row.locator("button[type=submit]").click()
    page.wait_for_selector(".flash.ok")
    expect(page.locator(".flash.ok").first).to_contain_text("SKU-EDIT: unit cost 123.40 NOK from 2026-09-05")
    rows = page.locator('#costs tr[data-key="SKU-EDIT"]')
    expect(rows).to_have_count(2)
    assert rows.nth(0).locator(".valid-to").inner_text() == "2026-09-05"  # the old row ends there
    assert rows.nth(1).locator(".valid-from").inner_text() == "2026-09-05"
    with live_app.engine.connect() as conn:
        stored = sorted(cost_store.load_cost_rows(conn, "nordic", ["SKU-EDIT"]), key=lambda r: r.valid_from)
    assert [(r.unit_cost, r.valid_from) for r in stored] == [
        (Decimal("100"), old_start),
        (Decimal("123.40"), datetime(2026, 9, 4, 22, 0, tzinfo=UTC)),
    ]
    assert stored[1].source == "dashboard"
    assert stored[0].unit_cost == Decimal("100")  # history is never rewritten
    # The same start again is refused with the reason, and nothing changes.
    current = page.locator('#costs tr.current[data-key="SKU-EDIT"]')
    current.locator("summary").click()
    current.locator("input[name=unit_cost]").fill("130")
    current.locator("input[name=valid_from]").fill("2026-09-05")
    current.locator("button[type=submit]").click()
    expect(page.locator(".flash.error")).to_contain_text("already has a cost from 2026-09-05")
    assert _cost_rows(live_app) == 2
    _fits(page)
    screenshot(page, f"costs-inline-edit-{page.width}")


def test_paging_search_by_name_and_missing_costs(page: Any, live_app: LiveApp) -> None:
    _seed_order(live_app)  # sells the sweater and the hat, neither has a cost yet
    shop = live_app.settings.shops[0]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [CostRow.of(f"SKU-{i:03d}", Decimal(i + 1), "NOK", start) for i in range(70)]
    save_costs(live_app.engine, shop, rows, now=start, recompute_reason=None)
    page.goto(f"{live_app.url}/costs")
    missing = page.locator("#missing-costs tbody tr")
    expect(missing).to_have_count(2)
    assert "Ullgenser" in page.locator(f'#missing-costs tr[data-key="{SWEATER}"]').inner_text()
    expect(page.locator("#costs-count")).to_contain_text("Rows 1–50 of 70")
    expect(page.locator("#costs tbody tr")).to_have_count(50)
    page.click("#costs-pager a[rel=next]")
    expect(page.locator("#costs-count")).to_contain_text("Rows 51–70 of 70")
    expect(page.locator("#costs tbody tr").first).to_have_attribute("data-key", "SKU-050")
    # A cost entered from the missing list names the product; the search finds it by that name.
    sweater = page.locator(f'#missing-costs tr[data-key="{SWEATER}"]')
    sweater.locator("summary").click()
    sweater.locator("input[name=unit_cost]").fill("300")
    sweater.locator("input[name=valid_from]").fill("2026-01-01")
    sweater.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok").first).to_contain_text("1 stored order(s) priced again, 1 changed")
    expect(page.locator("#missing-costs tbody tr")).to_have_count(1)  # only the hat is left
    page.fill("#q", "ullgenser")
    page.click("form.search button[type=submit]")
    expect(page.locator("#costs tbody tr")).to_have_count(1)
    found = page.locator(f'#costs tr[data-key="{SWEATER}"]')
    expect(found.locator(".product-name")).to_contain_text("Ullgenser")
    _fits(page)
    screenshot(page, f"costs-search-{page.width}")


def test_the_template_downloads_and_reuploads_cleanly(page: Any, live_app: LiveApp, tmp_path: Path) -> None:
    shop = live_app.settings.shops[0]
    rows = [
        CostRow.of("SKU-T1", Decimal("10.50"), "NOK", datetime(2026, 9, 4, 22, 0, tzinfo=UTC)),
        CostRow.of("SKU-T2", Decimal("20"), "NOK", datetime(1970, 1, 1, tzinfo=UTC)),
        CostRow.of("4400", Decimal("7"), "NOK", datetime(2026, 3, 1, 11, 30, tzinfo=UTC)),
    ]
    save_costs(live_app.engine, shop, rows, now=datetime.now(UTC), recompute_reason=None)
    page.goto(f"{live_app.url}/costs")
    expect(page.locator('#costs tr[data-key="4400"] .valid-from')).to_have_text("2026-03-01 12:30")  # Oslo
    expect(page.locator('#costs tr[data-key="SKU-T2"] .valid-from')).to_have_text("always")
    with page.expect_download() as info:
        page.click("#cost-template")
    path = tmp_path / "template.csv"
    info.value.save_as(path)
    assert path.read_text().splitlines() == [
        "variant_id,sku,unit_cost,currency,valid_from",
        "4400,,7.00,NOK,2026-03-01T12:30:00+01:00",
        ",SKU-T1,10.50,NOK,2026-09-05",
        ",SKU-T2,20.00,NOK,",
    ]
    with live_app.engine.connect() as conn:
        before = {(r.key, r.unit_cost, r.valid_from) for r in cost_store.load_cost_rows(conn, "nordic")}
    page.set_input_files("#file", str(path))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result .flash")).to_contain_text("3 cost row(s) imported, 0 rejected")
    with live_app.engine.connect() as conn:
        after = {(r.key, r.unit_cost, r.valid_from) for r in cost_store.load_cost_rows(conn, "nordic")}
    assert after == before
    expect(page.locator("#rules-command")).to_have_text("poas rules --load rules.toml")
    assert "poas rules load" not in page.content()
    _fits(page)
    screenshot(page, f"costs-template-{page.width}")


def test_a_settings_change_persists_is_audited_and_reaches_the_api_and_the_cli(
    page: Any, live_app: LiveApp, tmp_path: Path
) -> None:
    page.goto(f"{live_app.url}/settings")
    expect(page.locator("#mode-nordic")).to_have_attribute("data-mode", "live")
    form = page.locator('#editable-nordic .setting[data-key="target_poas"]')
    form.locator("input[name=value]").fill("abc")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash.error")).to_contain_text(
        "Target POAS: 'abc' is not a number (nothing changed)"
    )
    form = page.locator('#editable-nordic .setting[data-key="target_poas"]')
    form.locator("input[name=value]").fill("2,5")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_contain_text("target_poas changed")
    page.locator('#editable-nordic .setting[data-key="missing_cost"] select').select_option("skip")
    page.locator('#editable-nordic .setting[data-key="missing_cost"] button[type=submit]').click()
    expect(page.locator(".flash.ok")).to_contain_text("missing_cost changed")
    page.reload()
    expect(page.locator('#editable-nordic .setting[data-key="target_poas"] .in-use')).to_contain_text("2.5")
    expect(page.locator('#editable-nordic .setting[data-key="missing_cost"] .in-use')).to_contain_text("skip")
    audit = page.locator("#changes-nordic tbody tr")
    expect(audit).to_have_count(2)
    assert "dashboard admin session" in audit.first.inner_text()
    # The next request: the report's advice uses the new target.
    report = page.request.get(f"{live_app.url}/api/v1/report?by=campaign&shop_id=nordic").json()
    assert Decimal(str(report["advice"]["target_poas"])) == Decimal("2.5")
    # A `poas` process reading the same database (as the worker and the CLI do) uses it too.
    config = tmp_path / "poas.toml"
    config.write_text('[[shops]]\nid = "nordic"\n')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POAS_")},
        "POAS_HOME": str(tmp_path),
        "POAS_CONFIG_FILE": str(config),
        "POAS_DATABASE_URL": str(live_app.engine.url),
    }
    out = subprocess.run(
        [POAS, "advise", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert Decimal(str(json.loads(out.stdout)["target_poas"])) == Decimal("2.5")
    _fits(page)
    screenshot(page, f"settings-edited-{page.width}")


def test_settings_say_plainly_when_events_go_to_test_events(page: Any, live_app: LiveApp) -> None:
    live_app.settings.shops[0].events.test_event_code = "TEST4242"
    page.goto(f"{live_app.url}/settings")
    banner = page.locator("#mode-nordic")
    expect(banner).to_have_attribute("data-mode", "test")
    expect(banner).to_contain_text("Test mode")
    expect(banner).to_contain_text("events go to Test Events (code TEST4242), not to ads optimisation")
    assert banner.bounding_box()["y"] < 300  # near the top, not in a wide table
    _fits(page)
    screenshot(page, f"settings-test-mode-{page.width}")


def test_a_settings_post_without_the_csrf_token_is_refused(page: Any, live_app: LiveApp) -> None:
    r = page.request.post(
        f"{live_app.url}/settings/shop", form={"shop": "nordic", "key": "target_poas", "value": "3"}
    )
    assert r.status == 403
    page.goto(f"{live_app.url}/settings")
    expect(page.locator("#changes-nordic tbody tr")).to_have_count(0)


def test_an_upload_with_many_bad_rows_keeps_the_session_and_lists_the_first(
    page: Any, live_app: LiveApp, tmp_path: Path
) -> None:
    """The result rides in the signed session cookie to the redirected page: it must stay small."""
    csv = tmp_path / ("very-long-file-name-" * 8 + ".csv")
    rows = [f"{'SKU-' + 'X' * 150}-{i},not-a-number-{'9' * 100},NOK,2026-09-05" for i in range(40)]
    csv.write_text("variant_id,unit_cost,currency,valid_from\n" + "\n".join(rows) + "\nSKU-OK,10,NOK,\n")
    page.goto(f"{live_app.url}/costs")
    page.set_input_files("#file", str(csv))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result .flash")).to_contain_text("1 cost row(s) imported, 40 rejected")
    expect(page.locator("#upload-errors tbody tr")).to_have_count(5)
    expect(page.locator("#upload-result")).to_contain_text("Only the first 5 problems are listed")
    cookie = next(c for c in page.context.cookies() if c["name"] == "poas_session")
    assert len(cookie["value"]) < 3000
    page.goto(f"{live_app.url}/settings")  # still logged in
    assert page.url.endswith("/settings")
