"""Router: Shopify and WooCommerce webhooks — size limit, signature, shape check, then into the inbox."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from poas.services import intake
from poas.settings import Settings, ShopConfig

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)
_create_lock = threading.Lock()


class Processor:
    """Processes accepted deliveries on a thread of the web process, right after each answer.

    Answers never wait for processing, and processing gives way to them: while requests are being
    answered it waits (at most `max_yield_s` per chunk of rows), so a burst is accepted first and
    processed right after. A row this thread cannot finish (crash, shutdown) stays in the inbox, and
    `poas worker` / `poas inbox retry` pick it up once its lease expires.
    """

    chunk = 20
    max_yield_s = 0.25

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.ids: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.busy = 0
        self.answering = 0  # intake requests being handled right now
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="poas-intake", daemon=True)
        self.thread.start()

    @classmethod
    def of(cls, app: FastAPI) -> Processor:
        with _create_lock:
            proc: Processor | None = getattr(app.state, "intake_processor", None)
            if proc is None:
                proc = cls(app)
                app.state.intake_processor = proc
            return proc

    def submit(self, row_id: int) -> None:
        with self.lock:
            self.busy += 1
        self.ids.put(row_id)

    def enter(self) -> None:
        with self.lock:
            self.answering += 1

    def leave(self) -> None:
        with self.lock:
            self.answering -= 1

    def _give_way(self) -> None:
        deadline = time.monotonic() + self.max_yield_s
        while self.answering > 0 and time.monotonic() < deadline:
            time.sleep(0.002)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Block until every submitted row was processed (tests, graceful shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.busy == 0:
                    return True
            time.sleep(0.002)
        return False

    def _loop(self) -> None:
        while True:
            batch = [self.ids.get()]
            while len(batch) < 200:
                try:
                    batch.append(self.ids.get_nowait())
                except queue.Empty:
                    break
            for i in range(0, len(batch), self.chunk):
                part = batch[i : i + self.chunk]
                self._give_way()
                try:
                    intake.process_ids(
                        self.app.state.engine, part, now=datetime.now(UTC), settings=self.app.state.settings
                    )
                except Exception as exc:  # the rows stay in the inbox for the workers; keep serving
                    log.warning("inbox processing failed: %s", intake.describe_error(exc))
                finally:
                    with self.lock:
                        self.busy -= len(part)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def shop_or_404(request: Request, shop_id: str) -> ShopConfig:
    shop = _settings(request).shop(shop_id)
    if shop is None:
        raise HTTPException(404, "unknown shop")
    return shop


_ROUTES = {"shopify": "/webhooks/shopify/{shop}", "woocommerce": "/webhooks/woocommerce/{shop}"}
_NAMES = {"shopify": "Shopify", "woocommerce": "WooCommerce"}


def platform_shop_or_404(request: Request, shop_id: str, platform: str) -> ShopConfig:
    """The shop behind a platform's webhook route, refused (404) when it is configured for another.

    The check comes before the body is read or its signature checked, so a body shaped for one
    platform can never enter through the other platform's parser, whatever secret signed it. The
    JSON API (`/api/v1/orders`) is not tied to a platform: any shop may use it.
    """
    shop = shop_or_404(request, shop_id)
    if shop.platform != platform:
        route = _ROUTES[platform].format(shop=shop.id)
        if shop.platform in _ROUTES:
            instead = f"its webhooks go to {_ROUTES[shop.platform].format(shop=shop.id)}"
        else:
            instead = "it sends orders to POST /api/v1/orders"
        raise HTTPException(
            404,
            f"{route} takes {_NAMES[platform]} webhooks, but shop {shop.id!r} is configured with "
            f"platform = {shop.platform!r}: {instead}",
        )
    return shop


async def read_body(request: Request) -> bytes:
    """The raw body, refused with 413 beyond `webhook_max_bytes` (declared or actually streamed)."""
    limit = _settings(request).webhook_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HTTPException(400, "invalid Content-Length")
        if int(declared) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # The sender went away mid-body: nothing was accepted, so nothing is stored; it will retry.
        raise HTTPException(400, "the body ended early (client disconnected)") from None
    return b"".join(chunks)


def _acceptor(app: FastAPI) -> intake.Acceptor:
    with _create_lock:
        acceptor: intake.Acceptor | None = getattr(app.state, "intake_acceptor", None)
        if acceptor is None:
            acceptor = intake.Acceptor(app.state.engine)
            app.state.intake_acceptor = acceptor
        return acceptor


def _process_soon(request: Request, row_id: int) -> None:
    Processor.of(request.app).submit(row_id)


async def accept(
    request: Request,
    background: BackgroundTasks,
    shop: ShopConfig,
    source: str,
    topic: str,
    body: bytes,
    dedup_key: str | None,
    triggered_at: datetime | None = None,
) -> JSONResponse:
    """Check the shape, store the delivery, answer, and process it after the response.

    A body that can never be processed is answered 400/422 on the JSON API; on a webhook route (the
    body is signed: the platform sent it) it is answered 200 and stored parked as `rejected` with
    the reason, as platforms retry, and then disable, a webhook that keeps failing."""
    processor: Processor | None = getattr(request.app.state, "intake_processor", None)
    if processor is None:
        return await _accept(request, background, shop, source, topic, body, dedup_key, triggered_at)
    processor.enter()
    try:
        return await _accept(request, background, shop, source, topic, body, dedup_key, triggered_at)
    finally:
        processor.leave()


async def _accept(
    request: Request,
    background: BackgroundTasks,
    shop: ShopConfig,
    source: str,
    topic: str,
    body: bytes,
    dedup_key: str | None,
    triggered_at: datetime | None,
) -> JSONResponse:
    if not intake.handles(source, topic):
        return JSONResponse({"status": "ignored", "reason": f"topic {topic!r} is not used"})
    now = datetime.now(UTC)
    parsed = intake.check_delivery(source, topic, body, shop, received_at=now)
    if isinstance(parsed, intake.Refusal) and source == "api":
        code = 400 if parsed.field == "body" else 422
        return JSONResponse({"detail": parsed.detail, "field": parsed.field}, status_code=code)
    if isinstance(parsed, intake.Refusal):
        return await _park(request, shop, source, topic, body, dedup_key, triggered_at, parsed, now)
    delivery = intake.new_delivery(
        shop,
        source,
        topic,
        body,
        dedup_key=dedup_key,
        received_at=now,
        triggered_at=triggered_at,
        order_id=parsed.order_id,
        parsed=parsed,  # stored in its private form, contact data hashed from what was read here
    )
    row_id, new = await asyncio.wrap_future(_acceptor(request.app).submit(delivery, now=now))
    if new and _settings(request).intake_process_in_web:
        background.add_task(_process_soon, request, row_id)
    body_out: dict[str, Any] = {"status": "accepted" if new else "duplicate", "inbox_id": row_id}
    return JSONResponse(body_out, status_code=202 if source == "api" else 200)


async def _park(
    request: Request,
    shop: ShopConfig,
    source: str,
    topic: str,
    body: bytes,
    dedup_key: str | None,
    triggered_at: datetime | None,
    refusal: intake.Refusal,
    now: datetime,
) -> JSONResponse:
    """Store a signed webhook body that can never be processed as `rejected` and answer 200."""
    delivery = intake.rejected_delivery(
        shop, source, topic, body, refusal, dedup_key=dedup_key, received_at=now, triggered_at=triggered_at
    )
    row_id, new = await asyncio.wrap_future(_acceptor(request.app).submit(delivery, now=now))
    status = "rejected" if new else "duplicate"
    return JSONResponse(
        {"status": status, "inbox_id": row_id, "field": refusal.field, "detail": refusal.detail}
    )


@router.post("/webhooks/shopify/{shop_id}")
async def shopify_webhook(shop_id: str, request: Request, background: BackgroundTasks) -> JSONResponse:
    shop = platform_shop_or_404(request, shop_id, "shopify")
    body = await read_body(request)
    h = request.headers
    if not intake.signature_valid(body, h.get("x-shopify-hmac-sha256"), shop):
        raise HTTPException(401, "missing or wrong X-Shopify-Hmac-Sha256 signature")
    topic = (h.get("x-shopify-topic") or "").strip()
    if not topic:
        raise HTTPException(400, "X-Shopify-Topic header is required")
    dedup = h.get("x-shopify-event-id") or h.get("x-shopify-webhook-id")
    key = f"event:{dedup.strip()}" if dedup and dedup.strip() else None
    triggered = intake.triggered_at(h.get("x-shopify-triggered-at"))
    return await accept(request, background, shop, "shopify", topic, body, key, triggered)


@router.post("/webhooks/woocommerce/{shop_id}")
async def woocommerce_webhook(shop_id: str, request: Request, background: BackgroundTasks) -> JSONResponse:
    shop = platform_shop_or_404(request, shop_id, "woocommerce")
    body = await read_body(request)
    h = request.headers
    if intake.is_woocommerce_ping(body):
        return JSONResponse({"status": "ping"})  # sent unsigned when a webhook is saved; nothing stored
    if not intake.signature_valid(body, h.get("x-wc-webhook-signature"), shop):
        raise HTTPException(401, "missing or wrong X-WC-Webhook-Signature signature")
    topic = (h.get("x-wc-webhook-topic") or "").strip()
    if not topic:
        raise HTTPException(400, "X-WC-Webhook-Topic header is required")
    delivery = (h.get("x-wc-webhook-delivery-id") or "").strip()
    return await accept(request, background, shop, "woocommerce", topic, body, delivery or None)
