"""Product names for cost-book keys (variant ids / SKUs): from the synced catalogue when there is one,
else from the newest order line that sold the key. Names are shown beside keys; they never price."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import Connection, Table, func, or_, select

from poas.store.tables.foundation import order_lines

_CHUNK = 500


def _catalog() -> Table | None:
    try:
        from poas.store.tables.catalog import product_catalog  # written by `poas sync`
    except ImportError:  # pragma: no cover - an older tree without the catalogue
        return None
    return product_catalog


def _chunks(keys: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i : i + _CHUNK]


def _catalog_name(product: str, variant: str) -> str:
    variant = "" if variant.strip().lower() in ("", "default title") else variant
    return f"{product} – {variant}" if variant and product else product or variant


def titles(conn: Connection, shop_id: str, keys: Collection[str]) -> dict[str, str]:
    """key -> product name, for those of `keys` that have one."""
    found: dict[str, str] = {}
    wanted = sorted(k for k in keys if k)
    cat = _catalog()
    ol = order_lines.c
    for chunk in _chunks(wanted):
        if cat is not None:
            c = cat.c
            for key, product, variant in conn.execute(
                select(c.item_key, c.product_title, c.variant_title).where(
                    c.shop_id == shop_id, c.item_key.in_(chunk)
                )
            ):
                name = _catalog_name(product or "", variant or "")
                if name:
                    found[key] = name
        rest = [k for k in chunk if k not in found]
        if not rest:
            continue
        for column in (ol.variant_id, ol.sku):
            stmt = (
                select(column, func.max(ol.title))
                .where(ol.shop_id == shop_id, column.in_(rest))
                .group_by(column)
            )
            for key, title in conn.execute(stmt):
                if title and key not in found:
                    found[key] = title
    return found


def keys_named(conn: Connection, shop_id: str, text: str) -> set[str]:
    """Keys whose product name contains `text` (case-insensitive)."""
    pattern = f"%{_escape(text.lower())}%"
    out: set[str] = set()
    ol = order_lines.c
    stmt = (
        select(ol.variant_id, ol.sku)
        .where(ol.shop_id == shop_id, func.lower(ol.title).like(pattern, escape="\\"))
        .distinct()
    )
    for variant_id, sku in conn.execute(stmt):
        out.update(k for k in (variant_id, sku) if k)
    cat = _catalog()
    if cat is not None:
        c = cat.c
        stmt2 = select(c.item_key).where(
            c.shop_id == shop_id,
            or_(
                func.lower(c.product_title).like(pattern, escape="\\"),
                func.lower(c.variant_title).like(pattern, escape="\\"),
            ),
        )
        out.update(k for (k,) in conn.execute(stmt2))
    return out


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
