"""Unit costs from a CSV file into the cost book (`poas import costs`, the dashboard's upload, the demo).

Good rows are kept and bad rows reported by line; a cost in another currency than the shop's is
refused when no exchange rate converts it. The stored orders that sell an imported key are priced
again, so their profit uses the new costs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, or_, select

from poas.domain.costs import CostRow
from poas.domain.fx import FxError
from poas.services.ingest import recompute_profits
from poas.settings import ShopConfig
from poas.sources.canonical import ParsedCost, RowError, read_costs_csv
from poas.store.costs import import_costs, load_fx_table
from poas.store.orders import ensure_shop
from poas.store.tables.foundation import order_lines

MissingRate = Callable[[ShopConfig, CostRow, FxError], str]


def explain_missing_rate(shop: ShopConfig, first: CostRow, exc: FxError) -> str:
    return (
        f"cost in {first.currency} but shop {shop.id} uses {shop.currency} and there is no "
        f"{first.currency}->{shop.currency} rate ({exc})"
    )


@dataclass(slots=True)
class CostFile:
    """A cost CSV read and checked, nothing stored yet."""

    rows: list[CostRow] = field(default_factory=list)
    lines: int = 0  # good lines (each gives one row per key: variant id and/or SKU)
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first `max_errors` rejected rows


@dataclass(slots=True)
class CostsSaved:
    imported: int  # cost rows written (one per variant id / SKU given)
    recomputed: int = 0  # stored orders priced again
    changed: int = 0  # of those, orders whose profit changed (a new snapshot)


def read_cost_file(
    engine: Engine,
    shop: ShopConfig,
    path: Path,
    *,
    now: datetime,
    max_errors: int,
    missing_rate: MissingRate = explain_missing_rate,
) -> CostFile:
    """Parse `path` and check that every foreign-currency cost converts to the shop's currency (at its
    `valid_from`, or `now` for "always"); `missing_rate` words the refusal when it does not."""
    with engine.connect() as conn:
        fx = load_fx_table(conn)
    result = CostFile()
    for item in read_costs_csv(path, default_currency=shop.currency, timezone=shop.timezone):
        if isinstance(item, ParsedCost) and item.rows[0].currency != shop.currency:
            first = item.rows[0]
            on = first.valid_from if first.valid_from.year >= 1999 else now
            try:
                fx.rate(first.currency, shop.currency, on)
            except FxError as exc:
                item = RowError(str(path), item.line, "currency", missing_rate(shop, first, exc))
        if isinstance(item, RowError):
            result.rejected += 1
            if len(result.errors) < max_errors:
                result.errors.append(item)
            continue
        result.lines += 1
        result.rows.extend(item.rows)
    return result


def orders_with_keys(conn: Connection, shop_id: str, keys: set[str]) -> list[str]:
    """The shop's stored orders with a line whose variant id or SKU is one of `keys`."""
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


def save_costs(
    engine: Engine, shop: ShopConfig, rows: list[CostRow], *, now: datetime, recompute_reason: str | None
) -> CostsSaved:
    """Upsert `rows` in one transaction; with a `recompute_reason`, price the affected orders again."""
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        saved = CostsSaved(imported=import_costs(conn, shop.id, rows, now=now))
        if recompute_reason is None or not rows:
            return saved
        ids = orders_with_keys(conn, shop.id, {r.key for r in rows})
        if ids:
            done = recompute_profits(conn, shop, now=now, reason=recompute_reason, order_ids=ids)
            saved.recomputed, saved.changed = done.checked, done.changed
    return saved
