"""Cost read models: product costs with validity windows, the rules in force, and CSV uploads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, or_, select

from poas.domain.costs import CostRow
from poas.domain.fx import FxError
from poas.services.ingest import recompute_profits
from poas.settings import ShopConfig
from poas.sources.canonical import ParsedCost, RowError, read_costs_csv
from poas.store import costs as cost_store
from poas.store import rules as rule_store
from poas.store.orders import ensure_shop
from poas.store.tables.foundation import order_lines
from poas.web.views.reports import figures_changed


class CostLine(BaseModel):
    key: str = Field(description="variant id or SKU")
    unit_cost: Decimal
    currency: str
    valid_from: datetime
    valid_to: datetime | None = Field(None, description="when the next row for the key takes over")
    current: bool
    source: str


class RulesInfo(BaseModel):
    version: int
    format: str
    source: str
    loaded_at: datetime
    document: str


class CostsView(BaseModel):
    shop_id: str
    currency: str
    total: int
    query: str | None
    costs: list[CostLine]
    rules: RulesInfo | None


class UploadError(BaseModel):
    file: str
    line: int
    field: str | None
    message: str


class UploadResult(BaseModel):
    file: str
    imported: int = Field(description="cost rows written (one per variant id / SKU given)")
    rejected: int
    errors: list[UploadError] = Field(description="the first rejected rows (never their contents)")
    recomputed: int = Field(0, description="stored orders priced again")
    changed: int = Field(0, description="of those, orders whose profit changed (new snapshot)")


MAX_UPLOAD_ERRORS = 100


def costs_view(
    conn: Connection, shop: ShopConfig, *, now: datetime, query: str | None, limit: int = 500
) -> CostsView:
    """Every cost row with its validity window (the next row for the same key ends it)."""
    rows = sorted(cost_store.load_cost_rows(conn, shop.id), key=lambda r: (r.key, r.valid_from))
    q = (query or "").strip().lower()
    lines: list[CostLine] = []
    for i, r in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1].key == r.key else None
        valid_to = nxt.valid_from if nxt else None
        lines.append(
            CostLine(
                key=r.key,
                unit_cost=r.unit_cost,
                currency=r.currency,
                valid_from=r.valid_from,
                valid_to=valid_to,
                current=r.valid_from <= now and (valid_to is None or valid_to > now),
                source=r.source,
            )
        )
    if q:
        lines = [c for c in lines if q in c.key.lower()]
    stored = rule_store.latest_rules(conn, shop.id)
    rules = (
        RulesInfo(
            version=stored.version,
            format=stored.format,
            source=stored.source,
            loaded_at=stored.loaded_at,
            document=stored.document,
        )
        if stored
        else None
    )
    return CostsView(
        shop_id=shop.id,
        currency=shop.currency,
        total=len(lines),
        query=q or None,
        costs=lines[:limit],
        rules=rules,
    )


def _orders_with_keys(conn: Connection, shop_id: str, keys: set[str]) -> list[str]:
    found: set[str] = set()
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        found.update(
            conn.execute(
                select(order_lines.c.order_id)
                .where(order_lines.c.shop_id == shop_id)
                .where(or_(order_lines.c.variant_id.in_(chunk), order_lines.c.sku.in_(chunk)))
                .distinct()
            ).scalars()
        )
    return sorted(found)


def upload_costs(
    engine: Engine, shop: ShopConfig, path: Path, *, file_name: str, now: datetime
) -> UploadResult:
    """Import a cost CSV the way `poas import costs` does: good rows kept, bad rows listed by line.

    Affected stored orders are priced again, so their profit uses the new costs.
    """
    rows: list[CostRow] = []
    errors: list[UploadError] = []
    rejected = 0
    with engine.connect() as conn:
        fx = cost_store.load_fx_table(conn)
    for item in read_costs_csv(path, default_currency=shop.currency, timezone=shop.timezone):
        if isinstance(item, ParsedCost) and item.rows[0].currency != shop.currency:
            first = item.rows[0]
            try:
                fx.rate(
                    first.currency, shop.currency, first.valid_from if first.valid_from.year >= 1999 else now
                )
            except FxError:
                item = RowError(
                    file_name, item.line, "currency", f"no {first.currency}->{shop.currency} exchange rate"
                )
        if isinstance(item, RowError):
            rejected += 1
            if len(errors) < MAX_UPLOAD_ERRORS:
                errors.append(
                    UploadError(file=file_name, line=item.line, field=item.field, message=item.message)
                )
            continue
        rows.extend(item.rows)
    result = UploadResult(file=file_name, imported=0, rejected=rejected, errors=errors)
    if not rows:
        return result
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        result.imported = cost_store.import_costs(conn, shop.id, rows, now=now)
        ids = _orders_with_keys(conn, shop.id, {r.key for r in rows})
        if ids:
            done = recompute_profits(
                conn, shop, now=now, reason=f"costs uploaded from {file_name}", order_ids=ids
            )
            result.recomputed, result.changed = done.checked, done.changed
    figures_changed(engine)
    return result
