"""Cohort report: profit per customer 30/60/90/180/365 days after the first order, LTV:CAC per campaign.

The definitions are in `poas.domain.cohorts`; this reads the histories (`customer_history`) and the
campaign spend of the acquisition period (the daily rollups, refreshed first when the store is
free) and shapes the result for the CLI, the API and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from poas.domain.cohorts import HORIZONS, Cohort, build_cohorts
from poas.domain.money import Money
from poas.services.customer_history import campaign_spend, load_history
from poas.services.rollups import refresh_if_free
from poas.settings import ShopConfig

COHORT_BY = ("month", "campaign")


@dataclass(frozen=True)
class CohortReport:
    shop_id: str
    currency: str
    by: str
    basis: str
    as_of: datetime
    first_from: date | None
    first_to: date | None
    cohorts: list[Cohort]
    horizons: tuple[int, ...] = HORIZONS


def cohort_report(
    engine: Engine,
    shop: ShopConfig,
    *,
    by: str,
    now: datetime,
    first_from: date | None = None,
    first_to: date | None = None,
    basis: str | None = None,
) -> CohortReport:
    if by not in COHORT_BY:
        raise ValueError(f"cohorts by {by!r}: month or campaign")
    basis = basis or shop.decision_basis
    if by == "campaign":
        refresh_if_free(engine, shop, now=now)
    with engine.connect() as conn:
        hist = load_history(
            conn, shop, basis=basis, first_from=first_from, first_to=first_to, with_campaigns=by == "campaign"
        )
        spend = None
        if by == "campaign" and hist.acquired:
            tz = ZoneInfo(shop.timezone)
            days = [a.first_at.astimezone(tz).date() for a in hist.acquired.values()]
            spend = campaign_spend(conn, shop.id, first_from or min(days), first_to or max(days))
    cohorts = build_cohorts(
        hist.orders, hist.acquired, by=by, as_of=now, names=hist.campaign_names, spend_minor=spend
    )
    return CohortReport(shop.id, shop.currency, by, basis, now, first_from, first_to, cohorts)


def _money(minor: Decimal | int | None, currency: str) -> str | None:
    if minor is None:
        return None
    return str(Money.from_minor(int(Decimal(minor).to_integral_value()), currency).amount)


def _ratio(v: Decimal | None) -> float | None:
    return None if v is None else float(round(v, 2))


def cohort_json(rep: CohortReport) -> dict[str, Any]:
    """JSON-safe: money as decimal strings in the shop currency, ratios as numbers."""
    rows = []
    for c in rep.cohorts:
        row: dict[str, Any] = {
            "key": c.key,
            "name": c.name,
            "customers": c.customers,
            "orders_without_cost": c.orders_without_cost,
            "profit_per_customer": {
                str(h): _money(c.per_customer_minor(h), rep.currency) for h in rep.horizons
            },
            "customers_matured": {str(h): c.matured.get(h, 0) for h in rep.horizons},
        }
        if rep.by == "campaign":
            row["spend"] = _money(c.spend_minor, rep.currency)
            row["cac"] = _money(c.cac_minor, rep.currency)
            row["ltv_cac"] = {str(h): _ratio(c.ltv_cac(h)) for h in rep.horizons}
        rows.append(row)
    return {
        "shop_id": rep.shop_id,
        "currency": rep.currency,
        "by": rep.by,
        "basis": rep.basis,
        "as_of": rep.as_of.isoformat(),
        "first_from": rep.first_from.isoformat() if rep.first_from else None,
        "first_to": rep.first_to.isoformat() if rep.first_to else None,
        "horizons": list(rep.horizons),
        "cohorts": rows,
    }
