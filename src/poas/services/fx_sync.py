"""Exchange rates kept current: fetch the ECB or Norges Bank feed, store only what is new, say what.

Precedence (docs/fx.md): a rate the user imported wins over a synced one for the same pair (either
direction) and date, because a sync never writes over it and an import replaces a synced row.
Otherwise the most recent rate on or before the day converts (`FxTable`), stored rates beating the
bundled ECB history on the same day. Synced ECB rates are only kept after the bundled history's
last day: before it they would repeat it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import Connection, Engine, select

from poas import __version__
from poas.domain.fx import ECB_FEED as ECB
from poas.domain.fx import FEED_SOURCES, FxError, FxRate, FxUse, ecb_last_date
from poas.domain.fx import NORGES_BANK_FEED as NORGES_BANK
from poas.domain.money import CurrencyError, check_currency
from poas.services import sync_status
from poas.settings import Settings
from poas.sources.fx_csv import FxRowError
from poas.sources.fx_feeds import (
    ECB_DAILY,
    ECB_HIST,
    ECB_HIST_90D,
    FeedRates,
    FxFeedError,
    parse_ecb_xml,
    parse_norges_bank_csv,
)
from poas.store.costs import load_fx_rates, load_fx_table, save_fx_rates
from poas.store.tables.foundation import orders, product_costs
from poas.store.tables.spend import ad_spend

LABELS = {"ecb": ECB, "norges_bank": NORGES_BANK}
TIMEOUT_S = 20.0
HIST_90D_REACH = 85  # days back the 90-day file surely covers (the ECB says "last 90 days")

_Key = tuple[str, str, date]


class FxSyncError(RuntimeError):
    """A sync could not run: the feed was unreachable, answered an error, or sent something else."""


@dataclass(slots=True)
class FxSyncReport:
    """What one sync did. `saved` counts new or changed rates; nothing else was written."""

    source: str
    fetched: str | None = None  # the URL asked (no credentials), or None when nothing could be new
    start: date | None = None
    saved: int = 0
    unchanged: int = 0
    kept_user: int = 0  # synced rates not stored because the user's rate for that pair and day wins
    ignored: int = 0  # outside the wanted currencies or dates, inside the bundled history, synthetic
    skipped: list[FxRowError] = field(default_factory=list)  # bad rows in the feed
    latest: date | None = None  # the latest day now stored from this source
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        what = f"fetched {self.fetched}" if self.fetched else "nothing to fetch"
        since = f" from {self.start}" if self.start and self.fetched else ""
        latest = f"; latest rate {self.latest}" if self.latest else ""
        return (
            f"{self.source}: {what}{since}: {self.saved} new, {self.unchanged} unchanged, "
            f"{self.kept_user} kept as the user's, {len(self.skipped)} bad rows skipped{latest}"
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    pairs: frozenset[tuple[str, str]]  # (base, quote) wanted from the feed
    start: date


def wanted_currencies(conn: Connection, settings: Settings) -> list[str]:
    """EUR, the shops' currencies, and `fx_sync_currencies` when set, else those that stored orders,
    costs and ad spend use. Only these are kept: every pricing reads the whole rate table."""
    found = {s.currency for s in settings.shops} or {"NOK"}  # unconfigured: the default NOK shop
    found.add("EUR")
    listed = [c.strip() for c in settings.fx_sync_currencies.split(",") if c.strip()]
    if listed:
        found.update(listed)
    else:
        for column in (orders.c.currency, product_costs.c.currency, ad_spend.c.currency):
            found.update(conn.execute(select(column).distinct()).scalars())
    out: list[str] = []
    for code in sorted(found):
        try:
            out.append(check_currency(code))
        except CurrencyError:
            continue  # a stored code poas no longer knows cannot be converted anyway
    return out


def _pairs(source: str, currencies: Iterable[str]) -> frozenset[tuple[str, str]]:
    if source == ECB:
        return frozenset(("EUR", c) for c in currencies if c != "EUR")
    return frozenset((c, "NOK") for c in currencies if c != "NOK")


def _weekdays(start: date, end: date) -> int:
    return sum(1 for n in range((end - start).days + 1) if (start + timedelta(days=n)).weekday() < 5)


def _plan(
    existing: dict[_Key, FxRate], source: str, pairs: frozenset[tuple[str, str]], since: date | None
) -> _Plan:
    """From the day after each pair's latest rate from `source` (first time: after the bundled history)."""
    if since is not None:
        return _Plan(pairs, since)
    latest: dict[tuple[str, str], date] = {}
    for (base, quote, day), rate in existing.items():
        if rate.source == source and (base, quote) in pairs and day > latest.get((base, quote), date.min):
            latest[(base, quote)] = day
    first = ecb_last_date() + timedelta(days=1)
    return _Plan(pairs, min(latest[p] + timedelta(days=1) if p in latest else first for p in pairs))


def _public(url: httpx.URL) -> str:
    """The URL without user:password, for messages and logs."""
    return str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)


def _get(client: httpx.Client, url: str, params: dict[str, str] | None, label: str) -> httpx.Response:
    try:
        return client.get(url, params=params)
    except httpx.HTTPError as exc:
        target = _public(httpx.URL(url, params=params))
        raise FxSyncError(f"{label}: could not fetch {target}: {type(exc).__name__}: {exc}") from None


def _fetch_ecb(client: httpx.Client, base_url: str, plan: _Plan, today: date) -> tuple[str, FeedRates]:
    days_back = (today - plan.start).days
    if _weekdays(plan.start, today) <= 1:
        name = ECB_DAILY  # only today's (or the last business day's) rates can be missing
    elif days_back <= HIST_90D_REACH:
        name = ECB_HIST_90D
    else:
        name = ECB_HIST
    response = _get(client, f"{base_url.rstrip('/')}/{name}", None, ECB)
    shown = _public(response.request.url)
    if response.status_code != 200:
        raise FxSyncError(f"{ECB}: {shown} answered HTTP {response.status_code}")
    return shown, parse_ecb_xml(response.content, name=name)


def _fetch_norges_bank(
    client: httpx.Client, base_url: str, plan: _Plan, today: date
) -> tuple[str, FeedRates]:
    key = "+".join(sorted(base for base, _ in plan.pairs))
    params = {
        "format": "csv",
        "locale": "en",
        "startPeriod": plan.start.isoformat(),
        "endPeriod": today.isoformat(),
    }
    response = _get(client, f"{base_url.rstrip('/')}/data/EXR/B.{key}.NOK.SP", params, NORGES_BANK)
    shown = _public(response.request.url)
    if response.status_code == 404:
        # UNCONFIRMED for Norges Bank: SDMX REST services answer 404 "no results" when the period
        # holds no observation (a weekend, a holiday); a wrong base URL looks the same, so say so.
        return shown, FeedRates()
    if response.status_code != 200:
        raise FxSyncError(f"{NORGES_BANK}: {shown} answered HTTP {response.status_code}")
    return shown, parse_norges_bank_csv(response.content, name=f"EXR B.{key}.NOK.SP")


def _index(rates: Iterable[FxRate]) -> dict[_Key, FxRate]:
    return {(r.base, r.quote, r.rate_date): r for r in rates}


def _select(
    feed: FeedRates, plan: _Plan, source: str, existing: dict[_Key, FxRate], report: FxSyncReport
) -> list[FxRate]:
    """The feed's rates worth writing: wanted, new or changed, and not over a user's rate."""
    bundled_until = ecb_last_date() if source == ECB else date.min
    out: list[FxRate] = []
    for rate in feed.rates:
        if (
            (rate.base, rate.quote) not in plan.pairs
            or rate.rate_date < plan.start
            or rate.rate_date <= bundled_until
        ):
            report.ignored += 1
            continue
        same = existing.get((rate.base, rate.quote, rate.rate_date))
        inverse = existing.get((rate.quote, rate.base, rate.rate_date))
        if any(r is not None and r.source not in FEED_SOURCES for r in (same, inverse)):
            report.kept_user += 1
        elif same is not None and same.source == source and same.rate == rate.rate:
            report.unchanged += 1
        else:
            out.append(rate)
    return out


def sync_fx(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    source: str | None = None,
    since: date | None = None,
) -> FxSyncReport:
    """Fetch what is missing from the feed (`source`: ecb or norges_bank, default the setting) and store it.

    Later syncs fetch from the day after the latest stored rate, so a second run in a row stores
    nothing; `since` fetches again from that day (changed rates are replaced). Raises FxSyncError
    when the feed cannot be fetched or read; bad rows only land in the report's `skipped`.

    Each run's success or failure is recorded (services.sync_status), so a sync that stopped
    succeeding is alerted; a sync that found nothing new is a success.
    """
    try:
        report = _sync_fx(engine, settings, now=now, source=source, since=since)
    except Exception as exc:
        reason = sync_status.reason_text(exc, known=(FxSyncError,))
        sync_status.record_attempt(engine, sync_status.FX, "", now=now, error=reason)
        raise
    sync_status.record_attempt(engine, sync_status.FX, "", now=now, error=None)
    return report


def _sync_fx(
    engine: Engine, settings: Settings, *, now: datetime, source: str | None, since: date | None
) -> FxSyncReport:
    key = source or settings.fx_sync_source
    if key not in LABELS:
        raise FxSyncError(f"exchange-rate sync source {key!r}: use one of {', '.join(LABELS)}")
    label = LABELS[key]
    today = now.date()
    with engine.connect() as conn:
        currencies = wanted_currencies(conn, settings)
        existing = _index(load_fx_rates(conn))
    report = FxSyncReport(label)
    if label == NORGES_BANK and any(s.currency != "NOK" for s in settings.shops):
        report.notes.append(
            "Norges Bank quotes against NOK only; shops in other currencies need the ECB source"
        )
    pairs = _pairs(label, currencies)
    if not pairs:
        report.notes.append(f"no currency besides {'EUR' if label == ECB else 'NOK'} to keep current")
        return report
    plan = _plan(existing, label, pairs, since)
    report.start = plan.start
    if plan.start > today or _weekdays(plan.start, today) == 0:
        report.notes.append("up to date: no business day since the latest stored rate")
        report.latest = _latest(existing.values(), label)
        return report
    base_url = settings.fx_ecb_base_url if label == ECB else settings.fx_norges_bank_base_url
    headers = {"User-Agent": f"poas/{__version__} (exchange rates)"}
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=True, headers=headers) as client:
        fetch = _fetch_ecb if label == ECB else _fetch_norges_bank
        try:
            report.fetched, feed = fetch(client, base_url, plan, today)
        except FxFeedError as exc:
            raise FxSyncError(str(exc)) from None
    report.ignored += feed.ignored
    report.skipped = feed.errors
    if not feed.rates and not feed.errors:
        report.notes.append("the feed held no rates for that period")
    with engine.begin() as conn:
        existing = _index(load_fx_rates(conn))  # again, inside the write: an import may have landed
        fresh = _select(feed, plan, label, existing, report)
        report.saved = save_fx_rates(conn, fresh, now=now)
    report.latest = _latest([*existing.values(), *fresh], label)
    return report


def _latest(rates: Iterable[FxRate], source: str) -> date | None:
    days = [r.rate_date for r in rates if r.source == source]
    return max(days) if days else None


@dataclass(frozen=True, slots=True)
class RateAnswer:
    """Which rate would convert `base` to `quote` on `day`, or why none would."""

    base: str
    quote: str
    day: date
    use: FxUse | None
    error: str | None


def rate_on(engine: Engine, base: str, quote: str, day: date) -> RateAnswer:
    """The rate pricing uses for an order in `base` for a shop in `quote` placed on `day`."""
    with engine.connect() as conn:
        table = load_fx_table(conn)
    try:
        use = table.rate(check_currency(base), check_currency(quote), day)
    except (FxError, CurrencyError) as exc:
        return RateAnswer(base, quote, day, None, str(exc))
    return RateAnswer(use.from_currency, use.to_currency, day, use, None)


def currencies_in_use(engine: Engine, settings: Settings) -> list[str]:
    """The currencies a sync keeps current (see `wanted_currencies`)."""
    with engine.connect() as conn:
        return wanted_currencies(conn, settings)


@dataclass(frozen=True, slots=True)
class StoredSource:
    source: str
    rates: int
    first: date
    last: date


def stored_sources(engine: Engine) -> list[StoredSource]:
    """How many stored rates each source has, and the days they span."""
    spans: dict[str, list[date]] = {}
    with engine.connect() as conn:
        for r in load_fx_rates(conn):
            spans.setdefault(r.source, []).append(r.rate_date)
    return [StoredSource(s, len(d), min(d), max(d)) for s, d in sorted(spans.items())]


def rate_text(rate: Decimal) -> str:
    """A rate for people: rounded to 6 decimals, no exponent (pricing uses the exact rate)."""
    return f"{rate.quantize(Decimal('0.000001')).normalize():f}" if rate < 1000 else f"{rate:.2f}"
