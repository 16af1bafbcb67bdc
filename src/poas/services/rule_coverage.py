"""Which recent orders the shop's cost rules leave unpriced: payment fees per gateway, shipping per
method and country.

Without a matching rule an order's profit counts that cost as 0 and its breakdown says so ("no fee
rule for gateway 'klarna'"): poas invents no fee or freight price. A shop on the defaults has no
rules at all, so every order's profit leaves out its payment fee and its shipping cost; this tells
the shop which gateways and methods to price, with the orders each affects. The rules in force are
matched as the profit does (`CostRules.payment_fee_rule`, `shipping_rule`, at the order's
`placed_at`); loading rules prices the stored orders again, so what is found here is what their
profits lack. Test orders are left out; an order with a recorded actual fee needs no fee rule, one
that ships nothing (no shipping line, no weight) no shipping rule.

Expected returns are the same kind of gap: with no return rate (no `[returns]` rule and no model from
`poas returns fit`) the expected profit assumes that nothing comes back. That is named only when the
window's orders do get refunds, so a shop whose goods are not returned is not nagged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, func, select

from poas.domain.rules import CostRules
from poas.settings import ShopConfig
from poas.store.return_rates import load_model
from poas.store.rules import load_rules
from poas.store.tables.foundation import order_lines, order_shipping_lines, orders, refunds

DEFAULT_DAYS = 30
NO_GATEWAY = "(no gateway)"


@dataclass(frozen=True)
class RuleGaps:
    """Orders of the window, and per gateway / per shipping method and country how many lack a rule."""

    orders: int
    fees: list[tuple[str, int]]  # (gateway in lower case, orders), most orders first
    shipping: list[tuple[str, str | None, int]]  # (method, country, orders), most orders first
    days: int
    refunded: int = 0  # orders of the window with a refund
    return_rate: bool = True  # a [returns] rule or a learned model gives lines a return rate

    @property
    def fee_orders(self) -> int:
        return sum(n for _, n in self.fees)

    @property
    def shipping_orders(self) -> int:
        return sum(n for _, _, n in self.shipping)


def rule_gaps(engine: Engine, shop: ShopConfig, *, now: datetime, days: int = DEFAULT_DAYS) -> RuleGaps:
    """The orders created in the last `days` days whose payment fee or shipping cost no rule prices."""
    if days < 1:
        raise ValueError(f"--days {days}: must be 1 or more")
    since = now - timedelta(days=days)
    o, sl, ol = orders.c, order_shipping_lines.c, order_lines.c
    window = and_(o.shop_id == shop.id, o.created_at >= since, o.test.is_(False))
    with engine.connect() as conn:
        rules = load_rules(conn, shop.id) or CostRules(currency=shop.currency)
        return_rate = bool(rules.returns_default or rules.returns) or load_model(conn, shop.id) is not None
        rf = refunds.c
        refunded = conn.execute(
            select(func.count(func.distinct(rf.order_id)))
            .select_from(refunds)
            .join(orders, and_(o.shop_id == rf.shop_id, o.order_id == rf.order_id))
            .where(window)
        ).scalar_one()
        heads = conn.execute(
            select(
                o.order_id, o.created_at, o.processed_at, o.gateway, o.actual_payment_fee, o.shipping_country
            ).where(window)
        ).all()
        first_ship: dict[str, tuple[int, str | None]] = {}
        for order_id, position, method, title in conn.execute(
            select(sl.order_id, sl.position, sl.method, sl.title)
            .join(orders, and_(o.shop_id == sl.shop_id, o.order_id == sl.order_id))
            .where(window)
        ):
            known = first_ship.get(order_id)
            if known is None or position < known[0]:
                first_ship[order_id] = (position, method or title or None)
        weights = conn.execute(
            select(ol.order_id, func.sum(ol.grams * ol.quantity))
            .join(orders, and_(o.shop_id == ol.shop_id, o.order_id == ol.order_id))
            .where(window)
            .group_by(ol.order_id)
        )
        grams: dict[str, int] = {order_id: int(total or 0) for order_id, total in weights}
    fees: Counter[str] = Counter()
    shipping: Counter[tuple[str, str | None]] = Counter()
    for order_id, created_at, processed_at, gateway, actual_fee, country in heads:
        at = processed_at or created_at
        if actual_fee is None and rules.payment_fee_rule(gateway, at) is None:
            fees[(gateway or "").strip().lower() or NO_GATEWAY] += 1  # as rules match them
        weight = grams.get(order_id, 0)
        ship = first_ship.get(order_id)
        if ship is None and weight == 0:
            continue  # nothing shipped: no shipping cost to price
        method = ship[1] if ship else None
        if rules.shipping_rule(method, country, weight, at) is None:
            shipping[(method or "(no method)", country)] += 1
    return RuleGaps(
        len(heads),
        sorted(fees.items(), key=lambda kv: (-kv[1], kv[0])),
        [
            (m, c, n)
            for (m, c), n in sorted(shipping.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))
        ],
        days,
        refunded=int(refunded),
        return_rate=return_rate,
    )


def gap_summary(gaps: RuleGaps, *, limit: int = 4) -> tuple[str | None, str | None]:
    """One sentence each for the fee and the shipping gaps (None when there is none)."""

    def listed(items: list[str]) -> str:
        more = len(items) - limit
        return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")

    fee = ship = None
    if gaps.fees:
        names = listed([f"{g} ({n})" for g, n in gaps.fees])
        fee = (
            f"{gaps.fee_orders} of {gaps.orders} order(s) of the last {gaps.days} days were paid through "
            f"gateways with no payment fee rule: {names}; their profit counts no payment fee"
        )
    if gaps.shipping:
        names = listed([f"{m} to {c or '(no country)'} ({n})" for m, c, n in gaps.shipping])
        ship = (
            f"{gaps.shipping_orders} of {gaps.orders} order(s) of the last {gaps.days} days shipped with no "
            f"shipping cost rule: {names}; their profit counts no shipping cost"
        )
    return fee, ship


def returns_summary(gaps: RuleGaps) -> str | None:
    """One sentence when the window's orders are refunded but no return rate is set (else None)."""
    if gaps.return_rate or not gaps.refunded:
        return None
    return (
        f"{gaps.refunded} of {gaps.orders} order(s) of the last {gaps.days} days have refunds, but no return "
        "rate is set: their expected profit assumes that nothing comes back"
    )
