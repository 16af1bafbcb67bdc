"""The worker keeps exchange rates current: a sync at start, nothing fetched while nothing can be new,
a failing feed logged (without credentials) and retried, never stopping the other duties."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fx_feed_server import FxFeeds, serve_fx_feeds
from sqlalchemy import Engine, func, select
from structlog.testing import capture_logs

from poas.services.housekeeping import HousekeepingReport, run_housekeeping
from poas.settings import Settings
from poas.store.tables.foundation import fx_rates

SUNDAY = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def feeds() -> Iterator[FxFeeds]:
    with serve_fx_feeds() as f:
        yield f


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(fx_rates)).scalar_one())


async def _run_until(
    engine: Engine, settings: Settings, done: Any, seconds: float = 20.0
) -> HousekeepingReport:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_housekeeping(engine, settings, stop, inbox_every_s=0.02, clock=lambda: SUNDAY)
    )
    for _ in range(int(seconds / 0.02)):
        await asyncio.sleep(0.02)
        if done():
            break
    stop.set()
    return await task


async def test_the_worker_syncs_at_start_and_then_fetches_only_when_something_can_be_new(
    engine: Engine, feeds: FxFeeds
) -> None:
    settings = Settings(fx_sync_source="ecb", fx_ecb_base_url=feeds.ecb_url, fx_sync_every_s=0.05)
    ticks_after_sync: list[int] = []

    def done() -> bool:  # the rates are in, and several more sync intervals have passed
        if _count(engine) == 20:
            ticks_after_sync.append(1)
        return len(ticks_after_sync) > 60

    report = await _run_until(engine, settings, done)
    assert report.errors == [] and report.fx_errors == []
    assert report.fx_saved == 20 and _count(engine) == 20
    assert report.fx_passes >= 3  # every 0.05 s here; the rest were up to date (a Sunday)
    assert feeds.requests == ["/stats/eurofxref/eurofxref-hist-90d.xml"]
    assert report.inbox_passes > report.fx_passes


async def test_a_failing_feed_is_logged_without_credentials_and_retried(
    engine: Engine, feeds: FxFeeds
) -> None:
    feeds.fail_with = 503
    url = feeds.ecb_url.replace("http://", "http://proxyuser:s3cret-pass@")
    settings = Settings(fx_sync_source="ecb", fx_ecb_base_url=url, fx_sync_every_s=0.05)

    def done() -> bool:
        if len(feeds.requests) >= 3:
            feeds.fail_with = None  # the feed is back: the next interval's sync succeeds
        return _count(engine) == 20

    with capture_logs() as logs:
        report = await _run_until(engine, settings, done)
    assert _count(engine) == 20 and report.fx_saved == 20
    assert len(report.fx_errors) >= 3 and all("answered HTTP 503" in e for e in report.fx_errors)
    assert report.errors == []  # a feed outage is not the worker's failure: inbox passes went on
    failed = [e for e in logs if e["event"].startswith("exchange-rate sync failed")]
    assert failed and failed[0]["log_level"] == "warning" and failed[0]["retry_in_s"] == 0.05
    assert "answered HTTP 503" in failed[0]["detail"]
    assert not any("s3cret" in str(e) or "proxyuser" in str(e) for e in logs)
    assert any(e["event"] == "exchange rates synced" and e["saved"] == 20 for e in logs)


async def test_off_fetches_nothing(engine: Engine, feeds: FxFeeds) -> None:
    settings = Settings(fx_sync_source="off", fx_ecb_base_url=feeds.ecb_url, fx_sync_every_s=0.01)
    ticks: list[int] = []
    report = await _run_until(engine, settings, lambda: ticks.append(1) or len(ticks) > 25)
    assert report.fx_passes == 0 and feeds.requests == [] and report.inbox_passes > 5
