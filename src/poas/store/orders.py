"""Orders in the store: idempotent upsert by (shop, order id) gated on `updated_at`, batched, and load back.

An incoming order replaces the stored one (with all its lines, shipping lines and refunds) unless both
carry an `updated_at` and the incoming one is older: then nothing changes (webhooks arrive out of
order). Amounts are kept as integer minor units of the order currency (rounded half-even), contact
data only as the hashed CAPI `user_data`; a loaded order has an empty `Customer`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from poas.domain.money import exponent
from poas.domain.order import (
    Attribution,
    Consent,
    Customer,
    Order,
    OrderLine,
    Refund,
    RefundLine,
    RestockType,
    ShippingLine,
)
from poas.store.tables.foundation import (
    order_lines,
    order_shipping_lines,
    orders,
    refund_lines,
    refunds,
    shops,
)

ZERO = Decimal(0)
_IN_CHUNK = 500  # ids per IN (...) clause


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units, rounded half-even (NOK 12.345 -> 1234)."""
    return int(amount.scaleb(exponent(currency)).to_integral_value(ROUND_HALF_EVEN))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def _opt_minor(amount: Decimal | None, currency: str) -> int | None:
    return None if amount is None else to_minor(amount, currency)


def _opt_dec(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else from_minor(minor, currency)


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def upsert_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT that supports ON CONFLICT (SQLite and PostgreSQL spell it the same)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def ensure_shop(
    conn: Connection, shop_id: str, currency: str, prices_include_vat: bool, now: datetime
) -> None:
    """Create the shop row if it is missing (an existing row is left as it is)."""
    stmt = upsert_insert(conn, shops).on_conflict_do_nothing(index_elements=["id"])
    conn.execute(
        stmt,
        {"id": shop_id, "currency": currency, "prices_include_vat": prices_include_vat, "created_at": now},
    )


# ---- rows from an order ------------------------------------------------------------------------


def order_row(order: Order, user_data: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    cur, a, c = order.currency, order.attribution, order.consent
    return {
        "shop_id": order.shop_id,
        "order_id": order.order_id,
        "name": order.name,
        "currency": cur,
        "prices_include_vat": order.prices_include_vat,
        "created_at": order.created_at,
        "processed_at": order.processed_at,
        "updated_at": order.updated_at,
        "cancelled_at": order.cancelled_at,
        "financial_status": order.financial_status,
        "gateway": order.gateway,
        "shipping_country": order.shipping_country,
        "test": order.test,
        "consent_marketing": c.marketing,
        "consent_ads_tracking": c.ads_tracking,
        "landing_url": a.landing_url,
        "referrer": a.referrer,
        "utm_source": a.utm_source,
        "utm_medium": a.utm_medium,
        "utm_campaign": a.utm_campaign,
        "utm_content": a.utm_content,
        "utm_term": a.utm_term,
        "fbclid": a.fbclid,
        "fbc": a.fbc,
        "fbp": a.fbp,
        "actual_payment_fee": _opt_minor(order.actual_payment_fee, cur),
        "user_data": dict(user_data) if user_data else None,
        "source": order.source,
        "ingested_at": now,
    }


def _child_rows(order: Order, out: dict[str, list[dict[str, Any]]]) -> None:
    sid, oid, cur = order.shop_id, order.order_id, order.currency
    for pos, ln in enumerate(order.lines):
        out["lines"].append(
            {
                "shop_id": sid,
                "order_id": oid,
                "line_id": ln.line_id,
                "position": pos,
                "quantity": ln.quantity,
                "unit_price": to_minor(ln.unit_price, cur),
                "discount": to_minor(ln.discount, cur),
                "tax": to_minor(ln.tax, cur),
                "tax_rate": _rate(ln.tax_rate),
                "sku": ln.sku,
                "variant_id": ln.variant_id,
                "product_id": ln.product_id,
                "title": ln.title,
                "category": ln.category,
                "gift_card": ln.gift_card,
                "grams": ln.grams,
                "unit_cost": _opt_minor(ln.unit_cost, cur),
            }
        )
    for pos, sl in enumerate(order.shipping_lines):
        out["shipping"].append(
            {
                "shop_id": sid,
                "order_id": oid,
                "position": pos,
                "price": to_minor(sl.price, cur),
                "method": sl.method,
                "title": sl.title,
                "discount": to_minor(sl.discount, cur),
                "tax": to_minor(sl.tax, cur),
                "tax_rate": _rate(sl.tax_rate),
            }
        )
    for pos, rf in enumerate(order.refunds):
        out["refunds"].append(
            {
                "shop_id": sid,
                "order_id": oid,
                "refund_id": rf.refund_id,
                "position": pos,
                "processed_at": rf.processed_at,
                "shipping": to_minor(rf.shipping, cur),
                "shipping_tax": to_minor(rf.shipping_tax, cur),
                "adjustment": to_minor(rf.adjustment, cur),
                "adjustment_tax": to_minor(rf.adjustment_tax, cur),
                "note": rf.note,
            }
        )
        for lpos, rl in enumerate(rf.lines):
            out["refund_lines"].append(
                {
                    "shop_id": sid,
                    "order_id": oid,
                    "refund_id": rf.refund_id,
                    "position": lpos,
                    "line_id": rl.line_id,
                    "quantity": rl.quantity,
                    "restock_type": rl.restock_type.value,
                    "amount": _opt_minor(rl.amount, cur),
                    "tax": _opt_minor(rl.tax, cur),
                }
            )


# ---- bulk writes below SQLAlchemy's per-row bind processing (imports of millions of lines) ----------


def _sqlite_value(v: Any) -> Any:
    """What SQLAlchemy itself would bind on SQLite: UTC text timestamps, 0/1, JSON text."""
    if isinstance(v, datetime):
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError(f"naive timestamp {v.isoformat()} cannot be stored (need a timezone)")
        return f"{v.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, dict | list):
        return json.dumps(v)
    return v


def _pg_value(v: Any) -> Any:
    if isinstance(v, datetime) and (v.tzinfo is None or v.utcoffset() is None):
        raise ValueError(f"naive timestamp {v.isoformat()} cannot be stored (need a timezone)")
    return json.dumps(v) if isinstance(v, dict | list) else v


def _cols(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def fast_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows of one shape: sqlite3 executemany, or COPY on PostgreSQL (same transaction)."""
    if not rows:
        return
    names = list(rows[0])
    if conn.dialect.name == "sqlite":
        sql = f'INSERT INTO "{table.name}" ({_cols(names)}) VALUES ({", ".join("?" * len(names))})'
        conn.exec_driver_sql(sql, [tuple(_sqlite_value(r[n]) for n in names) for r in rows])
    elif conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({_cols(names)}) FROM STDIN') as copy:
            for r in rows:
                copy.write_row(tuple(_pg_value(r[n]) for n in names))
    else:
        conn.execute(table.insert(), list(rows))


def _sqlite_upsert_orders(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    names = list(rows[0])
    keep = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n not in ("shop_id", "order_id"))
    sql = (
        f"INSERT INTO orders ({_cols(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT (shop_id, order_id) DO UPDATE SET {keep} "
        "WHERE orders.updated_at IS NULL OR excluded.updated_at IS NULL "
        "OR excluded.updated_at >= orders.updated_at"
    )
    conn.exec_driver_sql(sql, [tuple(_sqlite_value(r[n]) for n in names) for r in rows])


# ---- upsert --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """Which order ids of one batch were inserted, replaced, or ignored as stale."""

    inserted: frozenset[tuple[str, str]]
    updated: frozenset[tuple[str, str]]
    stale: frozenset[tuple[str, str]]

    @property
    def written(self) -> frozenset[tuple[str, str]]:
        return self.inserted | self.updated


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _stored_versions(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], datetime | None]:
    found: dict[tuple[str, str], datetime | None] = {}
    by_shop: dict[str, list[str]] = {}
    for shop_id, order_id in keys:
        by_shop.setdefault(shop_id, []).append(order_id)
    for shop_id, ids in by_shop.items():
        for chunk in _chunks(ids):
            rows = conn.execute(
                select(orders.c.order_id, orders.c.updated_at).where(
                    orders.c.shop_id == shop_id, orders.c.order_id.in_(chunk)
                )
            )
            for order_id, updated_at in rows:
                found[(shop_id, order_id)] = updated_at
    return found


def _is_stale(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and incoming < stored


def _delete_children(conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
    for chunk in _chunks(keys):
        for table in (refund_lines, refunds, order_shipping_lines, order_lines):
            conn.execute(delete(table).where(tuple_(table.c.shop_id, table.c.order_id).in_(list(chunk))))


def newest_per_key(batch: Iterable[Order]) -> dict[tuple[str, str], Order]:
    """One order per (shop, order id): the newest by `updated_at`; on a tie, the later one."""
    latest: dict[tuple[str, str], Order] = {}
    for order in batch:
        key = (order.shop_id, order.order_id)
        prev = latest.get(key)
        if prev is None or not _is_stale(order.updated_at, prev.updated_at):
            latest[key] = order
    return latest


def upsert_orders(
    conn: Connection,
    batch: Sequence[Order],
    *,
    now: datetime,
    user_data: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    always_clear_children: bool = False,
) -> UpsertResult:
    """Insert or replace a batch of orders in the caller's transaction (shop rows must exist).

    Within a batch the newest version of an order wins. `user_data` maps (shop, order id) to the
    hashed CAPI user_data to keep. `always_clear_children` deletes child rows even for orders that
    looked new (use it where another writer may insert the same order concurrently).
    """
    latest = newest_per_key(batch)
    keys = list(latest)
    stored = _stored_versions(conn, keys)
    inserted: set[tuple[str, str]] = set()
    updated: set[tuple[str, str]] = set()
    stale: set[tuple[str, str]] = set()
    rows: list[dict[str, Any]] = []
    children: dict[str, list[dict[str, Any]]] = {
        "lines": [],
        "shipping": [],
        "refunds": [],
        "refund_lines": [],
    }
    ud = user_data or {}
    for key, order in latest.items():
        if key in stored:
            if _is_stale(order.updated_at, stored[key]):
                stale.add(key)
                continue
            updated.add(key)
        else:
            inserted.add(key)
        rows.append(order_row(order, ud.get(key), now))
        _child_rows(order, children)
    if not rows:
        return UpsertResult(frozenset(), frozenset(), frozenset(stale))
    stmt = upsert_insert(conn, orders)
    keep = {c.name: stmt.excluded[c.name] for c in orders.c if c.name not in ("shop_id", "order_id")}
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_id", "order_id"],
        set_=keep,
        where=or_(
            orders.c.updated_at.is_(None),
            stmt.excluded.updated_at.is_(None),
            stmt.excluded.updated_at >= orders.c.updated_at,
        ),
    )
    if conn.dialect.name == "sqlite":
        _sqlite_upsert_orders(conn, rows)
    else:
        conn.execute(stmt, rows)
    clear = sorted(updated | inserted) if always_clear_children else sorted(updated)
    if clear:
        _delete_children(conn, clear)
    for table, name in (
        (order_lines, "lines"),
        (order_shipping_lines, "shipping"),
        (refunds, "refunds"),
        (refund_lines, "refund_lines"),
    ):
        if children[name]:
            fast_insert(conn, table, children[name])
    return UpsertResult(frozenset(inserted), frozenset(updated), frozenset(stale))


def upsert_order(
    conn: Connection, order: Order, *, now: datetime, user_data: Mapping[str, Any] | None = None
) -> str:
    """Upsert one order; returns "inserted", "updated" or "stale" (stale = nothing changed)."""
    key = (order.shop_id, order.order_id)
    result = upsert_orders(
        conn, [order], now=now, user_data={key: user_data} if user_data else None, always_clear_children=True
    )
    if key in result.inserted:
        return "inserted"
    return "updated" if key in result.updated else "stale"


# ---- load --------------------------------------------------------------------------------------


def _group(rows: Iterable[Any]) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        out.setdefault((r.shop_id, r.order_id), []).append(r)
    return out


def load_orders(conn: Connection, shop_id: str, order_ids: Sequence[str]) -> dict[str, Order]:
    """The stored orders among `order_ids` (missing ids are absent from the result)."""
    result: dict[str, Order] = {}
    for chunk in _chunks(list(order_ids)):
        where = [orders.c.shop_id == shop_id, orders.c.order_id.in_(chunk)]
        heads = conn.execute(select(orders).where(*where)).all()
        if not heads:
            continue

        def children(
            table: Table, *order_by: Any, chunk: Sequence[str] = chunk
        ) -> dict[tuple[str, str], list[Any]]:
            stmt = select(table).where(and_(table.c.shop_id == shop_id, table.c.order_id.in_(chunk)))
            return _group(conn.execute(stmt.order_by(*order_by)))

        lines = children(order_lines, order_lines.c.order_id, order_lines.c.position)
        ships = children(
            order_shipping_lines, order_shipping_lines.c.order_id, order_shipping_lines.c.position
        )
        rfs = children(refunds, refunds.c.order_id, refunds.c.position)
        rls = children(
            refund_lines, refund_lines.c.order_id, refund_lines.c.refund_id, refund_lines.c.position
        )
        for h in heads:
            key = (h.shop_id, h.order_id)
            result[h.order_id] = _order_from_rows(
                h, lines.get(key, []), ships.get(key, []), rfs.get(key, []), rls.get(key, [])
            )
    return result


def load_order(conn: Connection, shop_id: str, order_id: str) -> Order | None:
    return load_orders(conn, shop_id, [order_id]).get(order_id)


def load_user_data(conn: Connection, shop_id: str, order_id: str) -> dict[str, Any] | None:
    """The hashed CAPI user_data kept for an order (None when the order or the data is missing)."""
    row = conn.execute(
        select(orders.c.user_data).where(orders.c.shop_id == shop_id, orders.c.order_id == order_id)
    ).first()
    return dict(row.user_data) if row is not None and row.user_data else None


def _order_from_rows(h: Any, lines: list[Any], ships: list[Any], rfs: list[Any], rls: list[Any]) -> Order:
    cur = h.currency
    ud = h.user_data or {}
    by_refund: dict[str, list[RefundLine]] = {}
    for r in rls:
        by_refund.setdefault(r.refund_id, []).append(
            RefundLine(
                line_id=r.line_id,
                quantity=r.quantity,
                restock_type=RestockType(r.restock_type),
                amount=_opt_dec(r.amount, cur),
                tax=_opt_dec(r.tax, cur),
            )
        )
    return Order(
        shop_id=h.shop_id,
        order_id=h.order_id,
        created_at=h.created_at,
        currency=cur,
        lines=tuple(
            OrderLine(
                line_id=ln.line_id,
                quantity=ln.quantity,
                unit_price=from_minor(ln.unit_price, cur),
                sku=ln.sku,
                variant_id=ln.variant_id,
                product_id=ln.product_id,
                title=ln.title,
                category=ln.category,
                discount=from_minor(ln.discount, cur),
                tax=from_minor(ln.tax, cur),
                tax_rate=None if ln.tax_rate is None else Decimal(ln.tax_rate),
                gift_card=ln.gift_card,
                grams=ln.grams,
                unit_cost=_opt_dec(ln.unit_cost, cur),
            )
            for ln in lines
        ),
        prices_include_vat=h.prices_include_vat,
        processed_at=h.processed_at,
        updated_at=h.updated_at,
        name=h.name,
        shipping_lines=tuple(
            ShippingLine(
                price=from_minor(s.price, cur),
                method=s.method,
                title=s.title,
                discount=from_minor(s.discount, cur),
                tax=from_minor(s.tax, cur),
                tax_rate=None if s.tax_rate is None else Decimal(s.tax_rate),
            )
            for s in ships
        ),
        gateway=h.gateway,
        financial_status=h.financial_status,
        shipping_country=h.shipping_country,
        attribution=Attribution(
            landing_url=h.landing_url,
            referrer=h.referrer,
            utm_source=h.utm_source,
            utm_medium=h.utm_medium,
            utm_campaign=h.utm_campaign,
            utm_content=h.utm_content,
            utm_term=h.utm_term,
            fbclid=h.fbclid,
            fbc=h.fbc,
            fbp=h.fbp,
            client_ip=ud.get("client_ip_address"),
            user_agent=ud.get("client_user_agent"),
        ),
        consent=Consent(marketing=h.consent_marketing, ads_tracking=h.consent_ads_tracking),
        test=h.test,
        cancelled_at=h.cancelled_at,
        refunds=tuple(
            Refund(
                refund_id=r.refund_id,
                processed_at=r.processed_at,
                lines=tuple(by_refund.get(r.refund_id, ())),
                shipping=from_minor(r.shipping, cur),
                shipping_tax=from_minor(r.shipping_tax, cur),
                adjustment=from_minor(r.adjustment, cur),
                adjustment_tax=from_minor(r.adjustment_tax, cur),
                note=r.note,
            )
            for r in rfs
        ),
        actual_payment_fee=_opt_dec(h.actual_payment_fee, cur),
        source=h.source,
    )


def stored_form(order: Order) -> Order:
    """The order as the store will give it back: amounts rounded to minor units, no contact data."""
    cur = order.currency

    def q(v: Decimal) -> Decimal:
        return from_minor(to_minor(v, cur), cur)

    def qo(v: Decimal | None) -> Decimal | None:
        return None if v is None else q(v)

    return replace(
        order,
        customer=Customer(),
        lines=tuple(
            replace(
                ln,
                unit_price=q(ln.unit_price),
                discount=q(ln.discount),
                tax=q(ln.tax),
                unit_cost=qo(ln.unit_cost),
            )
            for ln in order.lines
        ),
        shipping_lines=tuple(
            replace(s, price=q(s.price), discount=q(s.discount), tax=q(s.tax)) for s in order.shipping_lines
        ),
        refunds=tuple(
            replace(
                r,
                shipping=q(r.shipping),
                shipping_tax=q(r.shipping_tax),
                adjustment=q(r.adjustment),
                adjustment_tax=q(r.adjustment_tax),
                lines=tuple(replace(rl, amount=qo(rl.amount), tax=qo(rl.tax)) for rl in r.lines),
            )
            for r in order.refunds
        ),
        actual_payment_fee=qo(order.actual_payment_fee),
    )
