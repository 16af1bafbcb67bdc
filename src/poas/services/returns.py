"""Returns: fit the return-rate model, finalize orders (AppendValue or a ledger entry), calibration.

An order's profit becomes final when its return window closes, when it is cancelled or voided
(realized profit then counts only the costs really incurred, see `poas.domain.profit`) or fully
refunded, or — if the shop chooses — at each refund. Then the realized profit is compared with
what Meta was last told (the Purchase's net_revenue, or the last AppendValue); when it differs by
more than the shop's threshold, an AppendValue is queued, but only inside the append window.
Every decision lands in the correction ledger with its reason; the ledger's unique key makes the
whole pass idempotent and safe with several workers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, or_, select

from poas.domain.capi_events import EventNotBuilt, build_append_value
from poas.domain.money import Money, exponent
from poas.domain.order import Order, RestockType
from poas.domain.profit import ProfitResult
from poas.domain.returns import FitSettings, ReturnRateModel, count_units, fit
from poas.services.google_events import queue_google_restatements
from poas.services.ingest import ProfitContext
from poas.services.new_customer_value import added_for
from poas.settings import ShopConfig
from poas.store import corrections
from poas.store.orders import load_orders
from poas.store.outbox import OutboxEvent, enqueue
from poas.store.return_rates import save_model
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import orders, refunds
from poas.store.tables.returns import profit_corrections

PURCHASE = "Purchase"
APPEND_VALUE = "AppendValue"
_CHUNK = 500


def _order_ids(conn: Connection, shop_id: str, start: datetime, end: datetime) -> list[str]:
    rows = conn.execute(
        select(orders.c.order_id)
        .where(orders.c.shop_id == shop_id, orders.c.created_at >= start, orders.c.created_at <= end)
        .order_by(orders.c.created_at, orders.c.order_id)
    ).scalars()
    return list(rows)


def _load_chunks(conn: Connection, shop_id: str, ids: Sequence[str]) -> Iterator[Order]:
    for i in range(0, len(ids), _CHUNK):
        batch = load_orders(conn, shop_id, ids[i : i + _CHUNK])
        yield from (batch[oid] for oid in ids[i : i + _CHUNK] if oid in batch)


def fit_shop(
    engine: Engine,
    shop: ShopConfig,
    *,
    now: datetime,
    lookback_days: int = 365,
    settings: FitSettings = FitSettings(),
) -> ReturnRateModel:
    """Learn the shop's return rates from its own closed orders and store them."""
    lookback, window = timedelta(days=lookback_days), timedelta(days=shop.events.return_window_days)
    with engine.connect() as conn:
        ids = _order_ids(conn, shop.id, now - lookback, now - window)
        counts, cats = count_units(
            _load_chunks(conn, shop.id, ids), now=now, lookback=lookback, return_window=window
        )
    model = fit(counts, cats, settings=settings)
    with engine.begin() as conn:
        save_model(conn, shop.id, model, now=now)
    return model


# ---------------------------------------------------------------- finalization


@dataclass(slots=True)
class FinalizeReport:
    examined: int = 0
    queued: int = 0
    unsent: int = 0
    unchanged: int = 0
    waiting: int = 0  # the Purchase is still on its way: try again later
    google_queued: int = 0  # Google restatements queued (services.google_events)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Told:
    """What Meta last heard about an order's profit, and the Purchase it hangs on."""

    purchase: dict[str, Any] | None
    purchase_state: str | None
    purchase_error: str | None
    pixel_id: str | None
    last_net_revenue: int | None  # minor units


def _to_minor(value: object, currency: str) -> int:
    return int(Decimal(str(value)).scaleb(exponent(currency)).to_integral_value())


def _told(conn: Connection, shop_id: str, order_id: str, currency: str) -> _Told:
    row = conn.execute(
        select(outbox.c.payload, outbox.c.state, outbox.c.last_error, outbox.c.pixel_id)
        .where(outbox.c.shop_id == shop_id, outbox.c.order_id == order_id, outbox.c.event_name == PURCHASE)
        .order_by(outbox.c.id)
        .limit(1)
    ).first()
    if row is None:
        return _Told(None, None, None, None, None)
    payload = json.loads(row.payload)
    last = conn.execute(
        select(profit_corrections.c.append_net_revenue)
        .where(
            profit_corrections.c.shop_id == shop_id,
            profit_corrections.c.order_id == order_id,
            profit_corrections.c.state == "queued",
        )
        .order_by(profit_corrections.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    net = payload.get("custom_data", {}).get("net_revenue")
    told = last if last is not None else (_to_minor(net, currency) if net is not None else None)
    return _Told(payload, row.state, row.last_error, row.pixel_id, told)


def _trigger(order: Order, profit: ProfitResult, shop: ShopConfig, now: datetime) -> tuple[str, str] | None:
    """(correction key, trigger) when the order's profit is final now, else None."""
    if order.cancelled:  # cancelled or voided: realized profit counts only the costs really incurred
        return "final", "cancelled" if order.cancelled_at is not None else "voided"
    if order.refunds and profit.refunded_revenue_ex_vat >= profit.revenue_ex_vat:
        return "final", "fully_refunded"
    if order.placed_at <= now - timedelta(days=shop.events.return_window_days):
        return "final", "window_closed"
    if order.refunds and shop.events.finalize_on_refund:
        latest = max(order.refunds, key=lambda r: (r.processed_at, r.refund_id))
        return f"refund:{latest.refund_id}", "refund"
    return None


def _candidates(
    conn: Connection, shop: ShopConfig, now: datetime, after: tuple[datetime, str] | None
) -> list[tuple[str, datetime]]:
    closed = now - timedelta(days=shop.events.return_window_days)
    finalized = exists().where(
        profit_corrections.c.shop_id == orders.c.shop_id,
        profit_corrections.c.order_id == orders.c.order_id,
        profit_corrections.c.correction_key == "final",
    )
    refunded = exists().where(refunds.c.shop_id == orders.c.shop_id, refunds.c.order_id == orders.c.order_id)
    q = (
        select(orders.c.order_id, orders.c.created_at)
        .where(
            orders.c.shop_id == shop.id,
            orders.c.test.is_(False),
            ~finalized,
            or_(
                orders.c.created_at <= closed,
                orders.c.cancelled_at.is_not(None),
                orders.c.financial_status == "voided",
                refunded,
            ),
        )
        .order_by(orders.c.created_at, orders.c.order_id)
        .limit(_CHUNK)
    )
    if after is not None:
        q = q.where(
            or_(
                orders.c.created_at > after[0],
                and_(orders.c.created_at == after[0], orders.c.order_id > after[1]),
            )
        )
    return [(r.order_id, r.created_at) for r in conn.execute(q)]


def finalize_due(engine: Engine, shop: ShopConfig, *, now: datetime) -> FinalizeReport:
    """One pass over the shop's orders whose profit has become final."""
    report = FinalizeReport()
    after: tuple[datetime, str] | None = None
    while True:
        with engine.connect() as conn:
            found = _candidates(conn, shop, now, after)
            if not found:
                return report
            ids = [oid for oid, _ in found]
            loaded = load_orders(conn, shop.id, ids)
            ctx = ProfitContext.load(conn, shop)
        after = (found[-1][1], found[-1][0])
        for oid in ids:
            order = loaded.get(oid)
            if order is None:
                continue
            report.examined += 1
            _finalize_one(engine, shop, ctx, order, now, report)
        if len(ids) < _CHUNK:
            return report


def _finalize_one(
    engine: Engine, shop: ShopConfig, ctx: ProfitContext, order: Order, now: datetime, report: FinalizeReport
) -> None:
    profit, error = ctx.price(order)
    if profit is None:
        report.errors.append(f"order {order.order_id}: {error}")
        return
    decided = _trigger(order, profit, shop, now)
    if decided is None:
        return
    key, trigger = decided
    currency = profit.realized_profit.currency
    final = profit.realized_profit.rounded()
    with engine.begin() as conn:
        told = _told(conn, shop.id, order.order_id, currency)
        if told.purchase_state in ("pending", "retry", "sending"):
            report.waiting += 1
            return
        added = added_for(conn, shop.id, order.order_id)  # a new customer's Purchase's basis
        state, reason, append_net, event = _decide(shop, order, told, final, key, now, added)
        entry = corrections.Correction(
            shop_id=shop.id,
            order_id=order.order_id,
            correction_key=key,
            trigger=trigger,
            currency=currency,
            sent_net_revenue=told.last_net_revenue,
            final_profit=final.minor_units(),
            append_net_revenue=append_net,
            state=state,
            reason=reason,
            append_event_id=event["event_id"] if event else None,
            created_at=now,
        )
        if not corrections.record(conn, entry):
            return  # another worker finalized it first
        google = queue_google_restatements(
            conn,
            shop=shop,
            order_id=order.order_id,
            profit=profit,
            key=key,
            now=now,
            retract=trigger in ("cancelled", "voided", "fully_refunded"),
        )
        report.google_queued += len(google.queued)
        if event is not None and told.pixel_id is not None:
            enqueue(
                conn,
                [
                    OutboxEvent(
                        shop_id=shop.id,
                        pixel_id=told.pixel_id,
                        event_name=APPEND_VALUE,
                        event_id=event["event_id"],
                        event_time=now,
                        payload=event,
                        order_id=order.order_id,
                    )
                ],
                now=now,
            )
    if state == "queued":
        report.queued += 1
    elif state == "unsent":
        report.unsent += 1
    else:
        report.unchanged += 1


def _decide(
    shop: ShopConfig,
    order: Order,
    told: _Told,
    final: Money,
    key: str,
    now: datetime,
    added: Decimal = Decimal(0),
) -> tuple[str, str, int | None, dict[str, Any] | None]:
    """(state, reason, net_revenue to append in minor units, the event) for one final profit."""
    if told.purchase is None:
        return (
            "unsent",
            "no Purchase was sent for this order (consent, no pixel or no sendable profit)",
            None,
            None,
        )
    if told.purchase_state == "dead":
        return "unsent", f"the Purchase was not accepted by Meta: {told.purchase_error or 'dead'}", None, None
    try:
        event = build_append_value(
            told.purchase, final, shop, now, event_id=f"{told.purchase['event_id']}.append.{key}", added=added
        )
    except (EventNotBuilt, KeyError) as exc:
        return "unsent", f"AppendValue could not be built: {exc}", None, None
    append_net = _to_minor(event["custom_data"]["net_revenue"], final.currency)
    note = (
        ""
        if final.amount >= 0
        else f" (true final profit {final}; negative sent as {append_net} minor units)"
    )
    window = timedelta(days=shop.events.append_window_days)
    age = now - datetime.fromtimestamp(int(told.purchase["event_time"]), tz=now.tzinfo)
    if told.last_net_revenue is not None:
        threshold = Money(shop.events.append_threshold, final.currency).minor_units()
        if abs(append_net - told.last_net_revenue) < threshold:
            return (
                "unchanged",
                f"final profit within {shop.events.append_threshold} of what Meta was told",
                None,
                None,
            )
    if age > window:
        days = age.days
        return (
            "unsent",
            f"outside the append window: the Purchase is {days} days old, window {window.days} days{note}",
            append_net,
            None,
        )
    return "queued", f"AppendValue queued{note}", append_net, event


# ---------------------------------------------------------------- calibration


_RECOVERS = frozenset({RestockType.RETURN, RestockType.CANCEL, RestockType.LEGACY_RESTOCK})
_RETURNED = frozenset({RestockType.RETURN, RestockType.LEGACY_RESTOCK, RestockType.NO_RESTOCK})


@dataclass(slots=True)
class CalibrationRow:
    group: str
    key: str
    lines: int = 0
    predicted: Decimal = Decimal(0)
    actual: Decimal = Decimal(0)

    def to_dict(self) -> dict[str, Any]:
        ratio = self.predicted / self.actual if self.actual else None
        return {
            "group": self.group,
            "key": self.key,
            "lines": self.lines,
            "predicted_return_cost": str(self.predicted),
            "actual_return_cost": str(self.actual),
            "error": str(self.predicted - self.actual),
            "predicted_over_actual": None if ratio is None else str(ratio.quantize(Decimal("0.001"))),
        }


def line_return_costs(order: Order, profit: ProfitResult) -> dict[str, tuple[Decimal, Decimal]]:
    """Per line: (expected return cost at pricing, return cost the refunds actually caused)."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for lp in profit.lines:
        if lp.gift_card:
            continue
        actual = Decimal(0)
        for refund in order.refunds:
            for rl in refund.lines:
                if rl.line_id != lp.line_id or rl.quantity <= 0 or lp.quantity <= 0:
                    continue
                share = Decimal(rl.quantity) / Decimal(lp.quantity)
                actual += share * lp.revenue_ex_vat.amount
                if rl.restock_type in _RECOVERS:
                    actual -= share * lp.cogs.amount
                if rl.restock_type in _RETURNED:
                    actual += lp.return_handling.amount
        out[lp.line_id] = (lp.expected_return_cost.amount, actual)
    return out


def calibration(
    engine: Engine, shop: ShopConfig, *, now: datetime, lookback_days: int = 365
) -> dict[str, Any]:
    """Predicted vs actual return cost by SKU, category and month over orders whose window closed,
    and how much profit value Meta was over- or under-told (from the correction ledger)."""
    window = timedelta(days=shop.events.return_window_days)
    groups: dict[tuple[str, str], CalibrationRow] = {}
    total = CalibrationRow("total", "all")
    with engine.connect() as conn:
        ids = _order_ids(conn, shop.id, now - timedelta(days=lookback_days), now - window)
        ctx = ProfitContext.load(conn, shop)
        for order in _load_chunks(conn, shop.id, ids):
            if order.test or order.cancelled:
                continue
            profit, _ = ctx.price(order)  # with the shop's learned return rates, as at purchase
            if profit is None:
                continue
            by_line = line_return_costs(order, profit)
            month = order.placed_at.strftime("%Y-%m")
            for line in order.lines:
                if line.line_id not in by_line:
                    continue
                predicted, actual = by_line[line.line_id]
                keys = [
                    ("sku", line.sku or line.variant_id or "-"),
                    ("category", line.category or "-"),
                    ("month", month),
                ]
                for key in [*keys, ("total", "all")]:
                    row = total if key[0] == "total" else groups.setdefault(key, CalibrationRow(*key))
                    row.lines += 1
                    row.predicted += predicted
                    row.actual += actual
        ledger = corrections.all_for_shop(conn, shop.id)
    told = [r for r in ledger if r["sent_net_revenue"] is not None]
    over = sum((r["sent_net_revenue"] - r["final_profit"] for r in told), 0)
    exp = exponent(shop.currency)
    return {
        "shop": shop.id,
        "currency": shop.currency,
        "orders_with_closed_window": len(ids),
        "total": total.to_dict(),
        "rows": [r.to_dict() for r in sorted(groups.values(), key=lambda r: (r.group, r.key))],
        "meta": {
            "finalized_orders": len(told),
            "over_told": str(Decimal(over).scaleb(-exp)),
            "appendvalue_queued": sum(1 for r in ledger if r["state"] == "queued"),
            "corrections_unsent": sum(1 for r in ledger if r["state"] == "unsent"),
            "note": "over_told > 0: Meta was told more profit at purchase than the orders finally made",
        },
    }
