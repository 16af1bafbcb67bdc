"""The product catalogue in the store: upsert what a sync read, look categories up by cost-book key,
and give stored order lines without a category the one the catalogue states."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, select, update

from poas.store.orders import upsert_insert
from poas.store.tables.catalog import product_catalog
from poas.store.tables.foundation import order_lines

_BATCH = 2000


@dataclass(frozen=True, slots=True)
class CatalogItem:
    key: str  # variant id, or a simple product's SKU (the cost book's key)
    sku: str
    product_title: str
    variant_title: str
    category: str | None


def save_catalog(
    conn: Connection, shop_id: str, items: Iterable[CatalogItem], *, source: str, now: datetime
) -> int:
    """Upsert the items by (shop, key); a re-sync overwrites titles and category. Returns the count."""
    stmt = upsert_insert(conn, product_catalog)
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_id", "item_key"],
        set_={
            c: stmt.excluded[c]
            for c in ("sku", "product_title", "variant_title", "category", "source", "updated_at")
        },
    )
    count = 0
    batch: list[dict[str, object]] = []
    for item in items:
        batch.append(
            {
                "shop_id": shop_id,
                "item_key": item.key[:200],
                "sku": item.sku[:200] or None,
                "product_title": item.product_title[:500],
                "variant_title": item.variant_title[:500],
                "category": (item.category or "")[:200] or None,
                "source": source,
                "updated_at": now,
            }
        )
        if len(batch) >= _BATCH:
            conn.execute(stmt, batch)
            count, batch = count + len(batch), []
    if batch:
        conn.execute(stmt, batch)
        count += len(batch)
    return count


def load_categories(conn: Connection, shop_id: str, keys: Collection[str] | None = None) -> dict[str, str]:
    """Category by key for the shop's catalogued items (all, or only `keys`) that state one."""
    t = product_catalog.c
    stmt = select(t.item_key, t.category).where(t.shop_id == shop_id, t.category.is_not(None))
    if keys is not None:
        if not keys:
            return {}
        stmt = stmt.where(t.item_key.in_(sorted(keys)))
    return {key: category for key, category in conn.execute(stmt)}


def fill_line_categories(conn: Connection, shop_id: str) -> int:
    """Stored order lines without a category get the catalogue's, by variant id, else by SKU."""
    c, ln = product_catalog.c, order_lines.c
    filled = 0
    for column in (ln.variant_id, ln.sku):
        found = (
            select(c.category)
            .where(c.shop_id == ln.shop_id, c.item_key == column, c.category.is_not(None))
            .scalar_subquery()
        )
        stmt = (
            update(order_lines)
            .where(and_(ln.shop_id == shop_id, ln.category.is_(None), column.is_not(None)))
            .where(
                select(c.item_key)
                .where(c.shop_id == ln.shop_id, c.item_key == column, c.category.is_not(None))
                .exists()
            )
            .values(category=found)
        )
        filled += conn.execute(stmt).rowcount or 0
    return filled
