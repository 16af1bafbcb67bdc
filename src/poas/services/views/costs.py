"""Cost read models: product costs with validity windows, the rules in force, and CSV uploads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.domain.fx import FxError
from poas.services import cost_names
from poas.services.cost_import import read_cost_file, save_costs
from poas.services.missing_costs import (
    DEFAULT_DAYS,
    MissingCost,
    fallback_costs,
    missing_costs,
    unknown_profit,
)
from poas.services.rule_coverage import rule_gaps
from poas.services.views.reports import figures_changed
from poas.settings import ShopConfig
from poas.store import costs as cost_store
from poas.store import rules as rule_store


class CostLine(BaseModel):
    key: str = Field(description="variant id or SKU")
    title: str | None = Field(None, description="product (and variant) name, from the catalog or order lines")
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
    timezone: str = Field(description="the shop's time zone: a date-only valid_from is its midnight")
    total: int = Field(description="cost rows matching the query")
    offset: int = 0
    limit: int
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


class MissingCostLine(BaseModel):
    key: str | None = Field(description="variant id, else SKU; null when the line has neither")
    title: str
    orders: int
    units: int = Field(description="units sold without a cost")
    revenue_ex_vat: Decimal = Field(description="revenue whose profit is unknown (shop currency)")
    first_sold_at: datetime
    last_sold_at: datetime


class MissingCostsView(BaseModel):
    shop_id: str
    currency: str
    days: int = Field(description="window: orders created in the last `days` days")
    orders_without_cost: int = Field(description="orders whose profit is unknown (no cost, no fallback)")
    revenue_without_cost: Decimal
    missing: list[MissingCostLine] = Field(description="newest sale first")
    fallback: list[MissingCostLine] = Field(
        default_factory=list,
        description="variants / SKUs priced with a fallback margin instead of a cost row, newest sale first",
    )


def missing_costs_view(
    engine: Engine, shop: ShopConfig, *, now: datetime, days: int = DEFAULT_DAYS
) -> MissingCostsView:
    """The variants / SKUs sold without a cost (and no fallback margin), newest sale first."""
    lines = missing_costs(engine, shop, now=now, days=days)
    total = unknown_profit(engine, shop, now=now, days=days)
    fallback = fallback_costs(engine, shop, now=now, days=days)
    return MissingCostsView(
        shop_id=shop.id,
        currency=shop.currency,
        days=days,
        orders_without_cost=total.orders,
        revenue_without_cost=total.revenue_ex_vat,
        missing=[
            MissingCostLine(
                key=m.key,
                title=m.title,
                orders=m.orders,
                units=m.units,
                revenue_ex_vat=m.revenue_ex_vat,
                first_sold_at=m.first_sold_at,
                last_sold_at=m.last_sold_at,
            )
            for m in lines
        ],
        fallback=[_line(m) for m in fallback],
    )


def _line(m: MissingCost) -> MissingCostLine:
    return MissingCostLine(
        key=m.key,
        title=m.title,
        orders=m.orders,
        units=m.units,
        revenue_ex_vat=m.revenue_ex_vat,
        first_sold_at=m.first_sold_at,
        last_sold_at=m.last_sold_at,
    )


MAX_UPLOAD_ERRORS = 100


def costs_view(
    engine: Engine, shop: ShopConfig, *, now: datetime, query: str | None, limit: int = 500, offset: int = 0
) -> CostsView:
    """Cost rows with their validity windows (the next row for the same key ends one), a page of them.

    `query` matches the key or the product's name (case-insensitive)."""
    with engine.connect() as conn:
        rows = sorted(cost_store.load_cost_rows(conn, shop.id), key=lambda r: (r.key, r.valid_from))
        stored = rule_store.latest_rules(conn, shop.id)
        q = (query or "").replace("\x00", "").strip().lower()  # PostgreSQL refuses NUL in text
        named = cost_names.keys_named(conn, shop.id, q) if q else set()
        lines: list[CostLine] = []
        for i, r in enumerate(rows):
            nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1].key == r.key else None
            if q and q not in r.key.lower() and r.key not in named:
                continue
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
        page = lines[offset : offset + limit]
        titles = cost_names.titles(conn, shop.id, {c.key for c in page})
    for c in page:
        c.title = titles.get(c.key)
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
        timezone=shop.timezone,
        total=len(lines),
        offset=offset,
        limit=limit,
        query=q or None,
        costs=page,
        rules=rules,
    )


def _missing_rate(shop: ShopConfig, first: CostRow, exc: FxError) -> str:
    """Shorter than the CLI's: an upload's errors name the line and field, not the rates looked up."""
    return f"no {first.currency}->{shop.currency} exchange rate"


def upload_costs(
    engine: Engine, shop: ShopConfig, path: Path, *, file_name: str, now: datetime
) -> UploadResult:
    """Import a cost CSV the way `poas import costs` does: good rows kept, bad rows listed by line.

    Affected stored orders are priced again, so their profit uses the new costs.
    """
    read = read_cost_file(
        engine, shop, path, now=now, max_errors=MAX_UPLOAD_ERRORS, missing_rate=_missing_rate
    )
    errors = [UploadError(file=file_name, line=e.line, field=e.field, message=e.message) for e in read.errors]
    result = UploadResult(file=file_name, imported=0, rejected=read.rejected, errors=errors)
    if not read.rows:
        return result
    saved = save_costs(engine, shop, read.rows, now=now, recompute_reason=f"costs uploaded from {file_name}")
    result.imported, result.recomputed, result.changed = saved.imported, saved.recomputed, saved.changed
    figures_changed(engine)
    return result


class GatewayGap(BaseModel):
    gateway: str = Field(description="payment gateway in lower case, as rules match it")
    orders: int


class ShippingGap(BaseModel):
    method: str = Field(description="the first shipping line's code or title")
    country: str | None
    orders: int


class RuleGapsView(BaseModel):
    """What the cost rules in force leave unpriced in the recent orders: those costs count as 0."""

    shop_id: str
    days: int = Field(description="window: orders created in the last `days` days (test orders left out)")
    orders: int = Field(description="orders in the window")
    fee_orders: int = Field(
        description="orders whose payment fee no rule prices (and no actual fee is known)"
    )
    shipping_orders: int = Field(
        description="orders shipped with a method and country no shipping rule prices"
    )
    fees: list[GatewayGap] = Field(description="per gateway, most orders first")
    shipping: list[ShippingGap] = Field(description="per shipping method and country, most orders first")
    refunded_orders: int = Field(description="orders of the window with a refund")
    return_rate: bool = Field(
        description="a [returns] rule or a fitted model sets return rates; false: expected returns are 0"
    )


def rule_gaps_view(
    engine: Engine, shop: ShopConfig, *, now: datetime, days: int = DEFAULT_DAYS
) -> RuleGapsView:
    gaps = rule_gaps(engine, shop, now=now, days=days)
    return RuleGapsView(
        shop_id=shop.id,
        days=gaps.days,
        orders=gaps.orders,
        fee_orders=gaps.fee_orders,
        shipping_orders=gaps.shipping_orders,
        fees=[GatewayGap(gateway=g, orders=n) for g, n in gaps.fees],
        shipping=[ShippingGap(method=m, country=c, orders=n) for m, c, n in gaps.shipping],
        refunded_orders=gaps.refunded,
        return_rate=gaps.return_rate,
    )
