"""Where each shop's ads consent comes from, and how many recent orders carried a signal.

Read by `poas doctor` and the dashboard's Settings page: a shop whose orders never carry a consent
signal is deciding everything with its default, which the merchant should know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, case, func, select

from poas.domain.consent import describe_source, effective_default
from poas.settings import ShopConfig
from poas.store.tables.foundation import orders

SIGNAL_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ConsentSummary:
    shop_id: str
    source: str  # describe_source(shop)
    default: str  # granted | denied (the shop-wide default; regions may differ)
    orders: int  # orders placed in the window
    granted: int  # of those, with a signal saying granted
    denied: int  # … saying denied

    @property
    def with_signal(self) -> int:
        return self.granted + self.denied

    @property
    def share_text(self) -> str:
        """`12 of 40 orders (30 %) in the last 7 days carried a consent signal (10 granted, 2 denied)`."""
        if not self.orders:
            return "no orders in the last 7 days"
        pct = round(100 * self.with_signal / self.orders)
        return (
            f"{self.with_signal} of {self.orders} orders ({pct} %) in the last 7 days carried a consent "
            f"signal ({self.granted} granted, {self.denied} denied)"
        )


def _counts(conn: Connection, shop_id: str, since: datetime) -> tuple[int, int, int]:
    said = orders.c.consent_ads_tracking
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((said.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((said.is_(False), 1), else_=0)), 0),
        ).where(orders.c.shop_id == shop_id, orders.c.created_at >= since)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def consent_summary(conn: Connection, shop: ShopConfig, *, now: datetime) -> ConsentSummary:
    total, granted, denied = _counts(conn, shop.id, now - SIGNAL_WINDOW)
    return ConsentSummary(shop.id, describe_source(shop), effective_default(shop), total, granted, denied)


def consent_summaries(engine: Engine, shops: list[ShopConfig], *, now: datetime) -> list[ConsentSummary]:
    with engine.connect() as conn:
        return [consent_summary(conn, shop, now=now) for shop in shops]
