"""The dispatcher: claims outbox batches per destination, sends them with that destination's client
(a Meta pixel through the Conversions API, a Google Ads conversion action through the Data Manager
API: `poas.domain.destinations`), and records each outcome.

Several requests are in flight at once (one coroutine per slot); database work runs in threads so
it never blocks the requests. Every error arrives already classified by its client
(`poas.domain.delivery_errors.Disposition`, from `poas.meta.errors` / `poas.google.errors`): retry
with backoff, throttle the destination, pause the destination and alert, bisect a batch rejected as
invalid until the bad events are isolated and dead-lettered, or dead-letter the batch. Each client
brings its own batch limit (`max_batch`) and oldest sendable event (`max_event_age`).

The lease rule: a request is cut off at the client timeout in total (httpx's timeout is per phase),
and before each request (each half of a bisection too) the worker makes sure its lease runs at least
that timeout plus `LEASE_MARGIN` from now, extending it if not, and sends only the events it still
holds. Every claim has its own lease owner, so events claimed again (by another worker, or by another
slot of this one after a stall) are told apart: they are counted in `lost_leases`, not sent, and
their results are left to the newer claim. No heartbeat runs while a request is in flight: the lease
taken before it already outlasts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import ColumnElement, Engine, and_, func, select

from poas.domain.delivery_errors import DeliveryError, Disposition
from poas.domain.destinations import GOOGLE_ADJUSTMENT, GOOGLE_ADS, META_PIXEL, destination_kind
from poas.google.datamanager import GoogleCredentials
from poas.meta.capi import MAX_BATCH, Credentials
from poas.meta.errors import CapiError
from poas.store import outbox as ob
from poas.store.tables.delivery import outbox as outbox_table

log = structlog.get_logger("poas.deliver")

# Meta rejects a whole request holding an event_time older than 7 days; keep a minute in hand.
MAX_EVENT_AGE = timedelta(days=7) - timedelta(minutes=1)

# Lease time beyond the request's timeout: for starting the request and recording its result.
LEASE_MARGIN = timedelta(seconds=5)

# (shop_id, destination id) -> that destination's credentials (Meta's or Google's), None when missing
CredentialsLookup = Callable[[str, str], Any]


class Answer(Protocol):
    """A client's success: how many events the platform took, its trace/request id, timing."""

    @property
    def events_received(self) -> int: ...
    @property
    def fbtrace_id(self) -> str | None: ...
    @property
    def http_status(self) -> int: ...
    @property
    def latency_ms(self) -> int: ...


class DestinationClient(Protocol):
    """One destination kind's sender: raises a classified `DeliveryError` on failure."""

    @property
    def timeout_s(self) -> float: ...

    async def send(self, destination_id: str, payloads: Sequence[str], credentials: Any) -> Answer: ...


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_delay(attempt: int, *, base_s: float, cap_s: float, jitter: float) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, …): exponential, capped, "equal jitter".

    `jitter` in [0, 1) spreads the wait over [d/2, d) where d = min(cap, base·2^(attempt-1)), so
    workers that failed together do not come back together, and the wait never drops below half.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt - 1, 60))
    return ceiling / 2 + jitter * ceiling / 2


@dataclass(frozen=True)
class DeliveryConfig:
    batch_size: int = MAX_BATCH
    concurrency: int = 4
    lease_s: float = 120.0
    max_attempts: int = 15
    retry_base_s: float = 2.0
    retry_cap_s: float = 1800.0
    throttle_base_s: float = 60.0
    throttle_cap_s: float = 3600.0
    idle_poll_s: float = 1.0
    shutdown_grace_s: float = 30.0
    max_event_age: timedelta = MAX_EVENT_AGE

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


@dataclass
class DeliveryReport:
    """What one dispatcher did (this process only)."""

    requests: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    too_old: int = 0
    paused: set[str] = field(default_factory=set)
    throttled: int = 0
    lost_leases: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def new_worker_id() -> str:
    """host-pid-random; the host name cut so that the id fits `ob.MAX_WORKER_ID`."""
    return f"{socket.gethostname()[:64]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Dispatcher:
    """Drains the outbox into each destination's API (`client` for Meta pixels, `clients` by kind for
    the others)."""

    def __init__(
        self,
        engine: Engine,
        client: DestinationClient,
        credentials: CredentialsLookup,
        *,
        clients: Mapping[str, DestinationClient] | None = None,
        config: DeliveryConfig | None = None,
        worker_id: str | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.clients: dict[str, DestinationClient] = {META_PIXEL: client, **(clients or {})}
        self.credentials = credentials
        self.config = config or DeliveryConfig()
        self.worker_id = worker_id or new_worker_id()
        if len(self.worker_id) > ob.MAX_WORKER_ID:
            raise ValueError(f"a worker id has at most {ob.MAX_WORKER_ID} characters")
        self.clock = clock
        self.rng = rng or random.Random()
        self.report = DeliveryReport()

    # ------------------------------------------------------------ loops

    async def drain(self, *, wait_for_retries: bool = False) -> DeliveryReport:
        """Send everything due now; with `wait_for_retries`, also wait for scheduled retries and
        throttles until no unsent event is left outside paused pixels."""
        self.report = DeliveryReport()
        await asyncio.gather(*(self._slot(None, wait_for_retries) for _ in range(self.config.concurrency)))
        return self.report

    async def run(self, stop: asyncio.Event) -> DeliveryReport:
        """Serve until `stop` is set; then finish in-flight requests, or release their claims."""
        self.report = DeliveryReport()
        slots = [asyncio.create_task(self._slot(stop, False)) for _ in range(self.config.concurrency)]
        await stop.wait()
        _, pending = await asyncio.wait(slots, timeout=self.config.shutdown_grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        released = await asyncio.to_thread(self._release_all)
        if released:
            log.warning("released claims on shutdown", worker=self.worker_id, events=released)
        return self.report

    async def _slot(self, stop: asyncio.Event | None, wait_for_retries: bool) -> None:
        while stop is None or not stop.is_set():
            try:
                done = await self._turn(stop, wait_for_retries)
            except Exception as exc:  # a database hiccup must not silently kill a slot
                # Only the error's class and first line: SQL parameters could hold event data.
                first = str(exc).splitlines()[0][:200] if str(exc) else ""
                log.error(
                    "delivery slot failed; its claim returns when the lease ends",
                    worker=self.worker_id,
                    error=type(exc).__name__,
                    detail=first,
                )
                self.report.count("error")
                if stop is None:
                    raise
                await _sleep_or_stop(stop, self.config.idle_poll_s)
                continue
            if done:
                return

    async def _turn(self, stop: asyncio.Event | None, wait_for_retries: bool) -> bool:
        """Claim and process one batch, or wait; True when a draining slot has nothing left."""
        claim = await asyncio.to_thread(
            ob.claim,
            self.engine,
            self.worker_id,
            None,
            self.config.batch_size,
            self.config.lease_s,
            self.clock(),
        )
        if claim is not None:
            await self._process(claim)
            return False
        if stop is not None:
            await _sleep_or_stop(stop, self.config.idle_poll_s)
            return False
        if not wait_for_retries:
            return True
        wait = await asyncio.to_thread(self._seconds_until_due)
        if wait is None:
            return True
        await asyncio.sleep(min(max(wait, 0.01), self.config.idle_poll_s))
        return False

    def _seconds_until_due(self) -> float | None:
        """None when no unsent event is left for a pixel that is not paused."""
        now = self.clock()
        with self.engine.connect() as conn:
            paused = [p.pixel_id for p in ob.stats(conn, now=now).paused]
            where: ColumnElement[bool] = outbox_table.c.state.in_(("pending", "retry", "sending"))
            if paused:
                where = and_(where, outbox_table.c.pixel_id.not_in(paused))
            due = func.min(outbox_table.c.next_attempt_at)  # for sending rows: their lease's end
            left = conn.execute(select(func.count(), due).where(where)).one()
        if not left[0]:
            return None
        return 0.05 if left[1] is None else max((left[1] - now).total_seconds(), 0.0)

    def _release_all(self) -> int:
        with self.engine.begin() as conn:
            return ob.release(conn, self.worker_id, None, now=self.clock())

    # ------------------------------------------------------------ one claim

    def client_for(self, destination_id: str) -> DestinationClient | None:
        return self.clients.get(destination_kind(destination_id))

    def _max_age(self, destination_id: str) -> timedelta:
        if destination_kind(destination_id) == META_PIXEL:
            return self.config.max_event_age
        age = getattr(self.client_for(destination_id), "max_event_age", None)
        return age if isinstance(age, timedelta) else self.config.max_event_age

    async def _process(self, claim: ob.Claim) -> None:
        now = self.clock()
        kind = destination_kind(claim.pixel_id)
        client = self.client_for(claim.pixel_id)
        if client is None:
            reason = f"no client configured for {kind} destinations"
            await self._pause(claim, claim.events, reason, None)
            return
        max_age = self._max_age(claim.pixel_id)
        oldest_ok = now - max_age
        too_old = [e for e in claim.events if e.event_time < oldest_ok]
        if too_old:
            limit = (
                "Meta's limit is 7 days and it rejects the whole request"
                if kind == META_PIXEL
                else "Google Ads imports click conversions up to 90 days after the click"
            )
            reason = f"too old: event_time is more than {max_age} before the send time ({limit})"
            await asyncio.to_thread(self._finish, claim, too_old, "too_old", dead_reason=reason)
            self.report.too_old += len(too_old)
        fresh = [e for e in claim.events if e.event_time >= oldest_ok]
        by_shop: dict[str, list[ob.ClaimedEvent]] = {}
        for e in fresh:
            by_shop.setdefault(e.shop_id, []).append(e)
        for shop_id, events in by_shop.items():
            creds = self.credentials(shop_id, claim.pixel_id)
            if creds is None:
                what = {
                    META_PIXEL: "access token",
                    GOOGLE_ADS: "Google OAuth credentials",
                }.get(kind, "Google Ads API credentials (OAuth and developer token)")
                await self._pause(claim, events, f"no {what} configured for shop {shop_id}", None)
                continue
            step = int(getattr(client, "max_batch", len(events)) or len(events))
            for start in range(0, len(events), max(step, 1)):
                await self._send(claim, events[start : start + step], creds)

    async def _send(self, claim: ob.Claim, events: list[ob.ClaimedEvent], creds: Any) -> None:
        events = await self._hold_lease(claim, events)
        if not events:
            return
        self.report.requests += 1
        try:
            answer = await self._request(claim.pixel_id, events, creds)
        except DeliveryError as err:
            await self._failed(claim, events, creds, err)
            return
        if answer.events_received != len(events):
            mismatch = CapiError(
                Disposition.RETRY,
                f"events_received {answer.events_received} != batch size {len(events)}",
                http_status=answer.http_status,
                fbtrace_id=answer.fbtrace_id,
            )
            mismatch.latency_ms = answer.latency_ms
            mismatch.events_received = answer.events_received
            log.warning(
                "events_received mismatch",
                pixel=claim.pixel_id,
                batch=len(events),
                received=answer.events_received,
                fbtrace_id=answer.fbtrace_id,
            )
            await self._failed(claim, events, creds, mismatch, outcome="mismatch")
            return
        await asyncio.to_thread(self._finish, claim, events, "sent", answer=answer)

    async def _failed(
        self,
        claim: ob.Claim,
        events: list[ob.ClaimedEvent],
        creds: Any,
        err: DeliveryError,
        outcome: str | None = None,
    ) -> None:
        kind = err.disposition
        if kind is Disposition.INVALID:
            if len(events) == 1:
                await asyncio.to_thread(
                    self._finish, claim, events, "invalid", err=err, dead_reason=err.describe()
                )
                log.warning(
                    "event rejected as invalid",
                    pixel=claim.pixel_id,
                    event_id=events[0].event_id,
                    reason=err.message,
                    fbtrace_id=err.fbtrace_id,
                )
                return
            await asyncio.to_thread(self._log_only, claim, events, "bisect", err)
            half = len(events) // 2
            await asyncio.gather(
                self._send(claim, events[:half], creds), self._send(claim, events[half:], creds)
            )
            return
        if kind is Disposition.PAUSE:
            await self._pause(claim, events, err.describe(), err)
            return
        if kind is Disposition.DEAD:
            await asyncio.to_thread(self._finish, claim, events, "dead", err=err, dead_reason=err.describe())
            return
        if kind is Disposition.THROTTLE:
            await asyncio.to_thread(self._throttle, claim, events, err)
            return
        await asyncio.to_thread(self._retry, claim, events, err, outcome or "retry")

    async def _pause(
        self, claim: ob.Claim, events: list[ob.ClaimedEvent], reason: str, err: DeliveryError | None
    ) -> None:
        def work() -> None:
            now = self.clock()
            with self.engine.begin() as conn:
                ob.pause_pixel(conn, claim.pixel_id, reason=reason, now=now)
                ob.release(conn, claim.owner, [e.id for e in events], now=now, undo_attempt=True)
                ob.log_attempt(conn, self._attempt(claim, events, "pause", now, err=err, message=reason))

        await asyncio.to_thread(work)
        self.report.paused.add(claim.pixel_id)
        self.report.count("pause")
        if destination_kind(claim.pixel_id) == META_PIXEL:
            log.error(
                "ALERT: pixel paused, delivery stopped",
                pixel=claim.pixel_id,
                reason=reason,
                action="fix the access token or permissions, then run `poas outbox resume`",
            )
        else:
            log.error(
                "ALERT: Google Ads destination paused, delivery stopped",
                destination=claim.pixel_id,
                reason=reason,
                action="fix the OAuth credentials, access or conversion action, then `poas outbox resume`",
            )

    # ------------------------------------------------------------ results (threads)

    def _attempt(
        self,
        claim: ob.Claim,
        events: Sequence[ob.ClaimedEvent],
        outcome: str,
        now: datetime,
        *,
        err: DeliveryError | None = None,
        answer: Answer | None = None,
        message: str | None = None,
    ) -> ob.Attempt:
        latency = (
            answer.latency_ms if answer else (err.latency_ms if err and err.latency_ms is not None else 0)
        )
        return ob.Attempt(
            pixel_id=claim.pixel_id,
            worker_id=self.worker_id,
            outbox_ids=[e.id for e in events],
            outcome=outcome,
            latency_ms=latency,
            claimed_at=claim.claimed_at,
            lease_until=claim.lease_until,
            finished_at=now,
            http_status=answer.http_status if answer else (err.http_status if err else None),
            meta_code=err.code if err else None,
            meta_subcode=err.subcode if err else None,
            fbtrace_id=answer.fbtrace_id if answer else (err.fbtrace_id if err else None),
            events_received=answer.events_received if answer else (err.events_received if err else None),
            message=message if message is not None else (err.describe() if err else None),
        )

    def _finish(
        self,
        claim: ob.Claim,
        events: Sequence[ob.ClaimedEvent],
        outcome: str,
        *,
        answer: Answer | None = None,
        err: DeliveryError | None = None,
        dead_reason: str | None = None,
    ) -> None:
        now = self.clock()
        ids = [e.id for e in events]
        with self.engine.begin() as conn:
            if answer is not None:
                meta = {"fbtrace_id": answer.fbtrace_id, "events_received": answer.events_received}
                owned = ob.mark_sent(conn, claim.owner, ids, now=now, meta_response=meta)
                ob.clear_throttle(conn, claim.pixel_id, now=now)
                self.report.sent += owned
            else:
                owned = ob.mark_dead(conn, claim.owner, ids, reason=dead_reason or outcome)
                self.report.dead += owned
            if outcome != "too_old":
                ob.log_attempt(conn, self._attempt(claim, events, outcome, now, err=err, answer=answer))
        self.report.count(outcome)
        self._check_owned(claim, owned, len(ids))

    def _retry(
        self, claim: ob.Claim, events: Sequence[ob.ClaimedEvent], err: DeliveryError, outcome: str
    ) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            give_up = [e.id for e in events if e.attempts >= self.config.max_attempts]
            again = [e for e in events if e.attempts < self.config.max_attempts]
            owned = ob.mark_dead(
                conn,
                claim.owner,
                give_up,
                reason=f"gave up after {self.config.max_attempts} attempts: " + err.describe(),
            )
            self.report.dead += owned
            # One delay per attempt count: events retried together stay together in a batch.
            by_attempt: dict[int, list[int]] = {}
            for e in again:
                by_attempt.setdefault(e.attempts, []).append(e.id)
            for attempts, ids in by_attempt.items():
                delay = backoff_delay(
                    attempts,
                    base_s=self.config.retry_base_s,
                    cap_s=self.config.retry_cap_s,
                    jitter=self.rng.random(),
                )
                n = ob.mark_retry(
                    conn, claim.owner, ids, next_at=now + timedelta(seconds=delay), error=err.describe()
                )
                owned += n
                self.report.retried += n
            ob.log_attempt(conn, self._attempt(claim, events, outcome, now, err=err))
        self.report.count(outcome)
        self._check_owned(claim, owned, len(events))

    def _throttle(self, claim: ob.Claim, events: Sequence[ob.ClaimedEvent], err: DeliveryError) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            strikes = ob.throttle_pixel(conn, claim.pixel_id, now=now)
            delay = backoff_delay(
                strikes,
                base_s=self.config.throttle_base_s,
                cap_s=self.config.throttle_cap_s,
                jitter=self.rng.random(),
            )
            until = now + timedelta(seconds=delay)
            ob.set_throttle_until(conn, claim.pixel_id, until=until, now=now)
            ids = [e.id for e in events]
            owned = ob.release(conn, claim.owner, ids, now=until, undo_attempt=True)
            ob.log_attempt(conn, self._attempt(claim, events, "throttle", now, err=err))
        self.report.throttled += 1
        self.report.count("throttle")
        log.warning(
            "pixel throttled",
            pixel=claim.pixel_id,
            strikes=strikes,
            seconds=round(delay, 3),
            code=err.code,
            fbtrace_id=err.fbtrace_id,
        )
        self._check_owned(claim, owned, len(ids))

    def _log_only(
        self, claim: ob.Claim, events: Sequence[ob.ClaimedEvent], outcome: str, err: DeliveryError
    ) -> None:
        with self.engine.begin() as conn:
            ob.log_attempt(conn, self._attempt(claim, events, outcome, self.clock(), err=err))
        self.report.count(outcome)

    def _check_owned(self, claim: ob.Claim, owned: int, expected: int) -> None:
        if owned < expected:
            self.report.lost_leases += expected - owned
            log.warning(
                "lease lost before the result was recorded",
                pixel=claim.pixel_id,
                owner=claim.owner,
                events=expected - owned,
            )

    async def _hold_lease(self, claim: ob.Claim, events: list[ob.ClaimedEvent]) -> list[ob.ClaimedEvent]:
        """The events still leased for a request starting now: when the lease would end before the
        request's timeout plus the margin, extend it first; events claimed again since are dropped."""
        timeout = timedelta(seconds=self.client_timeout_s(claim.pixel_id))
        hold = max(timedelta(seconds=self.config.lease_s), timeout + LEASE_MARGIN)
        slack = LEASE_MARGIN
        while claim.held and self.clock() + timeout + slack > claim.lease_until:
            until = self.clock() + hold
            ids = [e.id for e in claim.events if e.id in claim.held]
            owned = await asyncio.to_thread(self._extend_lease, claim.owner, ids, until)
            claim.held.intersection_update(owned)
            claim.lease_until = max(claim.lease_until, until)
            slack = timedelta(0)  # the margin covered this extension; another one only after a stall
        held = [e for e in events if e.id in claim.held]
        if len(held) < len(events):
            self.report.lost_leases += len(events) - len(held)
            log.warning(
                "lease lost before the request; those events are left to the claim that took them",
                pixel=claim.pixel_id,
                owner=claim.owner,
                events=len(events) - len(held),
            )
        return held

    def _extend_lease(self, owner: str, ids: Sequence[int], until: datetime) -> list[int]:
        with self.engine.begin() as conn:
            return ob.extend_lease(conn, owner, ids, until=until)

    async def _request(self, pixel_id: str, events: Sequence[ob.ClaimedEvent], creds: Any) -> Answer:
        """One request, given the client timeout in total, so the lease taken for it outlasts it."""
        timeout = self.client_timeout_s(pixel_id)
        client = self.client_for(pixel_id) or self.client
        try:
            async with asyncio.timeout(timeout):
                return await client.send(pixel_id, [e.payload for e in events], creds)
        except TimeoutError:
            err = CapiError(Disposition.RETRY, f"TimeoutError: no answer within {timeout:g} s in total")
            err.latency_ms = round(timeout * 1000)
            raise err from None

    def client_timeout_s(self, destination_id: str | None = None) -> float:
        client = self.client_for(destination_id) if destination_id else None
        return (client or self.client).timeout_s


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def google_ads_api_credentials(shop: Any) -> GoogleCredentials | None:
    """Credentials for adjustments through the Google Ads API: the spend sync's google_ads_* OAuth
    client, refresh token (scope adwords) and developer token, each falling back to `[shops.google]`."""
    g = getattr(shop, "google", None)
    if g is None:
        return None
    client_id = getattr(shop, "google_ads_client_id", "") or g.client_id
    secret = getattr(shop, "google_ads_client_secret", None) or g.client_secret
    refresh = getattr(shop, "google_ads_refresh_token", None) or g.refresh_token
    developer = getattr(shop, "google_ads_developer_token", None)
    if not (client_id and secret and refresh and developer):
        return None
    login = (getattr(shop, "google_ads_login_customer_id", "") or "").replace("-", "") or g.login_customer_id
    return GoogleCredentials(
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        refresh_token=refresh.get_secret_value(),
        login_customer_id=login or None,
        validate_only=g.validate_only,
        developer_token=developer.get_secret_value(),
    )


def google_credentials(shop: Any) -> GoogleCredentials | None:
    """The shop's Data Manager credentials: `[shops.google]` client_id / client_secret / refresh_token,
    each falling back to the spend sync's `google_ads_client_id` / `_client_secret` / `_refresh_token`
    (one OAuth client and one refresh token granted both scopes serve both)."""
    g = getattr(shop, "google", None)
    if g is None:
        return None
    client_id = g.client_id or getattr(shop, "google_ads_client_id", "")
    secret = g.client_secret or getattr(shop, "google_ads_client_secret", None)
    refresh = g.refresh_token or getattr(shop, "google_ads_refresh_token", None)
    if not (client_id and secret and refresh):
        return None
    login = g.login_customer_id or (getattr(shop, "google_ads_login_customer_id", "") or "").replace("-", "")
    return GoogleCredentials(
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        refresh_token=refresh.get_secret_value(),
        login_customer_id=login or None,
        validate_only=g.validate_only,
    )


def settings_credentials(shops: Sequence[Any]) -> CredentialsLookup:
    """Credentials from the configured shops (`poas.settings.ShopConfig`), looked up by shop id: Meta's
    access token for a pixel, the shop's Google OAuth client and refresh token for a Google destination."""
    table: dict[str, Credentials] = {}
    google: dict[str, GoogleCredentials] = {}
    adjusting: dict[str, GoogleCredentials] = {}
    for shop in shops:
        via_ads_api = google_ads_api_credentials(shop)
        if via_ads_api is not None:
            adjusting[shop.id] = via_ads_api
        found = google_credentials(shop)
        if found is not None:
            google[shop.id] = found
        if shop.access_token is None:
            continue
        table[shop.id] = Credentials(
            access_token=shop.access_token.get_secret_value(),
            app_secret=shop.app_secret.get_secret_value() if shop.app_secret else None,
            test_event_code=shop.events.test_event_code,
        )

    def lookup(shop_id: str, pixel_id: str) -> Credentials | GoogleCredentials | None:
        kind = destination_kind(pixel_id)
        if kind == GOOGLE_ADS:
            return google.get(shop_id)
        if kind == GOOGLE_ADJUSTMENT:
            return adjusting.get(shop_id)
        return table.get(shop_id)

    return lookup


__all__ = [
    "MAX_EVENT_AGE",
    "DeliveryConfig",
    "DeliveryReport",
    "DestinationClient",
    "Dispatcher",
    "backoff_delay",
    "google_ads_api_credentials",
    "google_credentials",
    "settings_credentials",
    "utcnow",
]
