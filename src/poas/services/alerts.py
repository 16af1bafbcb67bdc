"""Alerts when delivery needs a human: checks the store, formats, and posts to a Slack-style webhook.

Conditions are read from the database, so every worker sees the same ones and a restart loses
nothing: a paused pixel (firing until resumed, then one "resolved"), events dead-lettered since the
last check (one summary per pixel with the count), and inbox deliveries that failed for good or have
been retried for over an hour, and recurring syncs (ad spend, exchange rates: services.sync_status)
that have not succeeded for longer than their setting allows. Per alert key the store remembers what
the receiver was last told; a checker changes that row only if nobody else did since it read it, so
of several workers exactly one sends. A failed POST is logged (never the URL: it holds the receiver's
credential), the row is put back, and the next check tries again. Alerts carry ids, counts and Meta's
stored reasons (scrubbed of anything token- or contact-like), never a payload, a body or a token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import Engine

from poas.domain.destinations import (
    describe_destination,
    google_adjustment_id,
    google_destination_id,
    is_google,
    platform_of,
)
from poas.services import sync_status as syncs
from poas.services.login_attempts import duration_text
from poas.settings import Settings
from poas.store import alerts as store
from poas.store.syncs import SyncRow

log = structlog.get_logger("poas.alerts")

POST_TIMEOUT_S = 5.0
INBOX_STUCK_AFTER = timedelta(hours=1)
INBOX_REJECTED_WITHIN = timedelta(days=7)  # rejected deliveries alert this long, then resolve
MAX_REASON_CHARS = 300
PAUSED = "pixel_paused:"
DEAD = "dead_letters:"
INBOX = "inbox_stuck"
SYNC = "sync_silent:"

AlertState = Literal["firing", "resolved"]


# ---------------------------------------------------------------- what an alert says


@dataclass(frozen=True, slots=True)
class Alert:
    key: str  # stable per condition: `pixel_paused:<pixel>`, `dead_letters:<pixel>`, `inbox_stuck`
    state: AlertState
    summary: str  # one line
    lines: tuple[str, ...]  # the details, as sentences for a chat
    action: str  # what to do ("" when resolved)
    details: dict[str, Any]  # the same facts, structured, for the json format
    at: datetime


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else None


def format_slack(alert: Alert) -> dict[str, Any]:
    """Slack's (and Teams' incoming-webhook) `{"text": ...}` message."""
    mark = ":rotating_light:" if alert.state == "firing" else ":white_check_mark:"
    text = [f"{mark} *poas: {alert.summary}*", *alert.lines]
    if alert.action:
        text.append(f"What to do: {alert.action}")
    return {"text": "\n".join(text)}


def format_json(alert: Alert) -> dict[str, Any]:
    details = dict(alert.details)
    if alert.action:
        details["action"] = alert.action
    return {
        "alert": alert.key,
        "state": alert.state,
        "summary": alert.summary,
        "details": details,
        "at": _iso(alert.at),
    }


def render(alert: Alert, fmt: str) -> dict[str, Any]:
    return format_json(alert) if fmt == "json" else format_slack(alert)


_SCRUB = (
    (re.compile(r"(access_token|appsecret_proof|token)=[^\s&]+", re.I), r"\1=[redacted]"),
    (re.compile(r"https?://\S+"), "[url]"),  # a URL may carry a token or a customer's address
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b[A-Za-z0-9_\-]{32,}\b"), "[redacted]"),  # tokens, hashes, proofs
    (re.compile(r"\+?\d[\d \-]{7,}\d"), "[number]"),  # phone numbers
)


def scrub(reason: str) -> str:
    """A stored reason made safe for a chat: tokens, URLs, e-mail addresses and phone-like numbers out.

    The reasons are Meta's error messages with their codes, already redacted of the shop's token by the
    client; this is the second line of defence, and it keeps them short.
    """
    text = " ".join(reason.split())
    for pattern, repl in _SCRUB:
        text = pattern.sub(repl, text)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _shops(shops: tuple[str, ...]) -> str:
    if not shops:
        return ""
    return f" (shop {shops[0]})" if len(shops) == 1 else f" (shops {', '.join(shops)})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _noun(destination_id: str) -> str:
    return "conversion action" if is_google(destination_id) else "pixel"


def _destinations(shop: Any) -> set[str]:
    """The destination ids a shop sends to: its pixel and its Google conversion actions."""
    out = set()
    for a in shop.google.conversion_actions:
        out.add(google_destination_id(a.customer_id, a.conversion_action_id))
        out.add(google_adjustment_id(a.customer_id, a.conversion_action_id))
    if shop.pixel_id:
        out.add(shop.pixel_id)
    return out


def pixel_paused_alert(p: store.PausedPixelRow, *, now: datetime, repeat: bool) -> Alert:
    """A paused destination: a Meta pixel, or a Google Ads conversion action (its own wording)."""
    reason = scrub(p.reason) if p.reason else "no reason recorded"
    until = f" until {_iso(p.paused_until)}" if p.paused_until else " until someone resumes it"
    platform = platform_of(p.pixel_id)
    lines = (
        f"Reason {platform} gave: {reason}",
        f"Paused since {_iso(p.paused_at) or 'unknown'}{until}; {_plural(p.waiting, 'event')} waiting, "
        f"none is sent to {platform} meanwhile.",
    )
    if is_google(p.pixel_id):
        action = (
            "renew the shop's Google OAuth refresh token (or give its Google account access to the Ads "
            "account, or fix the conversion action id) in [shops.google] and restart the workers, then "
            f"run `poas outbox resume {p.pixel_id}`. The waiting events are sent then."
        )
    else:
        action = (
            "renew the shop's Conversions API access token (or grant the missing permission) in Meta "
            "Business Manager, put it in the config (access_token, or POAS_SHOP_<ID>_ACCESS_TOKEN) and "
            f"restart the workers, then run `poas outbox resume {p.pixel_id}`. "
            "The waiting events are sent then."
        )
    still = "still " if repeat else ""
    return Alert(
        PAUSED + p.pixel_id,
        "firing",
        f"{describe_destination(p.pixel_id)}{_shops(p.shops)} is {still}paused: "
        f"delivery to {platform} has stopped",
        lines,
        action,
        {
            "pixel_id": p.pixel_id,
            "shops": list(p.shops),
            "reason": reason,
            "paused_at": _iso(p.paused_at),
            "paused_until": _iso(p.paused_until),
            "waiting_events": p.waiting,
            "repeat": repeat,
        },
        now,
    )


def pixel_resumed_alert(pixel_id: str, *, now: datetime) -> Alert:
    return Alert(
        PAUSED + pixel_id,
        "resolved",
        f"{describe_destination(pixel_id)} is no longer paused: "
        f"delivery to {platform_of(pixel_id)} is running again",
        (),
        "",
        {"pixel_id": pixel_id},
        now,
    )


def dead_letters_alert(d: store.DeadLetters, new: int, *, now: datetime) -> Alert:
    reasons = [(scrub(r), n) for r, n in d.reasons]
    lines = (
        f"{_plural(d.count, 'event')} of this {_noun(d.pixel_id)} are dead-lettered now. "
        "Most common reasons:",
        *(f"• {n}× {r}" for r, n in reasons),
    )
    action = (
        "fix the cause, then `poas outbox list --state dead` shows the events and "
        "`poas outbox replay --all-dead` (or `--id N`) sends them again with the same event_id."
    )
    return Alert(
        DEAD + d.pixel_id,
        "firing",
        f"{_plural(new, 'event')} for {describe_destination(d.pixel_id)}{_shops(d.shops)} dead-lettered: "
        f"{platform_of(d.pixel_id)} refused them, they will not be sent",
        lines,
        action,
        {
            "pixel_id": d.pixel_id,
            "shops": list(d.shops),
            "new_dead": new,
            "dead_total": d.count,
            "top_reasons": [{"reason": r, "count": n} for r, n in reasons],
        },
        now,
    )


def inbox_stuck_alert(stuck: list[store.StuckDeliveries], *, now: datetime, repeat: bool) -> Alert:
    failed = sum(s.failed for s in stuck)
    retrying = sum(s.retrying for s in stuck)
    rejected = sum(s.rejected for s in stuck)
    lines = tuple(
        f"• shop {s.shop_id}, {s.source} {s.topic}: {s.failed} failed, {s.retrying} retrying"
        + (f", {s.rejected} rejected" if s.rejected else "")
        + f" (oldest received {_iso(s.oldest)})"
        for s in stuck
    )
    action = (
        "`poas inbox list` shows each delivery's error; fix the cause (a missing cost, a bad shop "
        "config), then `poas inbox retry` processes them again."
    )
    if rejected:
        action += (
            " A rejected delivery's body can never be processed (the error names the field, e.g. a date "
            "before earliest_order_date or an unknown currency): correct the order on the platform or "
            "import it (docs/formats.md, Bounds)."
        )
    still = "still " if repeat else ""
    n = failed + retrying + rejected
    kinds = f"{failed} failed, {retrying} retrying for over an hour"
    if rejected:
        kinds += f", {rejected} rejected as unreadable in the last {INBOX_REJECTED_WITHIN.days} days"
    return Alert(
        INBOX,
        "firing",
        f"{n} webhook deliver{'y' if n == 1 else 'ies'} {still}stuck in the inbox "
        f"({kinds}): their orders are not counted",
        lines,
        action,
        {
            "failed": failed,
            "retrying": retrying,
            "rejected": rejected,
            "by_source": [
                {
                    "shop_id": s.shop_id,
                    "source": s.source,
                    "topic": s.topic,
                    "failed": s.failed,
                    "retrying": s.retrying,
                    "rejected": s.rejected,
                    "oldest_received_at": _iso(s.oldest),
                }
                for s in stuck
            ],
            "repeat": repeat,
        },
        now,
    )


def inbox_clear_alert(*, now: datetime) -> Alert:
    return Alert(INBOX, "resolved", "no webhook delivery is stuck in the inbox any more", (), "", {}, now)


def sync_silent_alert(state: syncs.SyncState, *, now: datetime, repeat: bool) -> Alert:
    row = state.row
    lines = syncs.describe(state, clean=scrub)
    still = "still " if repeat else ""
    silent_for = syncs.span_text(now - state.silent_since)
    limit = duration_text(state.limit)
    return Alert(
        SYNC + state.key,
        "firing",
        f"the {state.name} has {still}not succeeded for {silent_for} (allowed: {limit})",
        tuple(lines),
        state.kind.action(state.shop_id),
        {
            "sync": state.kind.kind,
            "shop_id": state.shop_id or None,
            "silent_since": _iso(state.silent_since),
            "allowed_silence_s": int(state.limit.total_seconds()),
            "last_success_at": _iso(row.last_success_at) if row else None,
            "last_attempt_at": _iso(row.last_attempt_at) if row else None,
            "last_failure_at": _iso(row.last_failure_at) if row else None,
            "last_error": scrub(row.last_error) if row and row.last_error else None,
            "repeat": repeat,
        },
        now,
    )


def sync_resumed_alert(key: str, row: SyncRow | None, *, now: datetime) -> Alert:
    """The sync behind `sync_silent:<kind>[:<shop>]` succeeded again (or is no longer expected)."""
    kind_name, _, shop_id = key.removeprefix(SYNC).partition(":")
    kind = syncs.KINDS.get(kind_name)
    label = kind.label if kind else f"{kind_name} sync"
    name = f"{label} of shop {shop_id}" if shop_id else label
    success = row.last_success_at if row else None
    what = f"succeeded again ({_iso(success)})" if success else "is no longer expected by the configuration"
    return Alert(
        key, "resolved", f"the {name} {what}", (), "", {"sync": kind_name, "shop_id": shop_id or None}, now
    )


def test_alert(*, now: datetime) -> Alert:
    return Alert(
        "test",
        "firing",
        "test alert: poas can reach this receiver",
        ("Sent by `poas alerts test`. Real alerts say what stopped and what to do.",),
        "",
        {"test": True},
        now,
    )


# ---------------------------------------------------------------- sending


@dataclass(frozen=True, slots=True)
class Posted:
    ok: bool
    status: int | None = None
    error: str | None = None  # free of the URL


def receiver_host(settings: Settings) -> str | None:
    url = settings.alert_webhook_url
    return urlsplit(url.get_secret_value()).hostname if url is not None else None


def receiver_label(settings: Settings) -> str:
    """`set (hooks.slack.com)` or `not set`: the host only, never the path (it holds the credential)."""
    host = receiver_host(settings)
    return f"set ({host})" if host else "not set"


def settings_facts(settings: Settings) -> dict[str, str]:
    """What the Settings page shows about alerts: never the URL, only whether it is set and its host."""
    return {
        "Receiver": receiver_label(settings),
        "Format": settings.alert_format,
        "Repeated while true": f"every {duration_text(timedelta(seconds=settings.alert_repeat_s))}",
        "Checked": f"every {duration_text(timedelta(seconds=settings.alert_check_every_s))}",
    }


def post_alert(settings: Settings, alert: Alert, *, timeout_s: float = POST_TIMEOUT_S) -> Posted:
    """POST the alert; never raises. A 2xx answer counts as accepted."""
    if settings.alert_webhook_url is None:
        return Posted(False, error="POAS_ALERT_WEBHOOK_URL is not set")
    url = settings.alert_webhook_url.get_secret_value()
    try:
        response = httpx.post(url, json=render(alert, settings.alert_format), timeout=timeout_s)
    except httpx.HTTPError as exc:
        detail = str(exc).replace(url, "[alert url]")
        return Posted(False, error=f"{type(exc).__name__}: {scrub(detail)}" if detail else type(exc).__name__)
    if 200 <= response.status_code < 300:
        return Posted(True, response.status_code)
    return Posted(False, response.status_code, f"HTTP {response.status_code}")


def send_test_alert(settings: Settings, *, now: datetime) -> Posted:
    return post_alert(settings, test_alert(now=now))


# ---------------------------------------------------------------- checking


@dataclass(frozen=True, slots=True)
class Conditions:
    paused: list[store.PausedPixelRow]
    dead: dict[str, store.DeadLetters]
    stuck: list[store.StuckDeliveries]
    silent: list[syncs.SyncState] = field(default_factory=list)


def read_conditions(
    engine: Engine, *, now: datetime, settings: Settings | None = None, start_clocks: bool = False
) -> Conditions:
    """The conditions holding now; silent syncs only with `settings` (which syncs are expected), and
    with `start_clocks` an expected sync never seen before starts its silence now (the alert check)."""
    silent = []
    if settings is not None:
        silent = syncs.silent_syncs(engine, settings, now=now, start_clocks=start_clocks)
    with engine.connect() as conn:
        return Conditions(
            store.paused_pixels(conn, now),
            store.dead_letters(conn),
            store.stuck_inbox(
                conn, now, retrying_for=INBOX_STUCK_AFTER, rejected_within=INBOX_REJECTED_WITHIN
            ),
            silent,
        )


@dataclass(slots=True)
class AlertCheckReport:
    ran: bool = False
    sent: list[str] = field(default_factory=list)  # "key firing" / "key resolved"
    failed: list[str] = field(default_factory=list)


Sender = Callable[[Alert], Posted]


def _deliver(
    engine: Engine, alert: Alert, before: store.AlertState, token: str, send: Sender, report: AlertCheckReport
) -> None:
    """Send a claimed alert; if the receiver did not take it, put the row back so the next check retries."""
    posted = send(alert)
    if posted.ok:
        report.sent.append(f"{alert.key} {alert.state}")
        log.info("alert sent", alert=alert.key, state=alert.state)
        return
    report.failed.append(alert.key)
    log.warning(
        "alert not delivered; retried at the next check",
        alert=alert.key,
        state=alert.state,
        error=posted.error,
    )
    with engine.begin() as conn:
        store.change_if_unchanged(
            conn,
            alert.key,
            token,
            now=alert.at,
            sent_state=before.sent_state,
            last_sent_at=before.last_sent_at,
            resolved_at=before.resolved_at,
            seen=before.seen,
        )


def _fire(
    engine: Engine,
    settings: Settings,
    key: str,
    build: Callable[[bool], Alert],
    *,
    now: datetime,
    send: Sender,
    report: AlertCheckReport,
) -> None:
    """A condition that holds: announce it if the receiver does not know yet, or was told long enough ago."""
    repeat_after = timedelta(seconds=settings.alert_repeat_s)
    with engine.begin() as conn:
        before = store.get_or_create(conn, key, now=now)
        repeat = before.sent_state == "firing"
        if repeat and before.last_sent_at is not None and now - before.last_sent_at < repeat_after:
            return
        first_seen = now if before.sent_state == "resolved" else before.first_seen_at
        token = store.change_if_unchanged(
            conn,
            key,
            before.claim,
            now=now,
            sent_state="firing",
            last_sent_at=now,
            resolved_at=None,
            first_seen_at=first_seen,
        )
    if token is not None:
        _deliver(engine, build(repeat), before, token, send, report)


def _resolve(
    engine: Engine,
    before: store.AlertState,
    alert: Alert,
    *,
    now: datetime,
    send: Sender,
    report: AlertCheckReport,
) -> None:
    with engine.begin() as conn:
        token = store.change_if_unchanged(
            conn, before.key, before.claim, now=now, sent_state="resolved", last_sent_at=now, resolved_at=now
        )
    if token is not None:
        _deliver(engine, alert, before, token, send, report)


def _count(
    engine: Engine,
    d: store.DeadLetters | None,
    key: str,
    *,
    now: datetime,
    send: Sender,
    report: AlertCheckReport,
) -> None:
    """Dead letters: announce how many joined since the count the receiver was last told."""
    count = d.count if d is not None else 0
    with engine.begin() as conn:
        before = store.get_or_create(conn, key, now=now)
        if count == before.seen:
            return
        if count < before.seen or d is None:  # replayed: lower the mark, nothing to say
            store.change_if_unchanged(conn, key, before.claim, now=now, seen=count)
            return
        token = store.change_if_unchanged(
            conn, key, before.claim, now=now, seen=count, sent_state="firing", last_sent_at=now
        )
    if token is not None:
        _deliver(engine, dead_letters_alert(d, count - before.seen, now=now), before, token, send, report)


def _paused_alert(p: store.PausedPixelRow, now: datetime, repeat: bool) -> Alert:
    return pixel_paused_alert(p, now=now, repeat=repeat)


def _sync_alert(state: syncs.SyncState, now: datetime, repeat: bool) -> Alert:
    return sync_silent_alert(state, now=now, repeat=repeat)


def check_alerts(
    engine: Engine, settings: Settings, *, now: datetime, send: Sender | None = None
) -> AlertCheckReport:
    """One check: read the conditions, send what the receiver has not been told. Nothing runs without
    `POAS_ALERT_WEBHOOK_URL`. Store errors propagate (the caller logs them); a failed POST does not."""
    report = AlertCheckReport()
    if settings.alert_webhook_url is None:
        return report
    report.ran = True
    sender: Sender = send or (lambda alert: post_alert(settings, alert))
    found = read_conditions(engine, now=now, settings=settings, start_clocks=True)
    with engine.connect() as conn:
        known = store.states(conn)

    active: set[str] = set()
    for p in found.paused:
        configured = tuple(shop.id for shop in settings.shops if p.pixel_id in _destinations(shop))
        p = replace(p, shops=tuple(sorted(set(p.shops) | set(configured))))
        key = PAUSED + p.pixel_id
        active.add(key)
        _fire(
            engine,
            settings,
            key,
            partial(_paused_alert, p, now),
            now=now,
            send=sender,
            report=report,
        )
    if found.stuck:
        active.add(INBOX)
        _fire(
            engine,
            settings,
            INBOX,
            lambda r: inbox_stuck_alert(found.stuck, now=now, repeat=r),
            now=now,
            send=sender,
            report=report,
        )
    for silent in found.silent:
        active.add(SYNC + silent.key)
        _fire(
            engine,
            settings,
            SYNC + silent.key,
            partial(_sync_alert, silent, now),
            now=now,
            send=sender,
            report=report,
        )
    for key, st in known.items():
        if key in active or st.sent_state != "firing":
            continue
        if key.startswith(PAUSED):
            _resolve(
                engine,
                st,
                pixel_resumed_alert(key.removeprefix(PAUSED), now=now),
                now=now,
                send=sender,
                report=report,
            )
        elif key == INBOX:
            _resolve(engine, st, inbox_clear_alert(now=now), now=now, send=sender, report=report)
        elif key.startswith(SYNC):
            kind, _, shop_id = key.removeprefix(SYNC).partition(":")
            row = syncs.last_row(engine, kind, shop_id)
            _resolve(engine, st, sync_resumed_alert(key, row, now=now), now=now, send=sender, report=report)

    dead_keys = {DEAD + pixel for pixel in found.dead} | {
        k for k, st in known.items() if k.startswith(DEAD) and st.seen
    }
    for key in sorted(dead_keys):
        _count(engine, found.dead.get(key.removeprefix(DEAD)), key, now=now, send=sender, report=report)
    return report


# ---------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class ConditionStatus:
    key: str
    condition: Literal["firing", "clear"]
    summary: str
    first_seen_at: datetime | None
    last_sent_at: datetime | None
    receiver_told: str | None  # firing | resolved | None (never sent)


def alert_status(engine: Engine, *, now: datetime, settings: Settings | None = None) -> list[ConditionStatus]:
    """Every condition holding now and every alert the receiver has heard of, with what it was told
    (silent syncs only with `settings`: they say which syncs are expected)."""
    found = read_conditions(engine, now=now, settings=settings)
    with engine.connect() as conn:
        known = store.states(conn)
    current: dict[str, str] = {}
    for p in found.paused:
        current[PAUSED + p.pixel_id] = pixel_paused_alert(p, now=now, repeat=False).summary
    if found.stuck:
        current[INBOX] = inbox_stuck_alert(found.stuck, now=now, repeat=False).summary
    for silent in found.silent:
        current[SYNC + silent.key] = sync_silent_alert(silent, now=now, repeat=False).summary
    for pixel, d in found.dead.items():
        announced = known[DEAD + pixel].seen if DEAD + pixel in known else 0
        current[DEAD + pixel] = (
            f"{_plural(d.count, 'event')} dead-lettered for pixel {pixel} ({announced} announced)"
        )
    rows = []
    for key in sorted(set(current) | set(known)):
        st = known.get(key)
        rows.append(
            ConditionStatus(
                key,
                "firing" if key in current else "clear",
                current.get(key, "clear"),
                st.first_seen_at if st else None,
                st.last_sent_at if st else None,
                st.sent_state if st else None,
            )
        )
    return rows
