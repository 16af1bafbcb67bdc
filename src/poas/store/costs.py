"""Product costs and FX overrides in the store: idempotent import by key and date, load as domain values."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from poas.domain.costs import CostBook, CostRow
from poas.domain.fx import FxRate, FxTable
from poas.store.orders import from_minor, to_minor, upsert_insert
from poas.store.tables.foundation import fx_rates, product_costs

_BATCH = 5000


def import_costs(conn: Connection, shop_id: str, rows: Iterable[CostRow], *, now: datetime) -> int:
    """Upsert cost rows by (shop, key, valid_from); a re-import replaces the same rows. Returns the count."""
    stmt = upsert_insert(conn, product_costs)
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_id", "cost_key", "valid_from"],
        set_={c: stmt.excluded[c] for c in ("unit_cost", "currency", "source", "imported_at")},
    )
    count = 0
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(
            {
                "shop_id": shop_id,
                "cost_key": row.key,
                "valid_from": row.valid_from,
                "unit_cost": to_minor(row.unit_cost, row.currency),
                "currency": row.currency,
                "source": row.source,
                "imported_at": now,
            }
        )
        if len(batch) >= _BATCH:
            conn.execute(stmt, batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(stmt, batch)
        count += len(batch)
    return count


def load_cost_rows(conn: Connection, shop_id: str, keys: Collection[str] | None = None) -> list[CostRow]:
    """The shop's cost rows, all of them or only those for `keys` (variant ids / SKUs)."""
    t = product_costs.c
    stmt = select(t.cost_key, t.unit_cost, t.currency, t.valid_from, t.source).where(t.shop_id == shop_id)
    if keys is not None:
        if not keys:
            return []
        stmt = stmt.where(t.cost_key.in_(sorted(keys)))
    return [
        CostRow(key, from_minor(unit_cost, cur), cur, valid_from, source)
        for key, unit_cost, cur, valid_from, source in conn.execute(stmt)
    ]


def load_cost_book(conn: Connection, shop_id: str, keys: Collection[str] | None = None) -> CostBook:
    """The shop's cost rows (all, or only `keys`) as an effective-dated CostBook."""
    return CostBook(load_cost_rows(conn, shop_id, keys))


def save_fx_rates(conn: Connection, rates: Sequence[FxRate], *, now: datetime) -> int:
    """Upsert user-supplied rates by (base, quote, date)."""
    if not rates:
        return 0
    stmt = upsert_insert(conn, fx_rates)
    stmt = stmt.on_conflict_do_update(
        index_elements=["base", "quote", "rate_date"],
        set_={c: stmt.excluded[c] for c in ("rate", "source", "created_at")},
    )
    conn.execute(
        stmt,
        [
            {
                "base": r.base,
                "quote": r.quote,
                "rate_date": r.rate_date,
                "rate": str(r.rate),
                "source": r.source,
                "created_at": now,
            }
            for r in rates
        ],
    )
    return len(rates)


def load_fx_rates(conn: Connection) -> list[FxRate]:
    rows = conn.execute(
        select(fx_rates.c.base, fx_rates.c.quote, fx_rates.c.rate, fx_rates.c.rate_date, fx_rates.c.source)
    )
    return [FxRate(b, q, Decimal(rate), day, source) for b, q, rate, day, source in rows]


_FX_TABLES: dict[tuple[tuple[str, ...], ...], FxTable] = {}
_FX_TABLES_MAX = 8


def load_fx_table(conn: Connection) -> FxTable:
    """The FX table profit uses: the bundled ECB history with the stored user rates on top.

    The table for a given set of stored rates is built once per process and reused (it memoizes its
    look-ups); the rates are read every time, so a rate saved by another process is seen at once.
    """
    rates = load_fx_rates(conn)
    key = tuple(sorted((r.base, r.quote, r.rate_date.isoformat(), str(r.rate), r.source) for r in rates))
    table = _FX_TABLES.get(key)
    if table is None:
        if len(_FX_TABLES) >= _FX_TABLES_MAX:
            _FX_TABLES.clear()
        table = _FX_TABLES[key] = FxTable(rates)
    return table
