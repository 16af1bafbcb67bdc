"""`spend sync` against the sandbox's insights endpoints over real HTTP: paging, async runs, re-sync."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from poas.meta.insights import InsightsClient, InsightsError
from poas.meta.sandbox import RunningSandbox, run_sandbox
from poas.services.spend import sync_spend
from poas.settings import Settings, ShopConfig
from poas.store.tables.spend import ad_spend, rollup_daily

TOKEN = "EAAB-sandbox-token-0123456789"
NOW = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
SHOP = ShopConfig(id="s1", currency="NOK", ad_account_id="act_777", access_token=SecretStr(TOKEN))


def meta_row(day: date, ad: int, spend: str) -> dict[str, Any]:
    """A row shaped like Meta's: string numbers, purchases as action lists."""
    return {
        "account_currency": "NOK",
        "campaign_id": f"12020000000000{ad // 2}",
        "campaign_name": f"Kampanje {ad // 2}",
        "adset_id": f"12021000000000{ad // 2}",
        "adset_name": f"Annonsesett {ad // 2}",
        "ad_id": f"12022000000000{ad}",
        "ad_name": f"Annonse {ad}",
        "spend": spend,
        "impressions": "1520",
        "clicks": "37",
        "actions": [
            {"action_type": "link_click", "value": "37"},
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "3"},
            {"action_type": "purchase", "value": "3"},
        ],
        "action_values": [
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "1499.5"},
            {"action_type": "purchase", "value": "1499.5"},
        ],
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
    }


def rows(spend_of_first: str = "250.10") -> list[dict[str, Any]]:
    out = []
    for offset in range(3):
        day = date(2026, 3, 5) + timedelta(days=offset)
        for ad in range(3):
            out.append(meta_row(day, ad, spend_of_first if (offset, ad) == (0, 0) else "100.00"))
    return out


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox() as sb:
        yield sb


def load(sb: RunningSandbox, **body: Any) -> None:
    httpx.post(f"{sb.url}/_sandbox/insights", json={"account_id": "777", **body}).raise_for_status()


def calls(sb: RunningSandbox) -> list[str]:
    return list(httpx.get(f"{sb.url}/_sandbox/insights").json()["calls"])


def client(sb: RunningSandbox, **kw: Any) -> InsightsClient:
    return InsightsClient(base_url=sb.url, version="v25.0", access_token=TOKEN, sleep=lambda s: None, **kw)


def test_sync_pages_through_cursors_and_a_resync_upserts(engine: Engine, sandbox: RunningSandbox) -> None:
    load(sandbox, rows=rows(), page_size=2)
    settings = Settings(graph_base_url=sandbox.url, graph_version="v25.0")
    first = sync_spend(engine, settings, SHOP, now=NOW, since=date(2026, 3, 1), until=date(2026, 3, 8))
    assert (first.rows, first.inserted, first.updated) == (9, 9, 0)
    pages = [c for c in calls(sandbox) if c.startswith("GET act_777/insights")]
    assert len(pages) == 5 and pages[0].endswith("after=") and not pages[1].endswith("after=")

    load(sandbox, rows=rows(spend_of_first="300.00"), page_size=4)
    again = sync_spend(
        engine, settings, SHOP, now=NOW + timedelta(hours=1), since=date(2026, 3, 1), until=date(2026, 3, 8)
    )
    assert (again.rows, again.inserted, again.updated) == (9, 0, 9)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ad_spend)).scalar_one() == 9
        first_ad = conn.execute(
            select(ad_spend).where(ad_spend.c.ad_id == "120220000000000", ad_spend.c.day == date(2026, 3, 5))
        ).one()
        shop_day = conn.execute(
            select(rollup_daily.c.spend_minor, rollup_daily.c.meta_value_minor).where(
                rollup_daily.c.level == "shop", rollup_daily.c.day == date(2026, 3, 5)
            )
        ).one()
    assert first_ad.spend_minor == 30000 and first_ad.meta_purchases == 3
    assert first_ad.meta_purchase_value_minor == 149950  # not doubled by the overlapping action types
    assert first_ad.campaign_name == "Kampanje 0" and first_ad.currency == "NOK"
    assert shop_day.spend_minor == 30000 + 2 * 10000  # rollups rebuilt for the synced days


def test_long_ranges_use_an_async_report_run(sandbox: RunningSandbox) -> None:
    load(sandbox, rows=rows(), page_size=2, polls_before_done=2)
    c = client(sandbox, async_after_days=2, poll_interval_s=0.5)
    got = list(c.fetch("act_777", date(2026, 3, 1), date(2026, 3, 8)))
    assert len(got) == 9 and got[0].spend == Decimal("250.10")
    log = calls(sandbox)
    assert log[0] == "POST act_777/insights"
    assert sum(1 for x in log if x.startswith("GET 6")) >= 3  # polls, then the run's pages
    assert any("/insights after=" in x and x.startswith("GET 6") for x in log)
    assert c.slept.count(0.5) == 2  # waited between polls


def test_usage_headers_slow_the_client_down(sandbox: RunningSandbox) -> None:
    load(sandbox, rows=rows(), page_size=9, usage_pct=90)
    c = client(sandbox, usage_threshold_pct=75)
    assert len(list(c.fetch("777", date(2026, 3, 1), date(2026, 3, 8)))) == 9
    assert c.slept and c.slept[0] >= 10


def test_throttle_error_waits_then_retries(sandbox: RunningSandbox) -> None:
    load(sandbox, rows=rows(), usage_pct=100, regain_minutes=1)
    c = client(sandbox, max_retries=1)
    with pytest.raises(InsightsError) as err:
        list(c.fetch("777", date(2026, 3, 1), date(2026, 3, 8)))
    assert err.value.code == 17 and err.value.throttled
    assert c.slept == [60.0]  # estimated_time_to_regain_access (minutes) honoured once


def test_expired_token_is_a_clear_error_and_the_token_is_never_logged(
    sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    load(sandbox, rows=rows())
    caplog.set_level(logging.INFO)
    list(client(sandbox).fetch("777", date(2026, 3, 1), date(2026, 3, 8)))
    expired = InsightsClient(
        base_url=sandbox.url, version="v25.0", access_token="expired", sleep=lambda s: None
    )
    with pytest.raises(InsightsError, match=r"\(190\) Error validating access token") as err:
        list(expired.fetch("777", date(2026, 3, 1), date(2026, 3, 8)))
    assert err.value.code == 190
    assert "access_token=***" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(err.value)
