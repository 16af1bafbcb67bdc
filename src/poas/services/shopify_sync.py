"""`poas sync` for a Shopify shop: variant unit costs into the cost book, then orders (with their
refunds) through a bulk operation whose JSONL (refund line items added, `download_orders`) is
streamed into the backfill importer.

Costs come first so the orders are priced with them. Every variant (with or without a cost) goes into
the product catalogue with its titles and product type, which is the category of an order line that
carries none (category fallback margins, return rules and rates). A variant's cost is keyed by its
variant id (the key the profit engine looks a Shopify line up by first). A key the book has never
seen gets a row valid from the shop's `earliest_order_date` with source `shopify-first-sync`
(history priced with the cost as first seen); a changed cost gets a new row valid from now (source
`shopify`); an unchanged one, nothing. Orders are read with `updated_at:>=` `--since` when given;
otherwise after the cursor, the start of the last orders sync that finished (less `CURSOR_OVERLAP`,
sync_status kind `shopify_orders`), and all of them on the first sync. No Conversions API events are
sent for synced history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from poas.connectors.shopify import ShopifyClient, ShopifyError
from poas.connectors.shopify_orders import LINE_FIELDS, ORDER_FIELDS, SHIPPING_FIELDS
from poas.connectors.shopify_refund_lines import attach_refund_lines
from poas.domain.costs import FIRST_SYNC_SUFFIX, CostRow
from poas.services.backfill import BackfillReport, backfill
from poas.services.sync_status import last_row, record_attempt
from poas.settings import Settings, ShopConfig
from poas.store.catalog import CatalogItem, fill_line_categories, save_catalog
from poas.store.costs import import_costs, load_cost_rows

CURSOR_KIND = "shopify_orders"
CURSOR_OVERLAP = timedelta(minutes=10)  # orders changed while the last bulk operation ran are read again
FIRST_SYNC_SOURCE = "shopify" + FIRST_SYNC_SUFFIX
SYNC_SOURCE = "shopify"

ORDERS_BULK_QUERY = (
    f"{{ orders(QUERY) {{ edges {{ node {{ {ORDER_FIELDS} "
    # Order.refunds is a list: its refundLineItems connection cannot be selected in a bulk query
    # (connectors.shopify_bulk_rules); download_orders reads them afterwards
    "refunds { id createdAt processedAt } "
    f"lineItems {{ edges {{ node {{ {LINE_FIELDS} }} }} }} "
    f"shippingLines {{ edges {{ node {{ {SHIPPING_FIELDS} }} }} }} }} }} }} }}"
)


class SyncError(RuntimeError):
    """A one-line reason the sync stopped (what was committed before it stays)."""


@dataclass
class ShopifySyncReport:
    costs_seen: int = 0
    costs_new: int = 0
    costs_changed: int = 0
    costs_missing: list[str] = field(default_factory=list)  # variants the shop states no cost for
    orders: BackfillReport | None = None
    since: datetime | None = None
    throttle_waits: int = 0
    token_refreshes: int = 0
    catalogued: int = 0  # variants written to the product catalogue (titles, product type)
    categories_filled: int = 0  # stored order lines given their product type as category


def orders_query(since: datetime | None) -> str:
    """The bulk query for the orders changed at or after `since` (all orders without it)."""
    if since is None:
        return ORDERS_BULK_QUERY.replace("(QUERY)", "")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ORDERS_BULK_QUERY.replace("(QUERY)", f"(query: \"updated_at:>='{stamp}'\")")


def download_orders(client: ShopifyClient, since: datetime | None, *, poll_s: float = 1.0) -> Path | None:
    """The orders changed at or after `since` as bulk JSONL in a temporary file (the caller deletes
    it), their refunds' line items filled in; None when there are none."""
    path = client.bulk_to_file(orders_query(since), poll_s=poll_s)
    if path is None:
        return None
    try:
        attach_refund_lines(client, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def client_for_shop(settings: Settings, shop: ShopConfig, **kw: object) -> ShopifyClient:
    if not shop.domain:
        raise SyncError(
            f"shop {shop.id!r} has no domain (NAME.myshopify.com): run poas connect shopify {shop.id}"
        )
    secret = shop.shopify_client_secret.get_secret_value() if shop.shopify_client_secret else None
    token = shop.shopify_token.get_secret_value() if shop.shopify_token else None
    if not token and not (shop.shopify_client_id and secret):
        raise SyncError(
            f"shop {shop.id!r} has no Shopify credentials (shopify_client_id + shopify_client_secret, or "
            f"shopify_token): run poas connect shopify {shop.id} first"
        )
    return ShopifyClient(
        shop.domain,
        client_id=None if token else shop.shopify_client_id,
        client_secret=None if token else secret,
        token=token,
        base_url=settings.shopify_admin_url,
        api_version=settings.shopify_api_version,
        **kw,  # type: ignore[arg-type]
    )


def sync_costs(
    engine: Engine, client: ShopifyClient, shop: ShopConfig, report: ShopifySyncReport, now: datetime
) -> None:
    seen: dict[str, tuple[Decimal, str]] = {}
    items: list[CatalogItem] = []
    for v in client.variant_costs():
        items.append(
            CatalogItem(v.variant_id, v.sku, v.product_title, v.variant_title, v.product_type or None)
        )
        label = f"{v.product_title} {v.variant_title}".strip() + f" ({v.sku or v.variant_id})"
        if v.unit_cost is None:
            report.costs_missing.append(label)
            continue
        seen[v.variant_id] = (v.unit_cost, v.currency or shop.currency)
    report.costs_seen = len(seen)
    first = datetime.combine(shop.earliest_order_date, datetime.min.time(), UTC)
    with engine.begin() as conn:
        latest: dict[str, CostRow] = {}
        for row in load_cost_rows(conn, shop.id, set(seen)):
            if row.valid_from <= now and (
                row.key not in latest or row.valid_from > latest[row.key].valid_from
            ):
                latest[row.key] = row
        rows: list[CostRow] = []
        for key, (cost, currency) in seen.items():
            old = latest.get(key)
            if old is None:
                rows.append(CostRow(key, cost, currency, first, FIRST_SYNC_SOURCE))
                report.costs_new += 1
            elif old.unit_cost != cost or old.currency != currency:
                rows.append(CostRow(key, cost, currency, now, SYNC_SOURCE))
                report.costs_changed += 1
        import_costs(conn, shop.id, rows, now=now)
        report.catalogued = save_catalog(conn, shop.id, items, source=SYNC_SOURCE, now=now)
        report.categories_filled += fill_line_categories(conn, shop.id)


def sync_shopify(
    engine: Engine,
    settings: Settings,
    shop: ShopConfig,
    *,
    now: datetime,
    since: datetime | None = None,
    costs_only: bool = False,
    batch_size: int = 1000,  # as `poas shopify backfill` (and the benchmark)
    max_errors: int = 20,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    poll_s: float = 1.0,
    on_download: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    backfill_workers: int | None = None,
) -> ShopifySyncReport:
    """Costs, then (unless `costs_only`) orders; `on_download(size)` gets the JSONL's size in bytes
    before the import starts, `on_progress(bytes)` the bytes imported so far; `backfill_workers` as
    `backfill`'s `workers` (default: one process per CPU for a large file)."""
    if since is None and not costs_only:
        row = last_row(engine, CURSOR_KIND, shop.id)
        if row is not None and row.last_success_at is not None:
            since = row.last_success_at - CURSOR_OVERLAP
    report = ShopifySyncReport(since=since)
    try:
        with client_for_shop(settings, shop, sleep=sleep, clock=clock) as client:
            sync_costs(engine, client, shop, report, now)
            if not costs_only:
                path = download_orders(client, since, poll_s=poll_s)
                if path is None:
                    report.orders = BackfillReport()
                else:
                    try:
                        if on_download is not None:
                            on_download(path.stat().st_size)
                        with path.open("rb") as stream:
                            report.orders = backfill(
                                engine,
                                shop,
                                stream,
                                "bulk",
                                now=now,
                                batch_size=batch_size,
                                send_events=False,
                                max_errors=max_errors,
                                on_progress=on_progress,
                                workers=backfill_workers,
                            )
                    finally:
                        path.unlink(missing_ok=True)
                    with engine.begin() as conn:
                        report.categories_filled += fill_line_categories(conn, shop.id)
                record_attempt(
                    engine, CURSOR_KIND, shop.id, now=now, error=None
                )  # the next sync resumes here
            report.throttle_waits = client.throttle_waits
            report.token_refreshes = client.refreshes
    except ShopifyError as exc:
        raise SyncError(str(exc)) from None
    return report
