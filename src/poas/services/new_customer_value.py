"""A new customer's predicted value for her Purchase: `predicted_ltv` and the "new-customer value" basis.

Asked only when the shop turns it on (`[shops.customer_value]`), for an order that is its customer's
first counted order (`customer_orders.seq = 1`, placed by ingest before the events are built), with
a model fitted by `poas customers fit`. Computed once per order, in the caller's transaction, and
recorded in `order_customer_value` (prediction, share, amount added): a re-queued Purchase and the
order's AppendValue corrections read the same amount back, so every correction stays on the basis
the Purchase was sent on, and the breakdown names it.

The model (`poas.services.customer_value`: numpy and scipy) is imported only when a shop asks for it,
so that ingesting an order does not load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, Engine, select

from poas.domain.capi_events import NewCustomerValue
from poas.domain.money import Money, exponent
from poas.domain.order import Order
from poas.domain.profit import ProfitResult
from poas.settings import ShopConfig
from poas.store.tables.customer_models import order_customer_value
from poas.store.tables.customers import customer_orders


def _stored(conn: Connection, shop_id: str, order_id: str) -> NewCustomerValue | None:
    t = order_customer_value.c
    row = conn.execute(
        select(t.currency, t.predicted_ltv_minor, t.added_minor).where(
            t.shop_id == shop_id, t.order_id == order_id
        )
    ).first()
    if row is None:
        return None
    ltv = (
        None
        if row.predicted_ltv_minor is None
        else Money.from_minor(row.predicted_ltv_minor, row.currency).amount
    )
    return NewCustomerValue(ltv, Money.from_minor(row.added_minor, row.currency).amount)


def new_customer_value(
    conn: Connection, *, shop: ShopConfig, order: Order, profit: ProfitResult, now: datetime
) -> NewCustomerValue | None:
    """The order's predicted value to send, or None (off, not a new customer's order, no model)."""
    cfg = shop.customer_value
    if not cfg.predicted_ltv and cfg.new_customer_share == 0:
        return None
    known = _stored(conn, shop.id, order.order_id)
    if known is not None:
        return known
    co = customer_orders.c
    seq = conn.execute(
        select(co.seq).where(co.shop_id == shop.id, co.order_id == order.order_id, co.counts.is_(True))
    ).scalar_one_or_none()
    if seq != 1:
        return None
    from poas.services.customer_value import load_fitted, to_money

    fitted = load_fitted(conn, shop.id)
    if fitted is None:
        return None
    first = profit.expected_profit
    future = to_money(fitted.model.predict_after_first(cfg.horizon_days, float(first.amount)), first.currency)
    ltv = first + future if cfg.predicted_ltv else None
    share = Decimal(cfg.new_customer_share)
    added = (
        to_money(float(future.amount * share), first.currency)
        if future.amount > 0
        else Money(Decimal(0), first.currency)
    )
    conn.execute(
        order_customer_value.insert().values(
            shop_id=shop.id,
            order_id=order.order_id,
            currency=first.currency,
            horizon_days=cfg.horizon_days,
            predicted_future_minor=future.minor_units(),
            predicted_ltv_minor=None if ltv is None else ltv.minor_units(),
            share=str(share),
            added_minor=added.minor_units(),
            model_fitted_at=fitted.fitted_at,
            created_at=now,
        )
    )
    return NewCustomerValue(None if ltv is None else ltv.amount, added.amount)


def added_for(conn: Connection, shop_id: str, order_id: str | None) -> Decimal:
    """What the order's Purchase added as new-customer value (0 when nothing): its corrections add it too."""
    if not order_id:
        return Decimal(0)
    known = _stored(conn, shop_id, order_id)
    return Decimal(0) if known is None else known.added


PLTV_GUIDE = "https://developers.facebook.com/documentation/ads-commerce/conversions-api/guides/predicted-lifetime-value"
MIN_DISTINCT = 5
MIN_SPREAD = Decimal(3)
MIN_WEEKLY = 100
WINDOW_DAYS = 28


@dataclass(frozen=True)
class Requirement:
    name: str
    met: bool
    detail: str


def pltv_requirements(engine: Engine, shop: ShopConfig, *, now: datetime) -> list[Requirement]:
    """Meta's pLTV requirements (PLTV_GUIDE), checked on the shop's settings, model and last 28 days.

    Web Conversions API events; a validated model (here: fitted, and the calibration's held-out cohort
    within 10 %); at least 5 distinct values, all positive, the largest at least 3× the smallest;
    at least 100 conversion events (new customers' Purchases) a week; the value within 7 days of the
    conversion (poas sends it on the Purchase itself, so always)."""
    from poas.services.customer_value import CalibrationError, calibrate, load_fitted

    out: list[Requirement] = []
    web = bool(shop.pixel_id) and shop.events.action_source == "website"
    out.append(
        Requirement(
            "web events",
            web,
            "website Purchases to a pixel" if web else "needs a pixel_id and website events",
        )
    )
    with engine.connect() as conn:
        fitted = load_fitted(conn, shop.id)
        co = customer_orders.c
        since = now - timedelta(days=WINDOW_DAYS)
        firsts = conn.execute(
            select(co.expected_profit_minor).where(
                co.shop_id == shop.id,
                co.seq == 1,
                co.counts.is_(True),
                co.placed_at >= since,
                co.profit_known.is_(True),
            )
        ).all()
    if fitted is None:
        out.append(Requirement("model", False, "no customer value model: run `poas customers fit`"))
        return out
    try:
        cal = calibrate(engine, shop, now=now, horizon=shop.customer_value.horizon_days)
        ok = cal.held_out.within
        err = cal.held_out.error
        out.append(
            Requirement(
                "model",
                ok,
                f"fitted {fitted.fitted_at.date()}; held-out cohort predicted vs realized "
                + ("n/a" if err is None else f"{err * 100:+.1f} %"),
            )
        )
    except CalibrationError as exc:
        out.append(Requirement("model", False, f"fitted {fitted.fitted_at.date()} but not validated: {exc}"))
    weekly = len(firsts) * 7 / WINDOW_DAYS
    out.append(
        Requirement(
            "volume",
            weekly >= MIN_WEEKLY,
            f"{weekly:.0f} new customers a week over the last {WINDOW_DAYS} days (Meta asks ≥ {MIN_WEEKLY})",
        )
    )
    unit = Decimal(10) ** -exponent(shop.currency)
    values = []
    for (minor,) in firsts:
        first = Decimal(minor) * unit
        future = fitted.model.predict_after_first(shop.customer_value.horizon_days, float(first))
        values.append((first + Decimal(repr(future))).quantize(unit))
    positive = [v for v in values if v > 0]  # a non-positive prediction is not sent at all
    distinct = len(set(positive))
    spread = (max(positive) / min(positive)) if positive else Decimal(0)
    ok = distinct >= MIN_DISTINCT and spread >= MIN_SPREAD
    out.append(
        Requirement(
            "values",
            ok,
            f"{distinct} distinct positive predicted values (Meta asks ≥ {MIN_DISTINCT}), largest / smallest "
            f"{spread:.1f} (≥ {MIN_SPREAD}); {len(values) - len(positive)} not positive, so not sent",
        )
    )
    return out


@dataclass(frozen=True)
class Recorded:
    """What a new customer's Purchase carried, as recorded (the breakdown of the basis)."""

    currency: str
    horizon_days: int
    predicted_future: Decimal
    predicted_ltv: Decimal | None
    share: Decimal
    added: Decimal
    model_fitted_at: datetime


def recorded(conn: Connection, shop_id: str, order_id: str) -> Recorded | None:
    t = order_customer_value.c
    row = conn.execute(
        select(order_customer_value).where(t.shop_id == shop_id, t.order_id == order_id)
    ).first()
    if row is None:
        return None

    def amount(minor: int) -> Decimal:
        return Money.from_minor(minor, row.currency).amount

    return Recorded(
        row.currency,
        row.horizon_days,
        amount(row.predicted_future_minor),
        None if row.predicted_ltv_minor is None else amount(row.predicted_ltv_minor),
        Decimal(row.share),
        amount(row.added_minor),
        row.model_fitted_at,
    )
