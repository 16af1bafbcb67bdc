"""Value-rule suggestions from the shop's counted orders in a period (rules in `domain/value_rules.py`).

Reads each counted order's realized profit (`customer_orders`), its shipping country, the browser's
user agent kept in its CAPI user_data, whether it is a new or returning customer's, and whether the
reports attribute it to a Meta campaign; the period's Meta spend comes from the daily rollups.
Nothing is sent or applied: the result is shown with its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from poas.domain.attribution import UNATTRIBUTED, Touch, attribute
from poas.domain.money import Money
from poas.domain.value_rules import SegmentOrder, Suggestion, device_class, suggest
from poas.services.rollups import ad_catalog, attribution_config, refresh_if_free
from poas.settings import ShopConfig
from poas.store.tables.customers import customer_orders
from poas.store.tables.foundation import orders
from poas.store.tables.spend import rollup_daily

DEFAULT_DAYS = 90


@dataclass(frozen=True)
class ValueRules:
    shop_id: str
    currency: str
    date_from: date
    date_to: date
    orders: int
    spend_minor: int
    suggestions: list[Suggestion]


def value_rules(
    engine: Engine,
    shop: ShopConfig,
    *,
    now: datetime,
    date_from: date | None = None,
    date_to: date | None = None,
) -> ValueRules:
    tz = ZoneInfo(shop.timezone)
    today = now.astimezone(tz).date()
    d_to = date_to or today
    d_from = date_from or d_to - timedelta(days=DEFAULT_DAYS - 1)
    # in UTC here, so a day the store cannot hold fails now (OverflowError), not inside the query
    lo = datetime.combine(d_from, datetime.min.time(), tz).astimezone(UTC)
    hi = datetime.combine(d_to + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
    refresh_if_free(engine, shop, now=now)
    co, o = customer_orders.c, orders.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                co.customer_key,
                co.seq,
                co.profit_known,
                co.realized_profit_minor,
                o.shipping_country,
                o.user_data,
                o.utm_source,
                o.utm_medium,
                o.utm_campaign,
                o.utm_content,
                o.utm_term,
                o.landing_url,
                o.fbclid,
                o.fbc,
            )
            .join(orders, (o.shop_id == co.shop_id) & (o.order_id == co.order_id))
            .where(co.shop_id == shop.id, co.counts.is_(True), co.placed_at >= lo, co.placed_at < hi)
        ).all()
        catalog = ad_catalog(conn, shop.id)
        spend = conn.execute(
            select(func.coalesce(func.sum(rollup_daily.c.spend_minor), 0)).where(
                rollup_daily.c.shop_id == shop.id,
                rollup_daily.c.level == "shop",
                rollup_daily.c.day >= d_from,
                rollup_daily.c.day <= d_to,
            )
        ).scalar_one()
    config = attribution_config(shop)
    segs: list[SegmentOrder] = []
    for r in rows:
        if not r.profit_known:
            continue
        ud: dict[str, Any] = r.user_data if isinstance(r.user_data, dict) else {}
        ua = ud.get("client_user_agent")
        kind = (
            "unknown" if r.customer_key is None or r.seq is None else ("new" if r.seq == 1 else "returning")
        )
        touch = Touch(
            r.utm_source,
            r.utm_medium,
            r.utm_campaign,
            r.utm_content,
            r.utm_term,
            r.landing_url,
            r.fbclid,
            r.fbc,
        )
        meta = attribute(touch, catalog, config).campaign_id != UNATTRIBUTED
        segs.append(
            SegmentOrder(
                (r.shipping_country or "unknown").upper() if r.shipping_country else "unknown",
                device_class(ua if isinstance(ua, str) else None),
                kind,
                int(r.realized_profit_minor),
                meta,
            )
        )
    return ValueRules(
        shop.id, shop.currency, d_from, d_to, len(segs), int(spend), suggest(segs, spend_minor=int(spend))
    )


def value_rules_json(v: ValueRules) -> dict[str, Any]:
    def money(minor: Decimal | int) -> str:
        return str(Money.from_minor(int(Decimal(minor).to_integral_value()), v.currency).amount)

    return {
        "shop_id": v.shop_id,
        "currency": v.currency,
        "from": v.date_from.isoformat(),
        "to": v.date_to.isoformat(),
        "orders": v.orders,
        "spend": money(v.spend_minor),
        "applied": False,  # suggestions only: poas never changes a value rule
        "spend_note": "spend per segment: the period's Meta spend by its share of Meta-attributed orders",
        "suggestions": [
            {
                "dimension": s.dimension,
                "segment": s.segment,
                "orders": s.orders,
                "profit": money(s.profit_minor),
                "spend": money(s.spend_minor),
                "poas": None if s.poas is None else float(round(s.poas, 2)),
                "profit_per_order": money(s.profit_per_order_minor),
                "adjustment_pct": None if s.adjustment is None else float(s.adjustment * 100),
                "reason": s.reason,
            }
            for s in v.suggestions
        ],
    }
