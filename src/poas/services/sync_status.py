"""Recurring syncs that must not go quiet: each records its attempts, and one silent for too long is a
condition for the alerts (services.alerts) and `poas doctor`.

A kind of sync is registered once (`register`) with the settings that make it expected, per shop or
not per shop (`shop_id` ""), and how long it may stay without a success. Two are built in:

- `spend`: the ad-spend sync (`poas spend sync`, run by cron or a systemd timer), expected for every
  shop with an `ad_account_id` and an `access_token`; silent after `POAS_SPEND_SYNC_SILENCE_S`.
- `fx`: the exchange-rate sync (`poas worker` / `poas serve` every `POAS_FX_SYNC_EVERY_S`, and
  `poas fx sync`), expected unless `POAS_FX_SYNC_SOURCE=off`; silent after `POAS_FX_SYNC_SILENCE_S`.

A later sync (the shops' order reconciliation) registers as another kind and is watched the same way.
A sync that never succeeded is silent since it was first expected: its first attempt, or the first
alert check that looked for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine

from poas.domain.error_text import mask_personal
from poas.settings import Settings
from poas.store import syncs as store

log = structlog.get_logger("poas.syncs")

SPEND = "spend"
FX = "fx"
GOOGLE_SPEND = "google_spend"


@dataclass(frozen=True, slots=True)
class SyncKind:
    kind: str  # stored in `sync_status.kind` and part of the alert key
    label: str  # "ad-spend sync"
    silence_s: Callable[[Settings], float]  # how long it may go without a success
    expected: Callable[[Settings], list[str]]  # the shops it should run for ("" when not per shop)
    action: Callable[[str], str]  # what to do when it went silent, given the shop id ("" if none)


KINDS: dict[str, SyncKind] = {}


def register(kind: SyncKind) -> SyncKind:
    KINDS[kind.kind] = kind
    return kind


def _spend_action(shop_id: str) -> str:
    return (
        f"run `poas spend sync --shop {shop_id}` by hand to see the error; check that the cron job or "
        "systemd timer that runs it is still active, and that the shop's access token is valid and may "
        "read the ad account's insights (ads_read). Until then the reports show old ad spend, so ROAS "
        "and POAS of the last days are wrong."
    )


def _fx_action(_: str) -> str:
    return (
        "check that `poas worker` (or `poas serve`) is running and can reach the feed "
        "(POAS_FX_SYNC_SOURCE, POAS_FX_ECB_BASE_URL / POAS_FX_NORGES_BANK_BASE_URL); `poas fx sync` "
        "shows the error. Or import rates (`poas import fx FILE`). Until then orders in other "
        "currencies are priced with the latest stored rate."
    )


register(
    SyncKind(
        SPEND,
        "ad-spend sync",
        lambda s: s.spend_sync_silence_s,
        lambda s: [shop.id for shop in s.shops if shop.ad_account_id and shop.access_token is not None],
        _spend_action,
    )
)


def _google_spend_action(shop_id: str) -> str:
    return (
        f"run `poas spend sync --channel google --shop {shop_id}` by hand to see the error; check the "
        "job that runs it and the shop's Google Ads OAuth client and refresh token (docs/google.md#spend). "
        "Until then the reports show old Google spend."
    )


register(
    SyncKind(
        GOOGLE_SPEND,
        "Google Ads spend sync",
        lambda s: s.spend_sync_silence_s,
        lambda s: [
            shop.id for shop in s.shops if shop.google_ads_customer_id and shop.google_ads_refresh_token
        ],
        _google_spend_action,
    )
)
register(
    SyncKind(
        FX,
        "exchange-rate sync",
        lambda s: s.fx_sync_silence_s,
        lambda s: [] if s.fx_sync_source == "off" else [""],
        _fx_action,
    )
)


# ---------------------------------------------------------------- recording attempts

_SECRETS = re.compile(r"(access_token|appsecret_proof|token|key|password)=[^\s&]+", re.I)
_LONG = re.compile(r"\b[A-Za-z0-9_\-]{32,}\b")  # tokens, hashes, proofs


def reason_text(exc: BaseException, *, known: tuple[type[BaseException], ...] = ()) -> str:
    """A failure's reason safe to store and show: a sync's own errors (`known`) with their first line
    (already free of tokens and credentials, re-checked here), anything else by its class alone (a
    store error's text may quote SQL parameters)."""
    name = type(exc).__name__
    if not isinstance(exc, known) or not str(exc):
        return name
    first = " ".join(str(exc).splitlines()[0].split())
    first = _LONG.sub("[redacted]", _SECRETS.sub(r"\1=[redacted]", first))
    return f"{name}: {mask_personal(first)}"[: store.MAX_ERROR_CHARS]


def record_attempt(engine: Engine, kind: str, shop_id: str, *, now: datetime, error: str | None) -> None:
    """Record one attempt (a success when `error` is None). Never raises: a store that cannot take the
    record must not hide the sync's own result or error (it is logged; the silence alert covers it)."""
    try:
        with engine.begin() as conn:
            store.record(conn, kind, shop_id, now=now, error=error)
    except Exception as exc:  # the store: logged by class, the sync's outcome stands
        log.warning("sync status not recorded", kind=kind, shop=shop_id or None, error=type(exc).__name__)


# ---------------------------------------------------------------- silence


@dataclass(frozen=True, slots=True)
class SyncState:
    kind: SyncKind
    shop_id: str
    silent_since: datetime  # the last success, or when it was first expected
    limit: timedelta  # the silence allowed
    row: store.SyncRow | None  # None: never tried nor looked for
    now: datetime

    @property
    def silent(self) -> bool:
        return self.row is not None and self.now - self.silent_since > self.limit

    @property
    def key(self) -> str:
        """`spend:nordlys`, `fx`: the alert key's tail."""
        return f"{self.kind.kind}:{self.shop_id}" if self.shop_id else self.kind.kind

    @property
    def name(self) -> str:
        """`ad-spend sync of shop nordlys`, `exchange-rate sync`."""
        return f"{self.kind.label} of shop {self.shop_id}" if self.shop_id else self.kind.label


def _expected(settings: Settings) -> list[tuple[SyncKind, str]]:
    return [(kind, shop) for kind in KINDS.values() for shop in kind.expected(settings)]


def sync_states(
    engine: Engine, settings: Settings, *, now: datetime, start_clocks: bool = False
) -> list[SyncState]:
    """Every expected sync with its last success and whether it is silent now. With `start_clocks`
    (the alert check), an expected sync without any record gets one, so its silence counts from now;
    without (doctor, status) such a sync is not silent: nothing has looked for it yet."""
    with engine.connect() as conn:
        rows = store.load(conn)
    expected = _expected(settings)
    missing = [(k.kind, shop) for k, shop in expected if (k.kind, shop) not in rows]
    if start_clocks and missing:
        with engine.begin() as conn:
            store.expect(conn, missing, now=now)
            rows = store.load(conn)
    found = []
    for kind, shop in expected:
        row = rows.get((kind.kind, shop))
        since = (row.last_success_at or row.expected_since) if row else now
        found.append(SyncState(kind, shop, since, timedelta(seconds=kind.silence_s(settings)), row, now))
    return found


def silent_syncs(
    engine: Engine, settings: Settings, *, now: datetime, start_clocks: bool = False
) -> list[SyncState]:
    return [s for s in sync_states(engine, settings, now=now, start_clocks=start_clocks) if s.silent]


def last_row(engine: Engine, kind: str, shop_id: str) -> store.SyncRow | None:
    with engine.connect() as conn:
        return store.load(conn).get((kind, shop_id))


def span_text(span: timedelta) -> str:
    """`50 min`, `40 h`, `4 d 3 h`: a silence for people (whole units, rounded down)."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 72:
        return f"{hours} h"
    days, rest = divmod(hours, 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else None


def describe(state: SyncState, *, clean: Callable[[str], str] = str) -> list[str]:
    """What is known about a silent sync, as sentences (the alert's lines, the doctor's detail); the
    stored reason passes through `clean` (the alerts' scrub)."""
    row = state.row
    lines = []
    if row is not None and row.last_success_at is not None:
        lines.append(
            f"Last success {iso(row.last_success_at)}, {span_text(state.now - row.last_success_at)} ago."
        )
    else:
        lines.append(f"No success recorded since it was first expected ({iso(state.silent_since)}).")
    if row is not None and row.last_attempt_at is not None and row.last_attempt_at == row.last_failure_at:
        reason = clean(row.last_error) if row.last_error else "no reason recorded"
        lines.append(f"It was tried since, last at {iso(row.last_attempt_at)}, and failed: {reason}")
    else:
        lines.append(
            "It has not been tried since: is whatever runs it (a cron job, a timer, the worker) "
            "still running?"
        )
    return lines
