"""The worker's shop timers: order reconciliation (webhooks the platform never delivered) and the
daily unit-cost sync, for every connected shop.

Reconciliation reads the orders changed since its cursor (its own last success less `OVERLAP`; the
first run looks back `FIRST_LOOKBACK`) through the sync services' connectors. Shopify: the changed
orders are listed by cursor pages (id and updatedAt, 252 points a page) and only the missed ones read
in full, one by one (`connectors.shopify_orders`); more than `LIST_MAX` changes or `FETCH_MAX` missed
orders are read by one bulk operation instead. WooCommerce: its keyset pages. An order poas does
not hold, or holds in an older version (stored `updated_at` before the platform's), was missed: it
goes through the webhook's path (`ingest_order`: stored, priced, and its Purchase queued when the
delivery would have triggered it, per the shop's `purchase_topic`; Meta's window is checked where
events are queued). The run is recorded as sync kind `reconcile` per shop (silent for too long:
alerted), with the orders checked and missed (`/metrics`, `poas doctor`). The cost sync is `poas sync
SHOP --costs-only` on a timer, sync kind `cost_sync`. One failing shop never stops the others; its
reason is stored without secrets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import Engine

from poas.connectors.shopify import ShopifyError
from poas.connectors.shopify_orders import changed_orders, orders_to_file
from poas.connectors.woocommerce import WooClient, WooError
from poas.domain.order import Order
from poas.services import shopify_sync, woocommerce_sync
from poas.services.backfill import backfill_records
from poas.services.ingest import ingest_order
from poas.services.sync_status import SyncKind, last_row, reason_text, record_attempt, register
from poas.settings import Settings, ShopConfig
from poas.sources import shopify, woocommerce
from poas.sources.payload import PayloadError, TimeBounds
from poas.store.order_cursor import stored_updates
from poas.store.reconcile_counts import ReconcileCounts, add_counts, load_counts

log = structlog.get_logger("poas.reconcile")

RECONCILE = "reconcile"
COST_SYNC = "cost_sync"
OVERLAP = timedelta(minutes=10)  # orders changed while the last run read are read again
LIST_MAX = 2500  # Shopify: more changed orders than this (10 pages) are read by a bulk operation
FETCH_MAX = 25  # Shopify: more missed orders than this (~400 points each) too
FIRST_LOOKBACK = timedelta(days=1)
_KNOWN = (ShopifyError, WooError, shopify_sync.SyncError, woocommerce_sync.SyncError, PayloadError)


def connected(shop: ShopConfig) -> bool:
    """The shops `poas sync` can read: Shopify with a domain and credentials, WooCommerce with url/key."""
    if shop.platform == "shopify":
        return bool(shop.domain) and (
            shop.shopify_token is not None
            or bool(shop.shopify_client_id and shop.shopify_client_secret is not None)
        )
    if shop.platform == "woocommerce":
        return bool(shop.woocommerce_url) and None not in (shop.woocommerce_key, shop.woocommerce_secret)
    return False


def _connected_ids(settings: Settings) -> list[str]:
    return [shop.id for shop in settings.shops if connected(shop)]


def _action(what: str) -> Callable[[str], str]:
    def action(shop_id: str) -> str:
        return (
            f"check that `poas worker` is running and can reach the shop's platform; `poas sync {shop_id}"
            f"` by hand shows the error (credentials revoked, "
            f"a scope missing, the site down). Until then {what} the webhooks missed are not caught up."
            if what == "orders"
            else f"check that `poas worker` is running and can reach the shop's platform; `poas sync "
            f"{shop_id} --costs-only` by hand shows the error. Until then new orders are priced with "
            "the unit costs last synced."
        )

    return action


register(
    SyncKind(
        RECONCILE,
        "order reconciliation",
        lambda s: max(3 * s.reconcile_every_s, 3600.0),
        _connected_ids,
        _action("orders"),
    )
)
register(
    SyncKind(
        COST_SYNC,
        "unit-cost sync",
        lambda s: max(3 * s.cost_sync_every_s, 3600.0),
        _connected_ids,
        _action("costs"),
    )
)


@dataclass(slots=True)
class ShopReconcile:
    shop_id: str
    checked: int = 0
    missed: int = 0
    queued: int = 0  # missed orders whose Purchase was queued
    error: str | None = None
    read: str = ""  # Shopify: "pages" (changes listed, missed orders read one by one) or "bulk"


@dataclass(slots=True)
class ReconcileReport:
    shops: list[ShopReconcile] = field(default_factory=list)


def _when(stamp: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _missed(held: Mapping[str, datetime | None], order_id: str, updated_at: datetime | None) -> bool:
    """Not held, or held in an older version (compared to the second, as the platforms state it)."""
    if order_id not in held:
        return True
    stored = held[order_id]
    return stored is not None and updated_at is not None and _second(updated_at) > _second(stored)


def _read_bulk_file(path: Path | None, shop: ShopConfig, now: datetime) -> list[Order]:
    if path is None:
        return []
    try:
        with path.open("rb") as stream:
            return [o for o in backfill_records("bulk", stream, shop, None, now) if isinstance(o, Order)]
    finally:
        path.unlink(missing_ok=True)


def _shopify_orders(
    engine: Engine,
    settings: Settings,
    shop: ShopConfig,
    since: datetime,
    now: datetime,
    poll_s: float,
    sleep: Callable[[float], None],
    result: ShopReconcile,
) -> list[Order]:
    """The changed orders to compare. Few changes: listed by pages (id and updatedAt), and only the
    missed ones read in full (`read` = "pages", `checked` set here); many: one bulk operation."""
    with shopify_sync.client_for_shop(settings, shop, sleep=sleep) as client:
        listed = changed_orders(client, since, limit=LIST_MAX)
        if listed is not None:
            live = {gid.rsplit("/", 1)[-1]: (gid, _when(stamp)) for gid, stamp, test in listed if not test}
            with engine.connect() as conn:
                held = stored_updates(conn, shop.id, list(live))
            need = [gid for oid, (gid, when) in live.items() if _missed(held, oid, when)]
            if len(need) <= FETCH_MAX:
                result.read, result.checked = "pages", len(live)
                return _read_bulk_file(orders_to_file(client, need) if need else None, shop, now)
        result.read = "bulk"
        return _read_bulk_file(shopify_sync.download_orders(client, since, poll_s=poll_s), shop, now)


def _woo_orders(
    shop: ShopConfig, since: datetime, now: datetime, sleep: Callable[[float], None]
) -> Iterator[Order]:
    assert shop.woocommerce_url and shop.woocommerce_key and shop.woocommerce_secret  # connected()
    bounds = TimeBounds.of(shop.earliest_order_date, now)
    key, secret = shop.woocommerce_key.get_secret_value(), shop.woocommerce_secret.get_secret_value()
    with WooClient(shop.woocommerce_url, key, secret, sleep=sleep) as client:
        for page in client.orders(since):
            for body in page:
                try:
                    yield woocommerce.parse_order(
                        body, shop.id, consent_keys=shop.consent_meta_keys, bounds=bounds
                    )
                except PayloadError:
                    continue  # `poas sync` names it; reconciliation only catches up what it can read


def _trigger(shop: ShopConfig, order: Order) -> bool:
    """Whether the order's creation webhook would have queued its Purchase."""
    if shop.platform == "shopify":
        return shopify.purchase_trigger("orders/create", order.financial_status, shop.events.purchase_topic)
    return woocommerce.purchase_trigger("order.created", order, shop.events.purchase_topic)


def _second(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(microsecond=0)


def reconcile_shop(
    engine: Engine,
    settings: Settings,
    shop: ShopConfig,
    *,
    now: datetime,
    poll_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ShopReconcile:
    """One shop's run; raises what stopped it (the caller records it)."""
    row = last_row(engine, RECONCILE, shop.id)
    since = (
        row.last_success_at - OVERLAP
        if row is not None and row.last_success_at is not None
        else now - FIRST_LOOKBACK
    )
    result = ShopReconcile(shop.id)
    if shop.platform == "shopify":
        fetched = _shopify_orders(engine, settings, shop, since, now, poll_s, sleep, result)
    else:
        fetched = list(_woo_orders(shop, since, now, sleep))
    latest: dict[str, Order] = {}
    for order in fetched:
        if order.test:
            continue
        prev = latest.get(order.order_id)
        if prev is None or (order.updated_at or now) >= (prev.updated_at or now):
            latest[order.order_id] = order
    if result.read != "pages":
        result.checked = len(latest)
    with engine.connect() as conn:
        held = stored_updates(conn, shop.id, list(latest))
    for order_id, order in latest.items():
        if not _missed(held, order_id, order.updated_at):
            continue
        with engine.begin() as conn:
            out = ingest_order(conn, order, shop, now=now, trigger_purchase=_trigger(shop, order))
        if out.status == "stale":
            continue  # a webhook stored a newer version meanwhile
        result.missed += 1
        if out.events is not None and out.events.queued:
            result.queued += 1
    return result


def reconcile_all(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    poll_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ReconcileReport:
    """Reconcile every connected shop; each run (success or failure) is recorded."""
    report = ReconcileReport()
    for shop in settings.shops:
        if not connected(shop):
            continue
        try:
            result = reconcile_shop(engine, settings, shop, now=now, poll_s=poll_s, sleep=sleep)
        except Exception as exc:  # one shop's platform or data: recorded, the others go on
            reason = reason_text(exc, known=_KNOWN)
            record_attempt(engine, RECONCILE, shop.id, now=now, error=reason)
            log.warning("reconciliation failed", shop=shop.id, error=reason)
            report.shops.append(ShopReconcile(shop.id, error=reason))
            continue
        record_attempt(engine, RECONCILE, shop.id, now=now, error=None)
        with engine.begin() as conn:
            add_counts(conn, RECONCILE, shop.id, checked=result.checked, missed=result.missed)
        if result.missed:
            log.info(
                "reconciliation caught up missed orders",
                shop=shop.id,
                checked=result.checked,
                missed=result.missed,
                purchases_queued=result.queued,
            )
        report.shops.append(result)
    return report


def sync_costs_all(
    engine: Engine, settings: Settings, *, now: datetime, sleep: Callable[[float], None] = time.sleep
) -> dict[str, str | None]:
    """The unit-cost sync of every connected shop: shop id -> None (done) or the failure's reason."""
    done: dict[str, str | None] = {}
    for shop in settings.shops:
        if not connected(shop):
            continue
        try:
            if shop.platform == "shopify":
                shopify_sync.sync_shopify(engine, settings, shop, now=now, costs_only=True, sleep=sleep)
            else:
                woocommerce_sync.sync_woocommerce(engine, shop, now=now, costs_only=True, sleep=sleep)
        except Exception as exc:  # one shop's platform: recorded, the others go on
            done[shop.id] = reason_text(exc, known=_KNOWN)
            log.warning("unit-cost sync failed", shop=shop.id, error=done[shop.id])
        else:
            done[shop.id] = None
        record_attempt(engine, COST_SYNC, shop.id, now=now, error=done[shop.id])
    return done


def reconcile_counts(engine: Engine) -> list[ReconcileCounts]:
    """Every shop's last reconciliation and its counts (`/metrics`, `poas doctor`)."""
    with engine.connect() as conn:
        return load_counts(conn, RECONCILE)
