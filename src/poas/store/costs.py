"""Product costs and FX overrides in the store: idempotent import by key and date, load as domain values."""

from __future__ import annotations

import time
import weakref
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine, func, select

from poas.domain.costs import CostBook, CostRow
from poas.domain.fx import FxRate, FxTable
from poas.store.catalog import load_categories
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
    stmt = select(t.cost_key, t.unit_cost, t.currency, t.valid_from, t.source, t.imported_at).where(
        t.shop_id == shop_id
    )
    if keys is not None:
        if not keys:
            return []
        stmt = stmt.where(t.cost_key.in_(sorted(keys)))
    return [
        CostRow(key, from_minor(unit_cost, cur), cur, valid_from, source, seen_at=imported_at)
        for key, unit_cost, cur, valid_from, source, imported_at in conn.execute(stmt)
    ]


def load_cost_book(conn: Connection, shop_id: str, keys: Collection[str] | None = None) -> CostBook:
    """The shop's cost rows (all, or only `keys`) as an effective-dated CostBook, with the catalogue's
    categories for the same keys."""
    return CostBook(load_cost_rows(conn, shop_id, keys), load_categories(conn, shop_id, keys))


def save_fx_rates(conn: Connection, rates: Sequence[FxRate], *, now: datetime) -> int:
    """Upsert user-supplied rates by (base, quote, date)."""
    if not rates:
        return 0
    global _FX_WRITES
    _FX_WRITES += 1  # this process's own writes invalidate its cached tables even at the same `now`
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


@dataclass
class _CachedFx:
    fingerprint: tuple[object, ...]
    content: tuple[tuple[str, ...], ...]
    table: FxTable
    verified_at: float


_FX_BY_ENGINE: weakref.WeakKeyDictionary[Engine, _CachedFx] = weakref.WeakKeyDictionary()
_FX_WRITES = 0
FX_RECHECK_S = 60.0  # at most this long a racing write (same row count, older timestamp) goes unseen


def load_fx_table(conn: Connection) -> FxTable:
    """The FX table profit uses: the bundled ECB history with the stored rates on top.

    Each order needs it, and synced rates grow by a row per currency and day, so the table is built
    once per database and process and reused while a one-row query (row count, newest write) says
    nothing changed; every write stamps `created_at`, so a rate saved by another process is seen at
    once. The stored rates are also read in full every `FX_RECHECK_S`, which catches the one case the
    stamp misses (two writers committing out of order without adding a row).
    """
    count, newest = conn.execute(select(func.count(), func.max(fx_rates.c.created_at))).one()
    fingerprint = (count, newest, _FX_WRITES)
    cached = _FX_BY_ENGINE.get(conn.engine)
    now = time.monotonic()
    if cached is not None and cached.fingerprint == fingerprint and now - cached.verified_at < FX_RECHECK_S:
        return cached.table
    rates = load_fx_rates(conn)
    content = tuple(sorted((r.base, r.quote, r.rate_date.isoformat(), str(r.rate), r.source) for r in rates))
    table = cached.table if cached is not None and cached.content == content else FxTable(rates)
    _FX_BY_ENGINE[conn.engine] = _CachedFx(fingerprint, content, table, now)
    return table
