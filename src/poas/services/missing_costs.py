"""Orders without cost: what a missing cost (no fallback margin) leaves unknown, and which SKUs to cost.

An order whose latest profit snapshot has lines with no cost and no fallback margin has an unknown
profit (see `poas.store.snapshots.Snapshot.profit_known`): reports count it apart. This module lists
the variants / SKUs behind those orders, with units sold and the revenue at stake, newest sale first
(`poas costs missing`, `GET /api/v1/costs/missing`, the Costs page), and counts the orders for
`poas doctor`. `fallback_costs` lists, the same way, the variants / SKUs priced with a fallback
margin instead of a cost row (their profit is known but estimated). Test and cancelled orders are
left out, as in the reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Text, and_, cast, func, select

from poas.settings import ShopConfig
from poas.store.breakdown_pack import unpack
from poas.store.order_rows import from_minor
from poas.store.tables.foundation import order_lines, orders, profit_snapshots

DEFAULT_DAYS = 30
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class MissingCost:
    """One variant id / SKU sold without a cost in the window (shop currency)."""

    key: str | None  # the cost book key: variant id, else SKU; None when the line has neither
    title: str
    orders: int
    units: int
    revenue_ex_vat: Decimal  # the revenue whose profit is unknown because of this key
    currency: str
    first_sold_at: datetime
    last_sold_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "orders": self.orders,
            "units": self.units,
            "revenue_ex_vat": str(self.revenue_ex_vat),
            "currency": self.currency,
            "first_sold_at": self.first_sold_at.isoformat(),
            "last_sold_at": self.last_sold_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class UnknownProfit:
    """Orders of a window whose profit is unknown, and their revenue ex VAT (shop currency)."""

    orders: int
    revenue_ex_vat: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class _Unknown:
    order_id: str
    created_at: datetime
    version: int
    currency: str
    revenue_ex_vat: int


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _unknown_orders(conn: Connection, shop_id: str, since: datetime, until: datetime) -> list[_Unknown]:
    """Orders created in [since, until) whose latest snapshot has lines without cost."""
    return _latest_matching(conn, shop_id, since, until, profit_snapshots.c.missing_cost_lines > 0)


def _fallback_orders(conn: Connection, shop_id: str, since: datetime, until: datetime) -> list[_Unknown]:
    """Orders created in [since, until) whose latest snapshot priced a line with a fallback margin.

    The breakdown text is the prefilter (`"fallback"` appears only in a fallback line's cost); the
    lines themselves are read from the decoded breakdown."""
    text = cast(profit_snapshots.c.breakdown, Text)
    return _latest_matching(conn, shop_id, since, until, text.like('%"fallback"%'))


def _latest_matching(
    conn: Connection, shop_id: str, since: datetime, until: datetime, condition: ColumnElement[bool]
) -> list[_Unknown]:
    o, ps = orders.c, profit_snapshots.c
    rows = conn.execute(
        select(o.order_id, o.created_at, ps.version, ps.currency, ps.revenue_ex_vat)
        .select_from(orders)
        .join(profit_snapshots, and_(ps.shop_id == o.shop_id, ps.order_id == o.order_id))
        .where(
            o.shop_id == shop_id,
            o.created_at >= since,
            o.created_at < until,
            o.test.is_(False),
            o.cancelled_at.is_(None),
            condition,
        )
    ).all()
    found: dict[str, _Unknown] = {}
    for r in rows:
        if r.order_id not in found or r.version > found[r.order_id].version:
            found[r.order_id] = _Unknown(r.order_id, r.created_at, r.version, r.currency, r.revenue_ex_vat)
    latest: dict[str, int] = {}
    for ids in _chunks(list(found)):
        stmt = (
            select(ps.order_id, func.max(ps.version))
            .where(ps.shop_id == shop_id, ps.order_id.in_(ids))
            .group_by(ps.order_id)
        )
        latest.update({oid: int(v) for oid, v in conn.execute(stmt)})
    return [u for u in found.values() if latest.get(u.order_id) == u.version]


def _window(shop: ShopConfig, now: datetime, days: int) -> tuple[datetime, datetime]:
    if days < 1:
        raise ValueError(f"--days {days}: must be 1 or more")
    return now - timedelta(days=days), now + timedelta(days=1)


def unknown_profit(
    engine: Engine, shop: ShopConfig, *, now: datetime, days: int = DEFAULT_DAYS
) -> UnknownProfit:
    """How many orders of the last `days` days have an unknown profit, and their revenue."""
    since, until = _window(shop, now, days)
    with engine.connect() as conn:
        found = _unknown_orders(conn, shop.id, since, until)
    revenue = sum(
        (from_minor(u.revenue_ex_vat, u.currency) for u in found if u.currency == shop.currency), Decimal(0)
    )
    return UnknownProfit(len(found), revenue, shop.currency)


def missing_costs(
    engine: Engine, shop: ShopConfig, *, now: datetime, days: int = DEFAULT_DAYS
) -> list[MissingCost]:
    """The variants / SKUs without a cost in the orders of the last `days` days, newest sale first."""
    return _lines(engine, shop, now=now, days=days, source="missing")


def fallback_costs(
    engine: Engine, shop: ShopConfig, *, now: datetime, days: int = DEFAULT_DAYS
) -> list[MissingCost]:
    """The variants / SKUs priced with a fallback margin (no cost row) in the orders of the last
    `days` days, newest sale first: their profit is known but estimated."""
    return _lines(engine, shop, now=now, days=days, source="fallback")


def _lines(engine: Engine, shop: ShopConfig, *, now: datetime, days: int, source: str) -> list[MissingCost]:
    since, until = _window(shop, now, days)
    find = _unknown_orders if source == "missing" else _fallback_orders
    with engine.connect() as conn:
        found = find(conn, shop.id, since, until)
        by_order = {u.order_id: u for u in found}
        breakdowns: dict[str, Any] = {}
        titles: dict[tuple[str, str], str] = {}
        ps, ol = profit_snapshots.c, order_lines.c
        for ids in _chunks(list(by_order)):
            for r in conn.execute(
                select(ps.order_id, ps.version, ps.breakdown).where(
                    ps.shop_id == shop.id, ps.order_id.in_(ids)
                )
            ):
                if by_order[r.order_id].version == r.version:
                    breakdowns[r.order_id] = unpack(r.breakdown)
            for r in conn.execute(
                select(ol.order_id, ol.line_id, ol.title).where(ol.shop_id == shop.id, ol.order_id.in_(ids))
            ):
                titles[(r.order_id, r.line_id)] = r.title
    return _aggregate(by_order, breakdowns, titles, source)


def _aggregate(
    by_order: dict[str, _Unknown],
    breakdowns: dict[str, Any],
    titles: dict[tuple[str, str], str],
    source: str = "missing",
) -> list[MissingCost]:
    acc: dict[tuple[str | None, str], dict[str, Any]] = {}
    for order_id, bd in breakdowns.items():
        u = by_order[order_id]
        currency = str(bd.get("currency") or u.currency) if isinstance(bd, dict) else u.currency
        lines = bd.get("lines") if isinstance(bd, dict) else None
        for ln in lines or []:
            cost = ln.get("cost") if isinstance(ln, dict) else None
            if not isinstance(cost, dict) or cost.get("source") != source:
                continue
            line_id = str(ln.get("line_id"))
            title = titles.get((order_id, line_id), "")
            key = ln.get("key")
            # Lines with neither variant id nor SKU are told apart by their title.
            group = (key, "" if key else title)
            a = acc.setdefault(
                group,
                {"title": title, "orders": set(), "units": 0, "revenue": Decimal(0), "currency": currency,
                 "first": u.created_at, "last": u.created_at},
            )  # fmt: skip
            a["orders"].add(order_id)
            a["units"] += int(ln.get("quantity") or 0)
            a["revenue"] += Decimal(str(ln.get("revenue_ex_vat") or "0"))
            if u.created_at >= a["last"]:
                a["last"], a["title"] = u.created_at, title or a["title"]
            a["first"] = min(a["first"], u.created_at)
    out = [
        MissingCost(
            key=key,
            title=a["title"],
            orders=len(a["orders"]),
            units=a["units"],
            revenue_ex_vat=a["revenue"],
            currency=a["currency"],
            first_sold_at=a["first"],
            last_sold_at=a["last"],
        )
        for (key, _), a in acc.items()
    ]
    out.sort(key=lambda m: (m.last_sold_at, m.revenue_ex_vat, m.key or ""), reverse=True)
    return out
