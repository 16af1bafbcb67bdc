"""Read the shop's customer histories for cohorts and the value model (one read, beside any writer).

Each counted order (`customer_orders`, maintained by ingest: paid, not cancelled, not a test, with a
customer key) on the shop's profit basis: `expected` reads the profit after expected returns, `gross`
the gross profit, `realized` the realized profit (refunds and cancellations known today). A
customer's first counted order (seq 1) is her acquisition; its campaign is the attribution of that
order (the same rules as the reports).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from poas.domain.attribution import TOUCH_COLUMNS, Touch, attribute
from poas.domain.cohorts import Acquired, CustomerOrder
from poas.domain.money import exponent
from poas.services.rollups import ad_catalog, attribution_config
from poas.settings import ShopConfig
from poas.store.tables.customers import customer_orders
from poas.store.tables.foundation import orders
from poas.store.tables.spend import rollup_daily

BASIS_COLUMNS = {
    "expected": "expected_profit_minor",
    "gross": "gross_profit_minor",
    "realized": "realized_profit_minor",
}
_IN = 500


@dataclass(frozen=True)
class History:
    orders: list[CustomerOrder]
    acquired: dict[str, Acquired]
    campaign_names: dict[str, str]
    first_order_ids: dict[str, str]  # customer key -> first order id


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _IN):
        yield ids[i : i + _IN]


def load_history(
    conn: Connection,
    shop: ShopConfig,
    *,
    basis: str = "expected",
    first_from: date | None = None,
    first_to: date | None = None,
    with_campaigns: bool = True,
) -> History:
    """Counted orders and acquisitions; `first_from` / `first_to` (shop calendar) pick customers."""
    col = customer_orders.c[BASIS_COLUMNS[basis]]
    co = customer_orders.c
    tz = ZoneInfo(shop.timezone)
    rows = conn.execute(
        select(co.customer_key, co.order_id, co.placed_at, co.seq, co.profit_known, col.label("profit"))
        .where(co.shop_id == shop.id, co.counts.is_(True), co.seq.is_not(None), co.customer_key.is_not(None))
        .order_by(co.customer_key, co.seq)
    ).all()
    # in UTC here, so a day that cannot be held fails now (OverflowError), not inside a query
    lo = datetime.combine(first_from, datetime.min.time(), tz).astimezone(UTC) if first_from else None
    hi = (
        datetime.combine(first_to + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
        if first_to
        else None
    )
    firsts: dict[str, tuple[str, datetime]] = {}
    for r in rows:
        if r.seq == 1 and (lo is None or r.placed_at >= lo) and (hi is None or r.placed_at < hi):
            firsts[r.customer_key] = (r.order_id, r.placed_at)
    out_orders = [
        CustomerOrder(r.customer_key, r.placed_at, int(r.profit) if r.profit_known else None)
        for r in rows
        if r.customer_key in firsts
    ]
    campaigns: dict[str, str] = {}
    names: dict[str, str] = {}
    if with_campaigns and firsts:
        catalog = ad_catalog(conn, shop.id)
        config = attribution_config(shop)
        o = orders.c
        by_order = {oid: key for key, (oid, _) in firsts.items()}
        for ids in _chunks(list(by_order)):
            for h in conn.execute(
                select(o.order_id, *(o[c] for c in TOUCH_COLUMNS)).where(
                    o.shop_id == shop.id, o.order_id.in_(ids)
                )
            ):
                touch = Touch(*h[1:])
                campaigns[by_order[h.order_id]] = attribute(touch, catalog, config).campaign_id
        names = dict(catalog.campaign_names)
    acquired = {
        key: Acquired(at, at.astimezone(tz).strftime("%Y-%m"), campaigns.get(key, ""))
        for key, (_, at) in firsts.items()
    }
    return History(out_orders, acquired, names, {k: v[0] for k, v in firsts.items()})


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = EPOCH.replace(tzinfo=None)


def fit_rows(conn: Connection, shop: ShopConfig, *, basis: str) -> tuple[list[tuple[str, float, float]], int]:
    """What the value model reads: (customer key, days since `EPOCH`, profit in major units) of every
    counted order with a known profit, in `load_history`'s order, and how many counted orders had no
    known profit (left out). One plain query on the driver's cursor, without per-row conversion: at
    1,000,000 orders, building `History` objects was most of a fit's time."""
    col = BASIS_COLUMNS[basis]
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sql = (
        f"SELECT customer_key, placed_at, profit_known, {col} FROM customer_orders WHERE shop_id = {mark}"
        " AND counts AND seq IS NOT NULL AND customer_key IS NOT NULL ORDER BY customer_key, seq"
    )  # numbered orders: each of their customers has an order numbered 1 (load_history's filter)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, (shop.id,))
        result = cur.fetchall()
    finally:
        cur.close()
    unit = 10 ** exponent(shop.currency)
    rows: list[tuple[str, float, float]] = []
    unknown = 0
    for key, placed, known, profit in result:
        if not known:
            unknown += 1
            continue
        if isinstance(placed, str):  # SQLite: UTC text
            delta = datetime.fromisoformat(placed) - _EPOCH_NAIVE
        else:
            delta = placed - (EPOCH if placed.tzinfo is not None else _EPOCH_NAIVE)
        rows.append((key, delta.total_seconds() / 86400.0, int(profit) / unit))
    return rows, unknown


def campaign_spend(conn: Connection, shop_id: str, day_from: date, day_to: date) -> dict[str, int]:
    """Spend per campaign (shop currency, minor units) from the daily rollups."""
    rd = rollup_daily.c
    rows = conn.execute(
        select(rd.key, func.sum(rd.spend_minor))
        .where(rd.shop_id == shop_id, rd.level == "campaign", rd.day >= day_from, rd.day <= day_to)
        .group_by(rd.key)
    )
    return {str(k): int(v or 0) for k, v in rows}
