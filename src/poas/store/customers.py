"""Customers per shop, kept in step with the orders: `place_orders` in the order's own transaction.

Each stored order gets a `customer_orders` row (its customer key, whether it counts, its number
among its customer's counted orders, and its latest profit snapshot's figures); each customer a
`customers` row adding up its counted orders. Rules: poas.domain.customers and docs/metrics.md.

Concurrent writers: on PostgreSQL the customers a transaction touches are locked (transaction
advisory locks, taken in one sorted statement so two writers never wait on each other in a cycle,
inside the shop's gate held shared, taken before the orders' current customers are read) before
their orders are read and numbered; a backfill's or a rebuild's placement holds the gate alone
instead (one lock, whatever the number of customers).
Every later statement (READ COMMITTED) then sees the other writers' committed orders. SQLite has one
writer at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, text, update

from poas.domain.customers import Placed, counts, customer_key, customer_type, number_orders
from poas.store.customer_numbering import Rebuild, gate, number_customers, stage_placements, staged_row
from poas.store.order_rows import utc_text
from poas.store.tables.customers import customer_orders, customers
from poas.store.tables.foundation import orders, profit_snapshots, shops

_IN = 500  # ids per IN (...)
_FIGURES = ("revenue_minor", "gross_profit_minor", "expected_profit_minor", "realized_profit_minor")


def _chunks(ids: Sequence[str], size: int = _IN) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


@dataclass(frozen=True, slots=True)
class CustomerRow:
    customer_key: str
    first_order_id: str
    first_order_at: datetime
    last_order_at: datetime
    orders: int
    currency: str
    revenue_minor: int
    gross_profit_minor: int
    expected_profit_minor: int
    realized_profit_minor: int  # realized so far (refunds and cancellations known today)
    orders_without_cost: int


def _latest_snapshots(conn: Connection, shop_id: str, ids: Sequence[str]) -> dict[str, Any]:
    ps = profit_snapshots.c
    latest: dict[str, Any] = {}
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(
                ps.order_id,
                ps.version,
                ps.currency,
                ps.revenue_ex_vat,
                ps.gross_profit,
                ps.expected_profit,
                ps.realized_profit,
                ps.missing_cost_lines,
            ).where(ps.shop_id == shop_id, ps.order_id.in_(chunk))
        )
        for r in rows:
            if r.order_id not in latest or r.version > latest[r.order_id].version:
                latest[r.order_id] = r
    return latest


def _order_facts(conn: Connection, shop_id: str, ids: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    """The customer_orders rows (without `seq`) for the stored orders among `ids`."""
    o = orders.c
    snaps = _latest_snapshots(conn, shop_id, ids)
    out: list[dict[str, Any]] = []
    for chunk in _chunks(ids):
        heads = conn.execute(
            select(o.order_id, o.created_at, o.test, o.cancelled_at, o.financial_status, o.user_data).where(
                o.shop_id == shop_id, o.order_id.in_(chunk)
            )
        )
        for h in heads:
            snap = snaps.get(h.order_id)
            known = snap is not None and int(snap.missing_cost_lines or 0) == 0
            kept = snap if known else None
            out.append(
                {
                    "shop_id": shop_id,
                    "order_id": h.order_id,
                    "customer_key": customer_key(h.user_data),
                    "placed_at": h.created_at,
                    "counts": counts(
                        test=bool(h.test), cancelled_at=h.cancelled_at, financial_status=h.financial_status
                    ),
                    "seq": None,
                    "profit_known": known,
                    "revenue_minor": int(snap.revenue_ex_vat) if snap is not None else 0,
                    "gross_profit_minor": int(kept.gross_profit) if kept is not None else 0,
                    "expected_profit_minor": int(kept.expected_profit) if kept is not None else 0,
                    "realized_profit_minor": int(kept.realized_profit) if kept is not None else 0,
                    "changed_at": now,
                    "_currency": snap.currency if snap is not None else None,
                }
            )
    return out


def _lock_customers(conn: Connection, shop_id: str, keys: Iterable[str]) -> None:
    """PostgreSQL: hold the customers' advisory locks to the end of the transaction (sorted: no cycles),
    inside the shop's gate, which the caller holds shared."""
    if conn.dialect.name != "postgresql":
        return
    names = sorted({f"poas.customer:{shop_id}:{k}" for k in keys})
    if names:
        conn.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT hashtextextended(n, 0) AS h"
                " FROM unnest(CAST(:names AS text[])) AS n ORDER BY 1) AS s"
            ),
            {"names": names},
        )


def place_orders(conn: Connection, shop_id: str, order_ids: Sequence[str], *, now: datetime) -> set[str]:
    """Place stored orders in their customers' histories (caller's transaction); the customers touched.

    Call after the orders and their profit snapshots are written: an order moving to another
    customer (its e-mail changed), a cancellation, a payment or a refund renumbers and re-adds up
    every customer it was or is part of.
    """
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return set()
    # The gate before the orders' current customers are read: a bulk placement moving one of these
    # orders to another customer commits first, and that customer is renumbered here too (read before
    # it, the old key named the customer the bulk had just taken the order from, whose row kept it).
    gate(conn, shop_id, whole_shop=False)
    facts = _order_facts(conn, shop_id, ids, now)
    co = customer_orders.c
    old_keys: set[str] = set()
    for chunk in _chunks(ids):
        old_keys.update(
            k
            for k in conn.execute(
                select(co.customer_key).where(co.shop_id == shop_id, co.order_id.in_(chunk))
            ).scalars()
            if k is not None
        )
    keys = old_keys | {f["customer_key"] for f in facts if f["customer_key"] is not None}
    _lock_customers(conn, shop_id, keys)
    for chunk in _chunks(ids):
        conn.execute(delete(customer_orders).where(co.shop_id == shop_id, co.order_id.in_(chunk)))
    currency = next((f["_currency"] for f in facts if f["_currency"]), None)
    fresh = [{k: v for k, v in f.items() if k != "_currency"} for f in facts]
    _renumber(conn, shop_id, sorted(keys), now=now, currency=currency, fresh=fresh)
    return keys


def _renumber(
    conn: Connection,
    shop_id: str,
    keys: Sequence[str],
    *,
    now: datetime,
    currency: str | None,
    fresh: list[dict[str, Any]] | None = None,
) -> None:
    """Number the customers' orders and rewrite their sums. `fresh` rows (orders just deleted from
    customer_orders, to be stored again) are numbered with the stored ones and inserted with their
    number, so only stored rows whose number moved are updated."""
    co = customer_orders.c
    fresh_by_key: dict[str, list[Any]] = defaultdict(list)
    inserts: list[dict[str, Any]] = []
    for f in fresh or []:
        if f["customer_key"] is None:
            inserts.append(f)
        else:
            fresh_by_key[f["customer_key"]].append(SimpleNamespace(**f))
    for chunk in _chunks(keys):
        rows = conn.execute(
            select(
                co.order_id,
                co.customer_key,
                co.placed_at,
                co.counts,
                co.seq,
                co.profit_known,
                *(co[f] for f in _FIGURES),
            ).where(co.shop_id == shop_id, co.customer_key.in_(chunk))
        ).all()
        by_key: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            by_key[r.customer_key].append(r)
        for key in chunk:
            by_key[key].extend(fresh_by_key.get(key, ()))
        moved: list[dict[str, Any]] = []
        summaries: list[CustomerRow] = []
        cur = currency or _shop_currency(conn, shop_id)
        for key, group in by_key.items():
            numbers = number_orders([Placed(r.order_id, r.placed_at, bool(r.counts)) for r in group])
            for r in group:
                if isinstance(r, SimpleNamespace):
                    inserts.append({**vars(r), "seq": numbers[r.order_id]})
                elif numbers[r.order_id] != r.seq:
                    moved.append({"b_order": r.order_id, "seq": numbers[r.order_id], "changed_at": now})
            summary = _summary(key, group, numbers, cur)
            if summary is not None:
                summaries.append(summary)
        if moved:
            conn.execute(
                update(customer_orders)
                .where(co.shop_id == shop_id, co.order_id == bindparam("b_order"))
                .values(seq=bindparam("seq"), changed_at=bindparam("changed_at")),
                moved,
            )
        conn.execute(
            delete(customers).where(customers.c.shop_id == shop_id, customers.c.customer_key.in_(chunk))
        )
        if summaries:
            conn.execute(
                customers.insert(),
                [{"shop_id": shop_id, "updated_at": now, **_as_dict(s)} for s in summaries],
            )
    if inserts:
        conn.execute(customer_orders.insert(), inserts)


def _shop_currency(conn: Connection, shop_id: str) -> str:
    return str(conn.execute(select(shops.c.currency).where(shops.c.id == shop_id)).scalar() or "")


def _summary(key: str, group: list[Any], numbers: dict[str, int | None], currency: str) -> CustomerRow | None:
    counted = sorted(
        (r for r in group if numbers[r.order_id] is not None), key=lambda r: numbers[r.order_id] or 0
    )
    if not counted:
        return None
    known = [r for r in counted if r.profit_known]
    return CustomerRow(
        customer_key=key,
        first_order_id=counted[0].order_id,
        first_order_at=counted[0].placed_at,
        last_order_at=counted[-1].placed_at,
        orders=len(counted),
        currency=currency,
        revenue_minor=sum(int(r.revenue_minor) for r in counted),
        gross_profit_minor=sum(int(r.gross_profit_minor) for r in known),
        expected_profit_minor=sum(int(r.expected_profit_minor) for r in known),
        realized_profit_minor=sum(int(r.realized_profit_minor) for r in known),
        orders_without_cost=len(counted) - len(known),
    )


def _as_dict(s: CustomerRow) -> dict[str, Any]:
    return {f: getattr(s, f) for f in CustomerRow.__slots__}


def rebuild_customers(conn: Connection, shop_id: str, *, now: datetime, batch: int = 2000) -> int:
    """Place every stored order of the shop again from scratch (repair); the customers kept. The
    rows are collected unnumbered and inserted numbered once (`customer_numbering.Rebuild`)."""
    gate(conn, shop_id, whole_shop=True)
    conn.execute(delete(customer_orders).where(customer_orders.c.shop_id == shop_id))
    conn.execute(delete(customers).where(customers.c.shop_id == shop_id))
    _analyze(conn, "orders", "profit_snapshots")
    rebuild = Rebuild(conn)
    stamp = utc_text(now)
    currency: str | None = None
    keys: set[str] = set()
    for ids in _all_order_ids(conn, shop_id, batch):
        facts = _order_facts(conn, shop_id, ids, now)
        currency = currency or next((f["_currency"] for f in facts if f["_currency"]), None)
        keys.update(f["customer_key"] for f in facts if f["customer_key"] is not None)
        rebuild.add([_staged(f, stamp) for f in facts])
    rebuild.finish(shop_id, now=now, currency=currency or _shop_currency(conn, shop_id))
    return len(keys)


def _all_order_ids(conn: Connection, shop_id: str, batch: int) -> Iterator[list[str]]:
    last = ""
    while True:
        ids = list(
            conn.execute(
                select(orders.c.order_id)
                .where(orders.c.shop_id == shop_id, orders.c.order_id > last)
                .order_by(orders.c.order_id)
                .limit(batch)
            ).scalars()
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def place_orders_at_once(
    conn: Connection,
    shop_id: str,
    order_ids: Iterable[Sequence[str]],
    *,
    now: datetime,
    batch: int = 2000,
) -> set[str]:
    """`place_orders` for many orders (given in chunks of distinct ids): the same rows, with every
    customer touched numbered and added up once, at the end, in SQL (`customer_numbering`). Each
    chunk's rows are stored unnumbered first (memory stays flat); the customers touched."""
    currency: str | None = None
    keys: set[str] = set()
    gate(conn, shop_id, whole_shop=True)  # first: no other writer places this shop's orders meanwhile
    _analyze(conn, "orders", "profit_snapshots")
    stamp = utc_text(now)
    for given in order_ids:
        for ids in _chunks(list(given), batch):
            facts = _order_facts(conn, shop_id, ids, now)
            currency = currency or next((f["_currency"] for f in facts if f["_currency"]), None)
            keys |= stage_placements(conn, shop_id, [_staged(f, stamp) for f in facts], list(ids))
    number_customers(conn, shop_id, keys, now=now, currency=currency or _shop_currency(conn, shop_id))
    return keys


def staged_from_store(
    conn: Connection, shop_id: str, ids: Sequence[str], now: datetime
) -> list[tuple[Any, ...]]:
    """The unnumbered `customer_orders` rows of stored orders, read from the store (`staged_row`)."""
    stamp = utc_text(now)
    return [_staged(f, stamp) for f in _order_facts(conn, shop_id, ids, now)]


def _staged(f: dict[str, Any], stamp: str) -> tuple[Any, ...]:
    return staged_row(
        f["shop_id"],
        f["order_id"],
        f["customer_key"],
        utc_text(f["placed_at"]),
        f["counts"],
        (f["revenue_minor"], f["gross_profit_minor"], f["expected_profit_minor"], f["realized_profit_minor"]),
        f["profit_known"],
        stamp,
    )


def _analyze(conn: Connection, *tables: str) -> None:
    """PostgreSQL: fresh planner statistics first. Right after a bulk import (or for rows this
    transaction just wrote) the planner guesses a handful of rows and scans the shop's whole table
    for every `IN (...)` chunk: 0.3 s a chunk at 1,000,000 orders, a rebuild then takes most of an hour."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE " + ", ".join(tables)))


def order_types(conn: Connection, shop_id: str, order_ids: Sequence[str]) -> dict[str, str]:
    """ "new" / "returning" / "unknown" per stored order (orders never placed are "unknown")."""
    co = customer_orders.c
    out = {oid: "unknown" for oid in order_ids}
    for chunk in _chunks(list(order_ids)):
        for r in conn.execute(
            select(co.order_id, co.customer_key, co.seq).where(co.shop_id == shop_id, co.order_id.in_(chunk))
        ):
            out[r.order_id] = customer_type(r.customer_key, r.seq)
    return out


def load_customer(conn: Connection, shop_id: str, key: str) -> CustomerRow | None:
    c = customers.c
    r = conn.execute(select(customers).where(c.shop_id == shop_id, c.customer_key == key)).first()
    if r is None:
        return None
    return CustomerRow(**{f: r._mapping[f] for f in CustomerRow.__slots__})


def load_customers(conn: Connection, shop_id: str) -> list[CustomerRow]:
    c = customers.c
    rows = conn.execute(
        select(customers).where(c.shop_id == shop_id).order_by(c.first_order_at, c.customer_key)
    )
    return [CustomerRow(**{f: r._mapping[f] for f in CustomerRow.__slots__}) for r in rows]
