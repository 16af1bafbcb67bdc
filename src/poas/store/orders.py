"""Orders in the store: idempotent upsert by (shop, order id) gated on `updated_at`, batched, and load back.

An incoming order replaces the stored one (with all its lines, shipping lines and refunds) unless both
carry an `updated_at` and the incoming one is older: then nothing changes (webhooks arrive out of
order). Amounts are kept as integer minor units of the order currency (rounded half-even), contact
data only as the hashed CAPI `user_data`; a loaded order has an empty `Customer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, and_, select
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
from poas.store.order_rows import from_minor, json_text, order_rows, to_minor, utc_text
from poas.store.order_writer import UpsertResult, insert_rows, write_orders
from poas.store.tables.foundation import (
    order_lines,
    order_shipping_lines,
    orders,
    refund_lines,
    refunds,
    shops,
)

__all__ = ["UpsertResult", "from_minor", "to_minor"]  # re-exported: the store's money helpers

ZERO = Decimal(0)
_IN_CHUNK = 500  # ids per IN (...) clause


def _opt_dec(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else from_minor(minor, currency)


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


# ---- bulk inserts of dict rows (kept for callers that build rows themselves) -----------------------


def _sqlite_value(v: Any) -> Any:
    """What SQLAlchemy itself would bind on SQLite: UTC text timestamps, 0/1, JSON text."""
    if isinstance(v, datetime):
        return utc_text(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, dict | list):
        return json_text(v)
    return v


def _pg_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return utc_text(v)
    return json_text(v) if isinstance(v, dict | list) else v


def fast_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows of one shape: sqlite3 executemany, or COPY on PostgreSQL (same transaction)."""
    if not rows:
        return
    names = list(rows[0])
    if conn.dialect.name not in ("sqlite", "postgresql"):
        conn.execute(table.insert(), list(rows))
        return
    value = _sqlite_value if conn.dialect.name == "sqlite" else _pg_value
    insert_rows(conn, table.name, names, [tuple(value(r[n]) for n in names) for r in rows])


# ---- upsert --------------------------------------------------------------------------------------


def newest_per_key(batch: Iterable[Order]) -> dict[tuple[str, str], Order]:
    """One order per (shop, order id): the newest by `updated_at`; on a tie, the later one."""
    latest: dict[tuple[str, str], Order] = {}
    for order in batch:
        key = (order.shop_id, order.order_id)
        prev = latest.get(key)
        if prev is None or not _is_stale(order.updated_at, prev.updated_at):
            latest[key] = order
    return latest


def _is_stale(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and incoming < stored


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
    ud = user_data or {}
    rows = [order_rows(o, ud.get((o.shop_id, o.order_id))) for o in newest_per_key(batch).values()]
    return write_orders(conn, rows, now_text=utc_text(now), always_clear_children=always_clear_children)


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


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


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
            gclid=h.gclid,
            gbraid=h.gbraid,
            wbraid=h.wbraid,
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


def _minor(v: Decimal | None, places: int) -> bool:
    """Whether `v` is in minor units: `places` decimals, or a zero (of any exponent, not -0)."""
    if v is None:
        return True
    sign, digits, exp = v.as_tuple()
    if digits == (0,):  # stored as 0 with `places` decimals, which prices the same; -0 is left alone
        return not sign
    return exp == -places


def priced_as_stored(order: Order) -> bool:
    """Whether `order` prices as its stored form does (`stored_form`): every amount is already in
    minor units (what Shopify and WooCommerce send: two decimals in NOK, none in JPY), a zero of any
    exponent included, since the price quantizes what it reports; the price reads no contact data.
    tests/unit/test_priced_as_stored.py holds the two prices equal."""
    p = exponent(order.currency)
    return (
        all(
            _minor(ln.unit_price, p)
            and _minor(ln.discount, p)
            and _minor(ln.tax, p)
            and _minor(ln.unit_cost, p)
            for ln in order.lines
        )
        and all(
            _minor(s.price, p) and _minor(s.discount, p) and _minor(s.tax, p) for s in order.shipping_lines
        )
        and all(
            _minor(r.shipping, p)
            and _minor(r.shipping_tax, p)
            and _minor(r.adjustment, p)
            and _minor(r.adjustment_tax, p)
            and all(_minor(rl.amount, p) and _minor(rl.tax, p) for rl in r.lines)
            for r in order.refunds
        )
        and _minor(order.actual_payment_fee, p)
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
