"""Value-rule suggestions: how much more (or less) an order from a segment is worth than the average one.

Meta's value rules raise or lower the bid for an audience, location or device by a percentage. poas
suggests one per segment it can see on its own orders — shipping country, device class (from the
browser's user agent) and new vs returning customer — from realized profit, and never applies it:

    raw = (segment profit per order / all orders' profit per order) − 1
    suggested = raw × n / (n + k)              (n orders in the segment, k = `credibility`)

so a small segment's suggestion shrinks toward no adjustment. Segments with fewer than `min_orders`
orders, or a shop with no positive profit per order, get no suggestion (None) but keep their
evidence. Spend per segment is estimated: the period's Meta spend shared by the segment's share of
the orders attributed to Meta (Meta reports no spend per shipping country of the buyer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

DIMENSIONS = ("country", "device", "customer")
DEFAULT_MIN_ORDERS = 30
DEFAULT_CREDIBILITY = Decimal(50)
MAX_UP = Decimal("9")  # +900 %: poas's own sanity bound, not Meta's documented range
MAX_DOWN = Decimal("-0.9")


def device_class(user_agent: str | None) -> str:
    """mobile | tablet | desktop | unknown, from the browser's user agent string."""
    if not user_agent:
        return "unknown"
    ua = user_agent.lower()
    if "ipad" in ua or ("android" in ua and "mobile" not in ua) or "tablet" in ua:
        return "tablet"
    if "mobi" in ua or "iphone" in ua or "android" in ua:
        return "mobile"
    if any(s in ua for s in ("windows", "macintosh", "x11", "linux", "cros")):
        return "desktop"
    return "unknown"


@dataclass(frozen=True, slots=True)
class SegmentOrder:
    country: str  # ISO code or "unknown"
    device: str
    customer: str  # new | returning | unknown
    profit_minor: int
    meta: bool  # attributed to a Meta campaign


@dataclass(frozen=True)
class Suggestion:
    dimension: str
    segment: str
    orders: int
    profit_minor: int
    spend_minor: Decimal  # estimated (see the module docstring)
    poas: Decimal | None
    profit_per_order_minor: Decimal
    adjustment: Decimal | None  # −0.2 = bid 20 % lower; None = no suggestion
    reason: str | None = None


def suggest(
    orders: Iterable[SegmentOrder],
    *,
    spend_minor: int,
    min_orders: int = DEFAULT_MIN_ORDERS,
    credibility: Decimal = DEFAULT_CREDIBILITY,
) -> list[Suggestion]:
    rows = list(orders)
    total_orders = len(rows)
    total_profit = sum(o.profit_minor for o in rows)
    meta_orders = sum(1 for o in rows if o.meta)
    base = Decimal(total_profit) / total_orders if total_orders else Decimal(0)
    out: list[Suggestion] = []
    for dim in DIMENSIONS:
        groups: dict[str, list[SegmentOrder]] = defaultdict(list)
        for o in rows:
            groups[getattr(o, dim)].append(o)
        for seg, members in sorted(groups.items()):
            n = len(members)
            profit = sum(o.profit_minor for o in members)
            share = Decimal(sum(1 for o in members if o.meta)) / meta_orders if meta_orders else Decimal(0)
            spend = (Decimal(spend_minor) * share).quantize(Decimal(1))
            per_order = Decimal(profit) / n
            adj: Decimal | None = None
            reason: str | None = None
            if n < min_orders:
                reason = f"fewer than {min_orders} orders"
            elif base <= 0:
                reason = "no positive profit per order in the shop to compare with"
            elif seg == "unknown":
                reason = "not a segment Meta can target"
            else:
                raw = per_order / base - 1
                adj = (raw * n / (n + credibility)).quantize(Decimal("0.01"))
                adj = min(MAX_UP, max(MAX_DOWN, adj))
            out.append(
                Suggestion(
                    dim,
                    seg,
                    n,
                    profit,
                    spend,
                    None if spend == 0 else Decimal(profit) / spend,
                    per_order,
                    adj,
                    reason,
                )
            )
    return out
