"""`poas sync` for a WooCommerce shop: unit costs into the cost book, then orders (with their refunds)
page by page through the WooCommerce parser and the batch importer.

Costs come first so the orders are priced with them. A variation's cost is keyed by its variation id,
a simple product's by its SKU (else its id): the keys the profit engine looks a WooCommerce line up by.
Every item (with or without a cost) goes into the product catalogue with its title and first category,
the category of an order line that carries none (category fallback margins, return rules and rates).
A key the book has never seen gets a row valid from the shop's `earliest_order_date` with source
`woocommerce-first-sync` (history priced with the cost as first seen, and the breakdown says so);
a changed cost gets a new row valid from now (source `woocommerce`); an unchanged one, nothing.

Orders are read oldest change first (`orderby=modified`) after a cursor: `--since`, else the newest
`updated_at` of the shop's stored WooCommerce orders, so an interrupted sync resumes where its last
committed page ended. Each page is one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from poas.connectors.woocommerce import ProductCost, WooClient, WooError
from poas.domain.costs import FIRST_SYNC_SUFFIX, CostRow
from poas.domain.order import Order
from poas.services.ingest import BatchOutcome, ProfitContext, ingest_orders
from poas.settings import ShopConfig
from poas.sources.payload import PayloadError, TimeBounds
from poas.sources.woocommerce import parse_order
from poas.store.catalog import CatalogItem, fill_line_categories, save_catalog
from poas.store.costs import import_costs, load_cost_rows
from poas.store.order_cursor import newest_update
from poas.store.orders import ensure_shop

FIRST_SYNC_SOURCE = "woocommerce" + FIRST_SYNC_SUFFIX
SYNC_SOURCE = "woocommerce"


class SyncError(RuntimeError):
    """A one-line reason the sync stopped (what was committed before it stays)."""


@dataclass
class WooSyncReport:
    costs_seen: int = 0
    costs_new: int = 0
    costs_changed: int = 0
    costs_missing: list[str] = field(default_factory=list)  # items the shop states no cost for
    orders_accepted: int = 0
    orders_rejected: int = 0
    errors: list[str] = field(default_factory=list)
    since: datetime | None = None
    throttled: int = 0
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    unkeyed: list[str] = field(default_factory=list)  # simple products without a SKU: not matchable
    catalogued: int = 0  # items written to the product catalogue (title, first category)
    categories_filled: int = 0  # stored order lines given their product's category


def cost_key(item: ProductCost) -> str:
    if item.variant_id != item.product_id:
        return item.variant_id
    return item.sku or item.variant_id


def _latest(rows: list[CostRow], now: datetime) -> dict[str, CostRow]:
    latest: dict[str, CostRow] = {}
    for row in rows:
        if row.valid_from <= now and (row.key not in latest or row.valid_from > latest[row.key].valid_from):
            latest[row.key] = row
    return latest


def sync_costs(
    engine: Engine, client: WooClient, shop: ShopConfig, report: WooSyncReport, now: datetime
) -> None:
    seen: dict[str, Decimal] = {}
    items: list[CatalogItem] = []
    for item in client.product_costs(shop.woocommerce_cost_meta_keys):
        if item.variant_id == item.product_id and not item.sku:
            # a simple product's order lines carry no variation id, so only a SKU finds its cost
            report.unkeyed.append(f"{item.title} (product {item.product_id})")
            continue
        items.append(CatalogItem(cost_key(item), item.sku, item.title, "", item.product_type or None))
        if item.unit_cost is None:
            report.costs_missing.append(f"{item.title} ({cost_key(item)})")
            continue
        seen[cost_key(item)] = item.unit_cost
    report.costs_seen = len(seen)
    first = datetime.combine(shop.earliest_order_date, datetime.min.time(), UTC)
    with engine.begin() as conn:
        latest = _latest(load_cost_rows(conn, shop.id, set(seen)), now)
        rows: list[CostRow] = []
        for key, cost in seen.items():
            old = latest.get(key)
            if old is None:
                rows.append(CostRow(key, cost, shop.currency, first, FIRST_SYNC_SOURCE))
                report.costs_new += 1
            elif old.unit_cost != cost or old.currency != shop.currency:
                rows.append(CostRow(key, cost, shop.currency, now, SYNC_SOURCE))
                report.costs_changed += 1
        import_costs(conn, shop.id, rows, now=now)
        report.catalogued = save_catalog(conn, shop.id, items, source=SYNC_SOURCE, now=now)
        report.categories_filled += fill_line_categories(conn, shop.id)


def sync_orders(
    engine: Engine,
    client: WooClient,
    shop: ShopConfig,
    report: WooSyncReport,
    now: datetime,
    *,
    since: datetime | None,
    max_errors: int,
    on_page: Callable[[int, int], None] | None,
) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        ctx = ProfitContext.load(conn, shop)
        report.since = since if since is not None else newest_update(conn, shop.id, "woocommerce")
    bounds = TimeBounds.of(shop.earliest_order_date, now)
    for page in client.orders(report.since):
        batch: list[Order] = []
        for body in page:
            try:
                batch.append(parse_order(body, shop.id, consent_keys=shop.consent_meta_keys, bounds=bounds))
            except PayloadError as exc:
                report.orders_rejected += 1
                if len(report.errors) < max_errors:
                    report.errors.append(f"order {body.get('id', '?')}: {exc}")
        if batch:
            with engine.begin() as conn:
                ingest_orders(conn, batch, shop, now=now, context=ctx, outcome=report.outcome)
        report.orders_accepted += len(batch)
        if on_page is not None:
            on_page(report.orders_accepted, report.orders_rejected)


def sync_woocommerce(
    engine: Engine,
    shop: ShopConfig,
    *,
    now: datetime,
    since: datetime | None = None,
    costs_only: bool = False,
    max_errors: int = 20,
    sleep: Callable[[float], None] = time.sleep,
    on_page: Callable[[int, int], None] | None = None,
) -> WooSyncReport:
    if not shop.woocommerce_url or shop.woocommerce_key is None or shop.woocommerce_secret is None:
        raise SyncError(
            f"shop {shop.id!r} has no WooCommerce connection (woocommerce_url, key and secret): "
            f"run poas connect woocommerce {shop.id} first"
        )
    report = WooSyncReport()
    key, secret = shop.woocommerce_key.get_secret_value(), shop.woocommerce_secret.get_secret_value()
    try:
        with WooClient(shop.woocommerce_url, key, secret, sleep=sleep) as client:
            sync_costs(engine, client, shop, report, now)
            if not costs_only:
                sync_orders(
                    engine, client, shop, report, now, since=since, max_errors=max_errors, on_page=on_page
                )
                with engine.begin() as conn:
                    report.categories_filled += fill_line_categories(conn, shop.id)
            report.throttled = client.throttled
    except WooError as exc:
        raise SyncError(str(exc)) from None
    return report
