"""Fit, store and check each shop's customer value model (`poas customers fit`, `poas report
ltv-calibration`).

The model (`poas.domain.ltv`) is fitted on the shop's own counted customer orders on its profit
basis. Orders whose profit is unknown (a missing cost) are left out of the model's data and counted.

Calibration (`calibrate`): the model is fitted only on what was known at a cut-off
`now − horizon − cohort_days`, then checked on what happened after it:
- held-out cohort: customers whose first order came in the `cohort_days` after the cut-off (the fit
  never saw them); predicted repeat profit in their first `horizon` days (from their first order's
  profit alone) against what they actually brought;
- existing customers: everyone known at the cut-off, predicted profit in the `horizon` days after
  it against what they actually brought.
Both are per customer, in the shop currency, with the relative error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, select

from poas.domain.ltv import LtvError, LtvModel, fit_model, summarize
from poas.domain.ltv_defaults import DEFAULT_CREDIBILITY, DEFAULT_HORIZON
from poas.domain.money import Money, exponent
from poas.services.customer_history import EPOCH, fit_rows
from poas.settings import ShopConfig
from poas.store.tables.customer_models import customer_models

DEFAULT_COHORT_DAYS = 90
CALIBRATION_TOLERANCE = 0.10


def _day(at: datetime) -> float:
    return (at - EPOCH).total_seconds() / 86400.0


@dataclass(frozen=True)
class Fitted:
    model: LtvModel
    basis: str
    fitted_at: datetime
    customers: int
    orders: int
    orders_without_cost: int = 0


def fit_shop(
    engine: Engine, shop: ShopConfig, *, now: datetime, credibility: float = DEFAULT_CREDIBILITY
) -> Fitted:
    """Fit on every counted order up to now and store the parameters (replacing the previous fit)."""
    basis = shop.decision_basis
    with engine.connect() as conn:
        rows, unknown = fit_rows(conn, shop, basis=basis)
    s = summarize(rows, _day(now))
    model = fit_model(s, credibility=credibility)
    fitted = Fitted(model, basis, now, len(s), len(rows), unknown)
    with engine.begin() as conn:
        conn.execute(delete(customer_models).where(customer_models.c.shop_id == shop.id))
        conn.execute(
            customer_models.insert().values(
                shop_id=shop.id,
                fitted_at=now,
                basis=basis,
                customers=fitted.customers,
                orders=fitted.orders,
                model=json.dumps(model.to_dict()),
            )
        )
    return fitted


def load_fitted(conn: Connection, shop_id: str) -> Fitted | None:
    """The shop's stored fit, or None (never fitted, or stored by an incompatible version)."""
    row = conn.execute(select(customer_models).where(customer_models.c.shop_id == shop_id)).first()
    if row is None:
        return None
    try:
        model = LtvModel.from_dict(json.loads(row.model))
    except (LtvError, ValueError):
        return None
    return Fitted(model, row.basis, row.fitted_at, row.customers, row.orders)


def to_money(value: float, currency: str) -> Money:
    """A model estimate as Money in the currency's minor unit."""
    return Money.from_minor(round(value * 10 ** exponent(currency)), currency)


@dataclass(frozen=True)
class Check:
    """Predicted against realized, per customer."""

    customers: int
    predicted: Decimal
    realized: Decimal

    @property
    def error(self) -> float | None:
        if self.realized == 0:
            return None
        return float((self.predicted - self.realized) / abs(self.realized))

    @property
    def within(self) -> bool:
        e = self.error
        return e is not None and abs(e) <= CALIBRATION_TOLERANCE


@dataclass(frozen=True)
class Calibration:
    shop_id: str
    currency: str
    basis: str
    horizon: int
    cutoff: datetime
    cohort_to: datetime
    fitted_on: int  # customers known at the cut-off
    model: LtvModel
    held_out: Check
    held_out_first_order: Decimal  # mean first-order profit of the held-out cohort (known at purchase)
    existing: Check


class CalibrationError(ValueError):
    """Not enough history to fit before the cut-off and watch a full horizon after it."""


def calibrate(
    engine: Engine,
    shop: ShopConfig,
    *,
    now: datetime,
    horizon: int = DEFAULT_HORIZON,
    cohort_days: int = DEFAULT_COHORT_DAYS,
    credibility: float = DEFAULT_CREDIBILITY,
) -> Calibration:
    basis = shop.decision_basis
    with engine.connect() as conn:
        rows, _ = fit_rows(conn, shop, basis=basis)
    cutoff = now - timedelta(days=horizon + cohort_days)
    cohort_to = cutoff + timedelta(days=cohort_days)
    c_day, h_day = _day(cutoff), _day(cohort_to)
    firsts: dict[str, tuple[float, float]] = {}
    for key, day, profit in sorted(rows, key=lambda r: (r[0], r[1])):
        firsts.setdefault(key, (day, profit))
    before = [r for r in rows if firsts[r[0]][0] < c_day]
    if not before:
        raise CalibrationError(
            f"no customer's first order before {cutoff.date()}: calibration needs {horizon + cohort_days} "
            "days of history after the fitted period"
        )
    s = summarize(before, c_day)
    try:
        model = fit_model(s, credibility=credibility)
    except LtvError as exc:
        raise CalibrationError(f"cannot fit on the orders before {cutoff.date()}: {exc}") from exc
    # held-out cohort: first order in [cutoff, cohort_to)
    cohort = {k: v for k, v in firsts.items() if c_day <= v[0] < h_day}
    if not cohort:
        raise CalibrationError(f"no new customers between {cutoff.date()} and {cohort_to.date()}")
    realized_new: dict[str, float] = dict.fromkeys(cohort, 0.0)
    for key, day, profit in rows:
        first = cohort.get(key)
        if first is not None and first[0] < day <= first[0] + horizon:
            realized_new[key] += profit
    pred_new = [model.predict_after_first(horizon, first[1]) for first in cohort.values()]
    first_mean = sum(f[1] for f in cohort.values()) / len(cohort)
    # existing customers at the cut-off: the next `horizon` days
    keys = list(dict.fromkeys(r[0] for r in before if r[1] <= c_day))
    realized_old = dict.fromkeys(keys, 0.0)
    for key, day, profit in before:
        if c_day < day <= c_day + horizon:
            realized_old[key] += profit
    pred_old = model.predict(horizon, s)

    def dec(v: float) -> Decimal:
        return Decimal(repr(round(v, 4)))

    return Calibration(
        shop.id,
        shop.currency,
        basis,
        horizon,
        cutoff,
        cohort_to,
        len(s),
        model,
        Check(len(cohort), dec(float(np.mean(pred_new))), dec(sum(realized_new.values()) / len(cohort))),
        dec(first_mean),
        Check(len(keys), dec(float(np.mean(pred_old))), dec(sum(realized_old.values()) / len(keys))),
    )


def calibration_json(c: Calibration) -> dict[str, Any]:
    def check(k: Check) -> dict[str, Any]:
        return {
            "customers": k.customers,
            "predicted_per_customer": str(to_money(float(k.predicted), c.currency).amount),
            "realized_per_customer": str(to_money(float(k.realized), c.currency).amount),
            "error": None if k.error is None else round(k.error, 4),
            "within_tolerance": k.within,
        }

    return {
        "shop_id": c.shop_id,
        "currency": c.currency,
        "basis": c.basis,
        "horizon_days": c.horizon,
        "cutoff": c.cutoff.isoformat(),
        "cohort_to": c.cohort_to.isoformat(),
        "tolerance": CALIBRATION_TOLERANCE,
        "fitted_on_customers": c.fitted_on,
        "model": c.model.to_dict(),
        "held_out_cohort": check(c.held_out)
        | {"first_order_per_customer": str(to_money(float(c.held_out_first_order), c.currency).amount)},
        "existing_customers": check(c.existing),
    }
