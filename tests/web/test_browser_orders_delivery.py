"""Orders, one order, delivery and the error pages in chromium at 1440 px and at 390 px: what Meta was
told in words, delivery grouped by reason with an honest replay, filters that survive paging, long
names cut with the full text on hover, and HTML error pages (JSON kept for /api/*)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from browser_kit import PASSWORD, LiveApp, screenshot, seed_order, utcnow
from playwright.sync_api import expect
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.services import views
from poas.services.ingest import recompute_profits
from poas.store import outbox as ob
from poas.store.costs import import_costs

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
RAW = ("shipping_included", "gift_cards:", "rule=", "per=", "count=", "row csv:", "`poas_expected`")
TOO_OLD = "too old: event_time is more than 6 days, 23:59:00 before the send time (Meta's limit is 7 days)"


def _page(browser: Any, app: LiveApp, viewport: dict[str, int]) -> Iterator[Any]:
    """A logged-in page; script errors fail the test (a 4xx/5xx document load is not one)."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None
        ),
    )
    page.goto(f"{app.url}/login?next=/orders")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(app.url) + r"/orders$"))
    yield page
    context.close()
    assert not errors, f"browser errors: {errors}"


@pytest.fixture(params=["wide", "phone"])
def view(request: pytest.FixtureRequest, browser: Any, live_app: LiveApp) -> Iterator[tuple[Any, str]]:
    viewport = WIDE if request.param == "wide" else PHONE
    yield from ((p, request.param) for p in _page(browser, live_app, viewport))


def _no_horizontal_scroll(page: Any) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def _send_all(engine: Engine) -> None:
    claim = ob.claim(engine, "t", "1234567890", limit=50, lease_s=60, now=utcnow())
    assert claim is not None
    with engine.begin() as conn:
        ob.mark_sent(
            conn,
            claim.owner,
            [e.id for e in claim.events],
            now=utcnow(),
            meta_response={"events_received": 1},
        )


def test_order_page_says_what_meta_was_told(view: tuple[Any, str], live_app: LiveApp) -> None:
    page, width = view
    shop = live_app.settings.shops[0]
    seed_order(live_app.engine, shop, utcnow())
    page.goto(f"{live_app.url}/orders/nordic/5001")
    meta = page.locator("#meta-status")
    assert meta.get_attribute("data-kind") == "queued"  # a pending order is queued, never "sent: yes"
    assert "not sent yet" in meta.inner_text() and "Profit sent to Meta" not in page.content()
    html = page.content()
    assert html.index('id="expected-profit"') < html.index(
        'id="realized-profit"'
    )  # open order: expected first
    told_net = page.locator("#told-net").inner_text()
    assert told_net == page.locator("#expected-profit").inner_text().split(" after")[0].strip()
    sources = page.locator("#waterfall-table").inner_text()
    assert "Shipping rule parcel-5kg" in sources and not [r for r in RAW if r in sources], sources
    assert page.locator("#events tbody tr td[data-net]").first.inner_text() == told_net  # outside the payload
    screenshot(page, f"order-queued-{width}")

    _send_all(live_app.engine)
    with live_app.engine.begin() as conn:
        import_costs(
            conn,
            "nordic",
            [CostRow("v-wool", Decimal("260"), "NOK", utcnow() - timedelta(days=30), source="fix")],
            now=utcnow(),
        )
        recompute_profits(conn, shop, now=utcnow(), reason="cost change")
    page.reload()
    assert page.locator("#meta-status").get_attribute("data-kind") == "sent"
    note = page.locator("#correction-note").inner_text()
    assert note.startswith(f"Meta was told {told_net} on ") and "the expected profit is now" in note
    assert "An AppendValue will be sent only when the profit becomes final" in note
    assert "a cost change alone sends nothing" in note
    if width == "phone":
        _no_horizontal_scroll(page)
    screenshot(page, f"order-corrected-{width}")


def _seed_delivery(engine: Engine) -> None:
    """60 Purchases from history (too old for Meta), 2 rejected inside the window, 1 sent."""
    now = utcnow()
    old = [
        ob.OutboxEvent(
            "nordic", "1234567890", "Purchase", f"old-{i}", now - timedelta(days=30), {"e": i}, f"{2000 + i}"
        )
        for i in range(60)
    ]
    fresh = [
        ob.OutboxEvent(
            "nordic", "1234567890", "Purchase", f"new-{i}", now - timedelta(days=1), {"e": i}, f"{3000 + i}"
        )
        for i in range(3)
    ]
    with engine.begin() as conn:
        ob.enqueue(conn, old + fresh, now=now - timedelta(days=1))
    claim = ob.claim(engine, "seed", "1234567890", limit=100, lease_s=60, now=now)
    assert claim is not None
    by_id = {e.event_id: e.id for e in claim.events}
    with engine.begin() as conn:
        ob.mark_dead(conn, claim.owner, [by_id[f"old-{i}"] for i in range(60)], reason=TOO_OLD)
        ob.mark_dead(
            conn,
            claim.owner,
            [by_id["new-0"], by_id["new-1"]],
            reason="invalid: http 400 code 100 Invalid parameter (fbtrace_id X)",
        )
        ob.mark_sent(conn, claim.owner, [by_id["new-2"]], now=now, meta_response={"events_received": 1})


def test_delivery_groups_by_reason_and_replays_only_what_can_succeed(
    view: tuple[Any, str], live_app: LiveApp
) -> None:
    page, width = view
    _seed_delivery(live_app.engine)
    page.goto(f"{live_app.url}/delivery")
    assert page.locator("#failed").inner_text() == "2" and page.locator("#expected").inner_text() == "60"
    assert "bad" not in (page.locator("#expected").get_attribute("class") or "")
    assert page.locator("#reasons tbody tr").count() == 1  # one failure reason, not 62 rows
    assert "Invalid parameter" in page.locator("#reasons").inner_text()
    assert "Too old for Meta" in page.locator("#expected-reasons").inner_text()
    assert (
        page.locator("#replay-all").inner_text() == "Replay the 2 dead event(s) that can still be delivered"
    )
    assert page.locator("#dead-events tbody tr").count() == 50 and page.locator("#older").count() == 1
    newest, oldest = page.locator("#dead-events tbody tr").first, page.locator("#dead-events tbody tr").last
    assert newest.locator("button").inner_text() == "Replay"  # rejected inside the window
    assert "too old" in oldest.inner_text() and oldest.locator("button").count() == 0  # history: no replay
    screenshot(page, f"delivery-by-reason-{width}")
    page.locator("#older").click()
    expect(page.locator("#dead-count")).to_contain_text("51–62 of 62")
    page.goto(f"{live_app.url}/delivery")
    page.locator("#replay-all").click()
    expect(page.locator(".flash.ok")).to_contain_text("2 dead event(s) queued again")
    assert page.locator("#replay-all").count() == 0 and page.locator("#failed").inner_text() == "0"
    assert page.locator("#expected").inner_text() == "60"
    view_now = views.delivery_view(live_app.engine, now=utcnow(), shops=None)
    assert view_now.replayable == 0 and view_now.dead_expected == 60
    if width == "phone":
        _no_horizontal_scroll(page)
    screenshot(page, f"delivery-after-replay-{width}")


def test_a_paused_pixel_names_a_command_that_exists(view: tuple[Any, str], live_app: LiveApp) -> None:
    page, width = view
    now = utcnow()
    with live_app.engine.begin() as conn:
        ob.enqueue(
            conn, [ob.OutboxEvent("nordic", "1234567890", "Purchase", "p-1", now, {"e": 1}, "1")], now=now
        )
        ob.pause_pixel(conn, "1234567890", reason="token expired (190)", now=now)
    page.goto(f"{live_app.url}/delivery")
    assert page.locator("#resume-hint code").inner_text() == "poas outbox resume 1234567890"
    from typer.testing import CliRunner

    from poas.cli.app import app as cli

    out = CliRunner().invoke(cli, ["outbox", "resume", "--help"])
    assert out.exit_code == 0 and "Resume a paused pixel" in out.output
    screenshot(page, f"delivery-paused-{width}")


def test_order_filters_and_paging(view: tuple[Any, str], live_app: LiveApp) -> None:
    page, width = view
    shop = live_app.settings.shops[0]
    for i in range(52):
        seed_order(live_app.engine, shop, utcnow() - timedelta(minutes=i), order_id=str(6000 + i))
    with live_app.engine.begin() as conn:  # one order sold below cost: the sweater now costs 900
        import_costs(
            conn,
            "nordic",
            [CostRow("v-wool", Decimal("900"), "NOK", utcnow() - timedelta(days=30), source="fix")],
            now=utcnow(),
        )
        recompute_profits(conn, shop, now=utcnow(), reason="cost", order_ids=["6051"])
    page.goto(f"{live_app.url}/orders")
    assert page.locator("#orders tbody tr").count() == 50 and page.locator("#older").count() == 1
    page.check("#negative")
    page.locator("#order-filters button[type=submit]").click()
    page.wait_for_url(re.compile(r"negative=1"))
    assert page.locator("#orders tbody tr").count() == 1
    assert page.locator("#orders tbody tr").first.get_attribute("data-order") == "6051"
    today = utcnow().date().isoformat()
    page.goto(f"{live_app.url}/orders?status=paid&from=2020-01-01&to={today}")
    href = page.locator("#older").get_attribute("href") or ""
    assert "status=paid" in href and "from=2020-01-01" in href and "offset=50" in href
    page.locator("#older").click()
    expect(page.locator("#orders tbody tr")).to_have_count(2)
    assert page.locator("#status").input_value() == "paid"
    screenshot(page, f"orders-filtered-{width}")


def test_long_names_are_cut_with_the_full_text_on_hover(view: tuple[Any, str], live_app: LiveApp) -> None:
    page, width = view
    from poas.store.tables.foundation import order_lines

    seed_order(live_app.engine, live_app.settings.shops[0], utcnow())
    long = "Ullgenser i merinoull med høy krage, strikket i Norge av lokal ull – limited edition vinter 2026"
    with live_app.engine.begin() as conn:
        conn.execute(order_lines.update().where(order_lines.c.line_id == "l1").values(title=long))
    page.goto(f"{live_app.url}/orders/nordic/5001")
    cell = page.locator("#lines tbody tr").first.locator(".clip")
    assert cell.get_attribute("title") == long
    assert page.evaluate("(el) => el.scrollWidth > el.clientWidth", cell.element_handle())  # cut, one line
    assert cell.bounding_box()["height"] < 30
    screenshot(page, f"order-long-name-{width}")


def test_error_pages_are_html_and_the_api_keeps_json(
    view: tuple[Any, str], live_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    page, width = view
    response = page.goto(f"{live_app.url}/orders/nordic/no-such-order")
    assert response is not None and response.status == 404
    assert page.locator("#error").get_attribute("data-status") == "404"
    assert page.locator("#error-text").inner_text() == "No order no-such-order in shop nordic."
    screenshot(page, f"error-404-{width}")

    page.goto(f"{live_app.url}/delivery")  # a stale tab: the form's token no longer matches
    page.evaluate("() => document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'stale')")
    page.evaluate(
        "() => { const f = document.querySelector('form.logout'); f.removeAttribute('hx-post'); f.submit(); }"
    )
    page.wait_for_load_state()
    assert page.locator("#error").get_attribute("data-status") == "403"
    assert "Reload the page and try again." in page.locator("#error-text").inner_text()
    assert page.locator("#reload").get_attribute("href") == "/delivery"
    screenshot(page, f"error-403-{width}")

    api = page.request.get(f"{live_app.url}/api/v1/orders/nordic/no-such-order")
    assert api.status == 404 and api.headers["content-type"].startswith("application/json")
    assert "detail" in api.json()

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail: table outbox column secret_x")

    monkeypatch.setattr(views, "order_detail", boom)
    response = page.goto(f"{live_app.url}/orders/nordic/5001")
    assert response is not None and response.status == 500
    assert "Something went wrong" in page.locator("#error").inner_text()
    assert "secret_x" not in page.content() and "Traceback" not in page.content()
    screenshot(page, f"error-500-{width}")

    api = page.request.get(f"{live_app.url}/api/v1/orders/nordic/5001")
    assert api.status == 500 and api.json() == {"detail": "Internal Server Error"}


def test_ads_drill_down_campaign_to_ad_set_to_ad(view: tuple[Any, str], live_app: LiveApp) -> None:
    from test_drilldown import DAY, TREE, seed_ads

    page, width = view
    seed_ads(live_app.engine)
    page.goto(f"{live_app.url}/ads?from={DAY}&to={DAY}")
    rows = page.locator("#drilldown tbody tr")
    assert page.locator("#drilldown").get_attribute("data-level") == "campaign" and rows.count() == 2
    c1 = next(iter(TREE))
    page.locator(f'#drilldown tr[data-key="{c1}"] a').click()
    expect(page.locator("#drilldown")).to_have_attribute("data-level", "adset")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.key)")) == sorted(TREE[c1])
    assert "Campaign 1" in page.locator("#crumbs").inner_text()
    s11 = next(iter(TREE[c1]))
    page.locator(f'#drilldown tr[data-key="{s11}"] a').click()
    expect(page.locator("#drilldown")).to_have_attribute("data-level", "ad")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.key)")) == TREE[c1][s11]
    assert rows.first.locator(".clip").get_attribute("title", timeout=1000) is not None
    if width == "phone":
        _no_horizontal_scroll(page)
    screenshot(page, f"ads-drilldown-{width}")
    page.locator("#crumbs a").first.click()
    expect(page.locator("#drilldown")).to_have_attribute("data-level", "campaign")


def test_a_stale_tab_gets_reload_the_page_not_raw_json(view: tuple[Any, str], live_app: LiveApp) -> None:
    """A tab opened before the admin logged in again: its htmx replay is refused (CSRF) and the tab
    comes back to its page with the message, instead of a silent failure or a JSON body."""
    page, width = view
    _seed_delivery(live_app.engine)
    page.goto(f"{live_app.url}/delivery")
    other = page.context.new_page()  # same browser, another tab: log out and in again
    other.goto(f"{live_app.url}/settings")
    other.locator("form.logout button").click()
    other.wait_for_url(re.compile(r"/login"))
    other.fill("#password", PASSWORD)
    other.click("button[type=submit]")
    other.wait_for_load_state()
    other.close()
    page.locator("#replay-all").click()  # htmx POST with the old tab's token
    expect(page.locator(".flash.error[role=status]")).to_contain_text("Reload the page and try again.")
    assert page.url.endswith("/delivery") and "detail" not in page.locator("main").inner_text()
    assert views.delivery_view(live_app.engine, now=utcnow(), shops=None).replayable == 2  # nothing replayed
    screenshot(page, f"error-403-htmx-{width}")


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_the_order_page_speaks_bokmal(browser: Any, live_app: LiveApp, viewport: dict[str, int]) -> None:
    seed_order(live_app.engine, live_app.settings.shops[0], utcnow())
    context = browser.new_context(viewport=viewport, locale="nb-NO")
    page = context.new_page()
    page.goto(f"{live_app.url}/login?next=/orders/nordic/5001")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/orders/nordic/5001$"))
    sources = page.locator("#waterfall-table").inner_text()
    assert "Fraktregel parcel-5kg" in sources and "pick-pack (én gang per ordre)" in sources, sources
    assert "venter på at arbeideren sender den" in page.locator("#meta-status").inner_text()
    screenshot(page, f"order-nb-{'wide' if viewport is WIDE else 'phone'}")
    context.close()


def test_the_campaigns_page_leads_to_the_drill_down(view: tuple[Any, str], live_app: LiveApp) -> None:
    from test_drilldown import DAY, TREE, seed_ads

    page, width = view
    seed_ads(live_app.engine)
    page.goto(f"{live_app.url}/campaigns?from={DAY}&to={DAY}")
    page.locator("#drill-down").click()
    expect(page.locator("#drilldown")).to_have_attribute("data-level", "campaign")
    assert page.locator("#drilldown tbody tr").count() == len(TREE)
    assert f"from={DAY}" in page.url
    screenshot(page, f"campaigns-to-drilldown-{width}")
