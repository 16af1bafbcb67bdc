"""Intake: accept deliveries into the inbox, then turn them into stored orders (ingest) exactly once.

`accept` stores the raw delivery (deduplicated) and returns fast; `process_ids` (the web process's
background task) and `process_pending` (`poas worker`, `poas inbox retry`) claim due rows with a
lease and process each in its own transaction, so any number of processes can run them. Out-of-order
deliveries are resolved per order by the platform's `updated_at`; a failure is kept with a
PII-free reason and retried with backoff, unless the body itself can never be processed
(`PERMANENT`): that row is parked as `rejected` at once.

A JSON API body is read strictly once, when it arrives (a bad one is answered 422 and never stored).
Everything read after that was accepted already: the delivery processed from the inbox, the order's
body kept for rebuilds, the refunds kept for their order. Those are re-read leniently
(`canonical_json`'s `lenient`), so a body that an earlier, more lenient version accepted (0.1.0) can
still be processed and rebuilt when its refund arrives; each adjustment is logged and counted without
values.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import socket
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy import Connection, Engine

from poas.domain.error_text import mask_personal
from poas.domain.order import Order, Refund
from poas.services import intake_privacy
from poas.services.ingest import ingest_order
from poas.services.intake_notes import carry_facts, order_note, purchase_note, when, why_no_purchase
from poas.services.settings_overrides import effective_settings
from poas.settings import Settings, ShopConfig, load_settings
from poas.sources import canonical_json, shopify, stored_body, woocommerce
from poas.sources.canonical_fields import Adjustments
from poas.sources.payload import (
    PayloadError,
    TimeBounds,
    load_json,
    parse_timestamp,
    verify_hmac_sha256_base64,
)
from poas.sources.stored_body import Hashed
from poas.store import inbox
from poas.store.orders import load_order

MAX_ATTEMPTS = 12
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)

Kind = Literal["order", "refund", "note"]
log = structlog.get_logger("poas.intake")
MAX_LOGGED_ADJUSTMENTS = 20
EDIT_NOTE = "orders/edited noted, nothing stored: the orders/updated sent with it carries the edit"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A delivery read into canonical values (nothing stored yet)."""

    kind: Kind
    order_id: str | None = None
    order: Order | None = None
    refund: Refund | None = None
    data: Mapping[str, Any] | None = None
    trigger: bool = False
    note: str = ""
    hashed: Hashed | None = None  # the contact data hashed on arrival (a stored body; None for a raw one)


def time_bounds(shop: ShopConfig, received_at: datetime) -> TimeBounds:
    """The order and refund times a delivery received at `received_at` may carry (docs/formats.md#bounds)."""
    return TimeBounds.of(shop.earliest_order_date, received_at)


def parse_delivery(
    source: str,
    topic: str,
    body: bytes,
    shop: ShopConfig,
    *,
    received_at: datetime,
    lenient: Adjustments | None = None,
) -> Parsed:
    """Map a delivery body; raises PayloadError (naming the field) when it is not what the topic says,
    or a time in it is outside the shop's bounds for a delivery received at `received_at`.

    `lenient` only for a delivery already accepted (processing an inbox row): a JSON API body is then
    read as a stored body is (see the module's docstring). Webhook bodies are read the same either way.
    """
    data = load_json(body)
    hashed = None
    if lenient is not None:  # a stored body: its contact data was hashed on arrival (sources.stored_body)
        data, hashed = stored_body.split(data)
    bounds = time_bounds(shop, received_at)
    purchase_topic = shop.events.purchase_topic
    if source == "shopify":
        if topic in shopify.ORDER_TOPICS:
            order = shopify.parse_order(
                data, shop.id, consent_keys=shop.consent_attribute_keys, bounds=bounds
            )
            trigger = shopify.purchase_trigger(topic, order.financial_status, purchase_topic)
            return Parsed("order", order.order_id, order, data=data, trigger=trigger, hashed=hashed)
        if topic == shopify.REFUND_TOPIC:
            refund = shopify.parse_refund(data, bounds=bounds)
            return Parsed("refund", shopify.refund_order_id(data), refund=refund, data=data)
        if topic == shopify.EDIT_TOPIC:
            return Parsed("note", note=EDIT_NOTE)
    elif source == "woocommerce":
        if topic in woocommerce.ORDER_TOPICS:
            order = woocommerce.parse_order(data, shop.id, consent_keys=shop.consent_meta_keys, bounds=bounds)
            trigger = woocommerce.purchase_trigger(topic, order, purchase_topic)
            return Parsed("order", order.order_id, order, data=data, trigger=trigger, hashed=hashed)
    elif source == "api":
        if topic == "orders":
            order = canonical_json.parse_order(
                data,
                shop.id,
                default_prices_include_vat=shop.prices_include_vat,
                lenient=lenient,
                bounds=bounds,
            )
            trigger = purchase_topic == "create" or order.financial_status == "paid"
            return Parsed("order", order.order_id, order, data=data, trigger=trigger, hashed=hashed)
        if topic == "refunds":
            refund = canonical_json.parse_refund(data, lenient=lenient, bounds=bounds)
            return Parsed("refund", canonical_json.refund_order_id(data), refund=refund, data=data)
    raise PayloadError("topic", f"{source} topic {topic!r} is not handled")


def handles(source: str, topic: str) -> bool:
    if source == "shopify":
        return topic in shopify.TOPICS
    if source == "woocommerce":
        return topic in woocommerce.TOPICS
    return source == "api" and topic in ("orders", "refunds")


# ---- checks before accepting (the webhook and API routes) -----------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a delivery is refused before anything is stored; `field` names the offending field
    ("body" when it is not JSON at all)."""

    field: str
    detail: str


def check_delivery(
    source: str, topic: str, body: bytes, shop: ShopConfig, *, received_at: datetime
) -> Parsed | Refusal:
    """`parse_delivery` (strict: this is a new delivery), with a bad body answered as a Refusal
    instead of an exception."""
    try:
        return parse_delivery(source, topic, body, shop, received_at=received_at)
    except PayloadError as exc:
        return Refusal(exc.field, str(exc))


def read_json(body: bytes) -> Any | Refusal:
    """The JSON value of a body, or a Refusal: not JSON ("body"), or a too-long integer or a lone
    surrogate at the path named (`sources.payload.load_json`)."""
    try:
        return load_json(body)
    except PayloadError as exc:
        return Refusal(exc.field, str(exc))


def signature_valid(body: bytes, signature: str | None, shop: ShopConfig) -> bool:
    """True when `signature` is base64(HMAC-SHA256(body)) under one of the shop's webhook secrets."""
    return verify_hmac_sha256_base64(body, signature, [s.get_secret_value() for s in shop.webhook_secrets])


def is_woocommerce_ping(body: bytes) -> bool:
    """WooCommerce's unsigned check sent when a webhook is saved (nothing to store)."""
    return woocommerce.is_ping(body)


def triggered_at(value: str | None) -> datetime | None:
    """Shopify's X-Shopify-Triggered-At as aware UTC (naive means UTC); None when absent or unreadable."""
    if not value:
        return None
    try:
        return parse_timestamp(value, "X-Shopify-Triggered-At", naive_is_utc=True)
    except PayloadError:
        return None


def new_delivery(
    shop: ShopConfig,
    source: str,
    topic: str,
    body: bytes,
    *,
    dedup_key: str | None,
    received_at: datetime,
    triggered_at: datetime | None = None,
    order_id: str | None = None,
    parsed: Parsed | Refusal | None = None,
) -> inbox.Delivery:
    """The delivery to accept; without the platform's own key it is deduplicated by its body's SHA-256.

    Its body is stored in its private form (`stored_form`; `parsed` is what `check_delivery` made of
    it, read again when not given); the raw body's SHA-256 is kept."""
    digest = hashlib.sha256(body).hexdigest()
    if parsed is None:
        parsed = check_delivery(source, topic, body, shop, received_at=received_at)
    return inbox.Delivery(
        shop_id=shop.id,
        source=source,
        topic=topic,
        dedup_key=dedup_key or "sha256:" + digest,
        body=stored_form(source, body, parsed, shop),
        received_at=received_at,
        triggered_at=triggered_at,
        order_id=order_id,
        body_sha256=digest,
    )


def stored_form(source: str, body: bytes, parsed: Parsed | Refusal, shop: ShopConfig | None) -> bytes:
    """What the inbox stores of a delivery (`sources.stored_body`): its body without raw contact data,
    with the CAPI user_data hashed from it; a body that was refused keeps only what cannot identify a
    person and the reason."""
    if isinstance(parsed, Refusal):
        try:
            data = load_json(body)
        except PayloadError:
            data = None
        return intake_privacy.reduced_form(source, data, parsed.field, parsed.detail, shop)
    assert shop is not None
    return intake_privacy.hashed_form(source, parsed.data or {}, parsed.order, shop)


def _private_body(row: inbox.Claimed, shop: ShopConfig | None) -> bytes | None:
    """The stored form of a row's raw body (one accepted before bodies were stored private), to
    replace it when its processing fails, so a raw body is never kept past its first attempt; None
    when the body is already private."""
    try:
        data = load_json(row.body)
    except PayloadError as exc:
        return intake_privacy.reduced_form(row.source, None, exc.field, str(exc), shop)
    except Exception as exc:  # whatever it is, the raw body is not kept
        return intake_privacy.reduced_form(row.source, None, "body", describe_error(exc), shop)
    if stored_body.is_stored_form(data):
        return None
    try:
        # A shop missing from the settings is read with the defaults (the body is kept for a retry
        # once it is back; only attributes under a custom consent key are lost).
        shop = shop or ShopConfig(id=row.shop_id)
        parsed = parse_delivery(
            row.source, row.topic, row.body, shop, received_at=row.received_at, lenient=Adjustments()
        )
    except PayloadError as exc:
        return intake_privacy.reduced_form(row.source, data, exc.field, str(exc), shop)
    except Exception as exc:  # whatever it is, the raw body is not kept
        return intake_privacy.reduced_form(row.source, data, "body", describe_error(exc), shop)
    return intake_privacy.hashed_form(row.source, parsed.data or {}, parsed.order, shop)


def rejected_delivery(
    shop: ShopConfig,
    source: str,
    topic: str,
    body: bytes,
    refusal: Refusal,
    *,
    dedup_key: str | None,
    received_at: datetime,
    triggered_at: datetime | None = None,
) -> inbox.Delivery:
    """A signed webhook delivery that can never be processed, to be stored parked as `rejected`."""
    delivery = new_delivery(
        shop,
        source,
        topic,
        body,
        dedup_key=dedup_key,
        received_at=received_at,
        triggered_at=triggered_at,
        parsed=refusal,  # its stored body keeps only what cannot identify a person, and the reason
    )
    return replace(delivery, rejected=mask_personal(f"invalid payload: {refusal.detail}")[:500])


# ---- accept --------------------------------------------------------------------------------------

_writer_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[None]:
    """On SQLite, one writing thread per process at a time.

    SQLite admits one writer anyway; queueing threads here instead of in SQLite's busy handler
    (which sleeps up to 100 ms between tries) keeps the webhook answers' tail latency low.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    with _locks_guard:
        lock = _writer_locks.setdefault(engine, threading.Lock())
    with lock:
        yield


def accept(engine: Engine, delivery: inbox.Delivery, *, now: datetime) -> tuple[int, bool]:
    """Store the delivery durably: (inbox row id, False when it is a duplicate of a stored one)."""
    with writing(engine), engine.begin() as conn:
        return inbox.store(conn, delivery, now=now)


class Acceptor:
    """Group commit for `accept`: one thread stores the deliveries that arrive together in one
    transaction, so a burst of webhooks costs one commit (one WAL flush) instead of one each.

    `submit` returns a future that resolves only after the commit: nothing is answered before it is
    durable. If a batch fails, its deliveries are retried one by one, so one bad row fails alone.
    """

    def __init__(self, engine: Engine, *, max_batch: int = 256) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.items: queue.SimpleQueue[tuple[inbox.Delivery, datetime, Future[tuple[int, bool]]]]
        self.items = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="poas-accept", daemon=True)
        self.thread.start()

    def submit(self, delivery: inbox.Delivery, *, now: datetime) -> Future[tuple[int, bool]]:
        future: Future[tuple[int, bool]] = Future()
        self.items.put((delivery, now, future))
        return future

    def _loop(self) -> None:
        while True:
            batch = [self.items.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.items.get_nowait())
                except queue.Empty:
                    break
            try:
                with writing(self.engine), self.engine.begin() as conn:
                    results = [inbox.store(conn, d, now=now) for d, now, _ in batch]
            except Exception:  # retry alone, so only the row at fault fails
                for d, now, future in batch:
                    try:
                        future.set_result(accept(self.engine, d, now=now))
                    except Exception as exc:
                        future.set_exception(exc)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                future.set_result(result)


# ---- process -------------------------------------------------------------------------------------


@dataclass(slots=True)
class ProcessStats:
    claimed: int = 0
    done: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0
    rejected: int = 0  # bodies that can never be processed, parked without retries
    reread_leniently: int = 0  # rows whose stored bodies needed a lenient adjustment to be read
    adjustments: int = 0  # the adjustments made in them

    def add(self, other: ProcessStats) -> None:
        for name in (
            "claimed",
            "done",
            "skipped",
            "retrying",
            "failed",
            "rejected",
            "reread_leniently",
            "adjustments",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: 30 s doubling, at most 6 h."""
    delay: timedelta = BASE_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_DELAY)


# Failures caused by the body itself: processing it again gives the same answer, so the row is
# parked as `rejected` at once (a locked database, a shop missing from the settings, a failed
# network call are retried). Its stored body is then the reduced form, which gives the same error
# on every read: an order refused by the shop's bounds is taken after all by moving
# `earliest_order_date` and importing it (docs/formats.md#bounds).
PERMANENT: tuple[type[BaseException], ...] = (PayloadError, UnicodeError, OverflowError, RecursionError)


def describe_error(exc: BaseException) -> str:
    """A reason safe to store and show: field names for bad payloads, no values that could be personal."""
    if isinstance(exc, PayloadError):
        return f"invalid payload: {exc}"[:500]
    first = (str(exc).splitlines() or [""])[0]
    first = first.split("[SQL:")[0].split("[parameters:")[0]
    first = mask_personal(first)
    return f"{type(exc).__name__}: {first}".strip()[:500]


def _safe(text: str) -> str:
    """`text` (a field path) with e-mail addresses and phone numbers masked (platform ids kept)."""
    return mask_personal(text)


def _build(
    source: str,
    payload: Mapping[str, Any],
    shop: ShopConfig,
    refunds: Mapping[str, Any],
    adjusted: Adjustments,
) -> Order:
    """The order rebuilt from bodies accepted before (read leniently, adjustments noted in `adjusted`)."""
    extra = list(refunds.values())
    if source == "shopify":
        return shopify.parse_order(
            payload, shop.id, extra_refunds=extra, consent_keys=shop.consent_attribute_keys
        )
    if source == "woocommerce":
        return woocommerce.parse_order(payload, shop.id, consent_keys=shop.consent_meta_keys)
    order = canonical_json.parse_order(
        payload, shop.id, default_prices_include_vat=shop.prices_include_vat, lenient=adjusted
    )
    return _with_refunds(order, [canonical_json.parse_refund(r, lenient=adjusted) for r in extra])


def _with_refunds(order: Order, refunds: Sequence[Refund]) -> Order:
    """`order` with `refunds` merged in by refund id (the order's own refunds[] win). The order-edit
    clock `updated_at` stays the order's: a refund is not an order edit, and moving the clock would
    make a newer order edit that arrives later look stale (and be lost)."""
    merged = {r.refund_id: r for r in refunds}
    merged.update({r.refund_id: r for r in order.refunds})
    all_refunds = tuple(sorted(merged.values(), key=lambda r: (r.processed_at, r.refund_id)))
    return replace(order, refunds=all_refunds)


def _scrub(source: str, payload: Mapping[str, Any], shop: ShopConfig) -> dict[str, Any]:
    return intake_privacy.scrub(source, payload, shop)


def _older(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and incoming < stored


def _ingest(
    conn: Connection,
    order: Order,
    shop: ShopConfig,
    now: datetime,
    trigger: bool,
    why_not: str,
    hashed: Hashed | None,
) -> str:
    out = ingest_order(conn, order, shop, now=now, trigger_purchase=trigger, hashed=hashed)
    if out.status == "stale":  # only when another writer (a file import) stored a newer version
        return order_note(out)
    return f"{order_note(out)}; {purchase_note(out, trigger, why_not)}"


def _apply_order(
    conn: Connection,
    source: str,
    topic: str,
    parsed: Parsed,
    shop: ShopConfig,
    now: datetime,
    adjusted: Adjustments,
) -> tuple[str, str]:
    """Order edits are ordered by the order's own `updated_at`: a newer (or equal) version replaces
    the stored one, keeping the refunds delivered apart and the sticky facts (`intake_notes`) of
    older versions; an older one changes nothing, except that it adds a sticky fact the stored
    version lacks and, as a purchase trigger, queues the Purchase for the stored version."""
    order = parsed.order
    assert order is not None and parsed.data is not None
    if order.test:
        return "skipped", "test order: not ingested"
    why_not = "" if parsed.trigger else why_no_purchase(source, topic, order, parsed.data, shop)
    state = inbox.lock_state(conn, shop.id, order.order_id, source, now=now)
    _, clock = inbox.stored_clock(conn, shop.id, order.order_id)
    from_payload = state.payload is not None and not _older(state.updated_at, clock)
    newest = state.updated_at if from_payload else clock
    if _older(order.updated_at, newest):
        return _apply_stale(conn, source, parsed, state, from_payload, newest, shop, now, adjusted, why_not)
    data = dict(parsed.data)
    added = carry_facts(source, data, state.payload)
    state.payload = _scrub(source, data, shop)
    state.updated_at = order.updated_at
    inbox.save_state(conn, state, now=now)
    if added or (state.refunds and source != "woocommerce"):
        order = _build(source, data, shop, state.refunds, adjusted)
    note = _ingest(conn, order, shop, now, parsed.trigger, why_not, parsed.hashed)
    return "done", (f"kept {' and '.join(added)} of an older version; " if added else "") + note


def _apply_stale(
    conn: Connection,
    source: str,
    parsed: Parsed,
    state: inbox.OrderState,
    from_payload: bool,
    newest: datetime | None,
    shop: ShopConfig,
    now: datetime,
    adjusted: Adjustments,
    why_not: str,
) -> tuple[str, str]:
    order = parsed.order
    assert order is not None and parsed.data is not None
    head = f"stale ({when(order.updated_at)} < stored {when(newest)}): kept the stored version"
    added: list[str] = []
    if from_payload:
        assert state.payload is not None
        added = carry_facts(source, state.payload, parsed.data)
        if added:
            inbox.save_state(conn, state, now=now)
            head += " and added this delivery's " + " and ".join(added)
    if not parsed.trigger and not added:
        return "skipped", f"{head}; nothing changed"
    if from_payload:
        assert state.payload is not None
        base = _build(source, state.payload, shop, state.refunds, adjusted)
    else:
        loaded = load_order(conn, shop.id, order.order_id)
        assert loaded is not None, "a stored clock without a stored order"
        base = loaded
    note = _ingest(conn, _with_contact(base, order), shop, now, parsed.trigger, why_not, parsed.hashed)
    return "done", f"{head}; {note}"


def _with_contact(stored: Order, delivered: Order) -> Order:
    """The stored version with the delivery's contact data (the stored payload keeps none): the
    customer, and the browser's IP address and user agent."""
    a = delivered.attribution
    attribution = replace(
        stored.attribution,
        client_ip=a.client_ip or stored.attribution.client_ip,
        user_agent=a.user_agent or stored.attribution.user_agent,
    )
    return replace(stored, customer=delivered.customer, attribution=attribution)


def _apply_refund(
    conn: Connection, source: str, parsed: Parsed, shop: ShopConfig, now: datetime, adjusted: Adjustments
) -> tuple[str, str]:
    """Refunds are merged by refund id into the newest version of the order; they never move its
    order-edit clock."""
    refund, order_id = parsed.refund, parsed.order_id
    assert refund is not None and order_id is not None and parsed.data is not None
    state = inbox.lock_state(conn, shop.id, order_id, source, now=now)
    known = refund.refund_id in state.refunds
    state.refunds[refund.refund_id] = inbox.scrub_refund(_scrub(source, parsed.data, shop))
    inbox.save_state(conn, state, now=now)
    what = f"refund {refund.refund_id}"
    stored, clock = inbox.stored_clock(conn, shop.id, order_id)
    if state.payload is not None and not _older(state.updated_at, clock):
        order = _with_refunds(_build(source, state.payload, shop, state.refunds, adjusted), [refund])
    elif stored:
        loaded = load_order(conn, shop.id, order_id)
        assert loaded is not None
        order = _with_refunds(loaded, [refund])
    else:
        return "done", f"{what} kept until its order arrives"
    out = ingest_order(conn, order, shop, now=now, trigger_purchase=False)
    merged = "merged again (a known refund id)" if known else "merged"
    return "done", f"{what} {merged}; {order_note(out)}"


def process_delivery(
    conn: Connection,
    source: str,
    topic: str,
    body: bytes,
    shop: ShopConfig,
    *,
    now: datetime,
    received_at: datetime | None = None,
) -> tuple[str, str, str | None]:
    """Apply one accepted delivery in the caller's transaction: (done | skipped, the note, order id).

    What the inbox workers do for each row (without the inbox row itself), for replaying deliveries;
    its times are bounded as for a delivery received at `received_at` (default `now`)."""
    return _process_row(conn, source, topic, body, shop, now, received_at or now, Adjustments())


def _process_row(
    conn: Connection,
    source: str,
    topic: str,
    body: bytes,
    shop: ShopConfig,
    now: datetime,
    received_at: datetime,
    adjusted: Adjustments,
) -> tuple[str, str, str | None]:
    """Apply one accepted delivery. It was read strictly when it arrived, so everything here is a
    re-read: lenient, with what had to be adjusted (only in bodies an earlier version accepted) in
    `adjusted`. Its times are bounded as when it was received (a row accepted before the bounds
    existed is refused here, as a PayloadError)."""
    parsed = parse_delivery(source, topic, body, shop, received_at=received_at, lenient=adjusted)
    if parsed.kind == "order":
        status, outcome = _apply_order(conn, source, topic, parsed, shop, now, adjusted)
    elif parsed.kind == "refund":
        status, outcome = _apply_refund(conn, source, parsed, shop, now, adjusted)
    else:
        status, outcome = "skipped", parsed.note
    if adjusted:
        note = f" (stored bodies re-read leniently: {len(adjusted)} adjustments)"
        outcome = outcome[: 200 - len(note)] + note  # the inbox keeps 200 characters
    return status, outcome, parsed.order_id


def _log_adjusted(row: inbox.Claimed, order_id: str | None, adjusted: Adjustments) -> None:
    """One warning per processed delivery whose stored bodies needed adjusting: paths and actions only."""
    log.warning(
        "stored API bodies re-read leniently",
        inbox_id=row.id,
        shop=row.shop_id,
        topic=row.topic,
        order_id=order_id,
        adjustments=len(adjusted),
        adjusted=[_safe(x) for x in adjusted.lines()[:MAX_LOGGED_ADJUSTMENTS]],
    )


def _run(
    engine: Engine, claimed: Sequence[inbox.Claimed], settings: Settings, worker: str, now: datetime
) -> ProcessStats:
    stats = ProcessStats(claimed=len(claimed))
    for row in claimed:
        shop = settings.shop(row.shop_id)
        try:
            if shop is None:
                raise LookupError(f"shop {row.shop_id!r} is not configured")
            adjusted = Adjustments()
            with writing(engine), engine.begin() as conn:
                status, outcome, order_id = _process_row(
                    conn, row.source, row.topic, row.body, shop, now, row.received_at, adjusted
                )
                inbox.finish(conn, row.id, worker, status=status, outcome=outcome, order_id=order_id, now=now)
            stats.done += status == "done"
            stats.skipped += status == "skipped"
            if adjusted:
                stats.reread_leniently += 1
                stats.adjustments += len(adjusted)
                _log_adjusted(row, order_id, adjusted)
        except PERMANENT as exc:  # the body can never be processed: parked at once, with the reason
            with writing(engine), engine.begin() as conn:
                inbox.reject(
                    conn, row.id, worker, error=describe_error(exc), now=now, body=_private_body(row, shop)
                )
            stats.rejected += 1
        except Exception as exc:  # every other failure is recorded on the row and retried; nothing is lost
            attempts = row.attempts + 1
            next_at = now + backoff(attempts) if attempts < MAX_ATTEMPTS else None
            with writing(engine), engine.begin() as conn:
                inbox.fail(
                    conn,
                    row.id,
                    worker,
                    error=describe_error(exc),
                    next_at=next_at,
                    now=now,
                    body=_private_body(row, shop),
                )
            if next_at is None:
                stats.failed += 1
            else:
                stats.retrying += 1
    return stats


def process_ids(
    engine: Engine, ids: Sequence[int], *, now: datetime, settings: Settings, worker: str | None = None
) -> ProcessStats:
    """Process the given rows if they are still due (the web process's background task)."""
    worker = worker or worker_name()
    with writing(engine), engine.begin() as conn:
        claimed = inbox.claim(conn, worker=worker, now=now, ids=ids, limit=len(ids))
    return _run(engine, claimed, effective_settings(settings, engine) if claimed else settings, worker, now)


def process_pending(
    engine: Engine,
    now: datetime,
    *,
    settings: Settings | None = None,
    batch: int = 100,
    max_rows: int | None = None,
    worker: str | None = None,
) -> ProcessStats:
    """Process every due row, a leased batch at a time; safe to run in several processes at once."""
    # With the shop settings changed in the dashboard (consent default, missing-cost policy, …).
    settings = effective_settings(settings or load_settings(), engine)
    worker = worker or worker_name()
    total = ProcessStats()
    while max_rows is None or total.claimed < max_rows:
        limit = batch if max_rows is None else min(batch, max_rows - total.claimed)
        with writing(engine), engine.begin() as conn:
            claimed = inbox.claim(conn, worker=worker, now=now, limit=limit)
        if not claimed:
            break
        total.add(_run(engine, claimed, settings, worker, now))
    return total
