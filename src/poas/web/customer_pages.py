"""Customers in the API and the dashboard: cohorts (`/api/v1/cohorts`, page `/customers`), the value
model's calibration (`/api/v1/ltv-calibration`) and value-rule suggestions (`/api/v1/value-rules`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from poas.services import views
from poas.services.cohorts import cohort_json, cohort_report
from poas.services.customer_value import CalibrationError, calibrate, calibration_json
from poas.services.value_rules import value_rules, value_rules_json
from poas.web import dashboard
from poas.web.api import _shop_for, engine_of
from poas.web.auth import ApiPrincipal
from poas.web.dashboard import flash, page, pick_shop
from poas.web.i18n import N_
from poas.web.i18n import gettext as _

api_router = APIRouter(prefix="/api/v1", tags=["api"])
router = APIRouter(
    include_in_schema=False,
    dependencies=list(dashboard.router.dependencies),
    default_response_class=HTMLResponse,
)
FromQ = Annotated[date | None, Query(alias="from", description="first day of first orders (shop calendar)")]
ToQ = Annotated[date | None, Query(alias="to", description="last day of first orders")]


@api_router.get("/cohorts", summary="Profit per customer 30–365 days after the first order; LTV:CAC")
def get_cohorts(
    request: Request,
    who: ApiPrincipal,
    by: Literal["month", "campaign"] = "month",
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
) -> dict[str, Any]:
    shop = _shop_for(request, who, shop_id)
    try:
        rep = cohort_report(
            engine_of(request), shop, by=by, now=views.utcnow(), first_from=date_from, first_to=date_to
        )
    except (ValueError, OverflowError) as exc:  # a date the calendar or the store cannot hold
        raise HTTPException(422, str(exc))
    return cohort_json(rep)


@api_router.get("/ltv-calibration", summary="Predicted vs realized customer profit on held-out customers")
def get_calibration(
    request: Request,
    who: ApiPrincipal,
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
    horizon: Annotated[int, Query(ge=30, le=1825)] = 365,
    cohort_days: Annotated[int, Query(ge=7, le=365)] = 90,
) -> dict[str, Any]:
    shop = _shop_for(request, who, shop_id)
    try:
        cal = calibrate(
            engine_of(request), shop, now=views.utcnow(), horizon=horizon, cohort_days=cohort_days
        )
    except CalibrationError as exc:
        raise HTTPException(409, str(exc))
    return calibration_json(cal)


@api_router.get("/value-rules", summary="Suggested value-rule adjustments with evidence (never applied)")
def get_value_rules(
    request: Request,
    who: ApiPrincipal,
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    shop = _shop_for(request, who, shop_id)
    try:
        v = value_rules(engine_of(request), shop, now=views.utcnow(), date_from=date_from, date_to=date_to)
    except (ValueError, OverflowError) as exc:
        raise HTTPException(422, str(exc))
    return value_rules_json(v)


def _dec(v: object) -> Decimal | None:
    return None if v is None else Decimal(str(v))


# Value-rule words shown on the page (the CLI and API keep the plain English).
DIMENSIONS = {"country": N_("Shipping country"), "device": N_("Device"), "customer": N_("Customer")}
SEGMENTS = {
    "unknown": N_("unknown"),
    "mobile": N_("mobile"),
    "tablet": N_("tablet"),
    "desktop": N_("desktop"),
    "new": N_("new"),
    "returning": N_("returning"),
}
REASONS = {
    "fewer than 30 orders": N_("fewer than 30 orders"),
    "no positive profit per order in the shop to compare with": N_(
        "no positive profit per order in the shop to compare with"
    ),
    "not a segment Meta can target": N_("not a segment Meta can target"),
}


def rule_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The value-rule suggestions as the page shows them: words translated, amounts as Decimal."""
    return [
        {
            "dimension": _(DIMENSIONS.get(r["dimension"], r["dimension"])),
            "segment": _(SEGMENTS[r["segment"]]) if r["segment"] in SEGMENTS else r["segment"],
            "orders": r["orders"],
            "spend": Decimal(r["spend"]),
            "profit": Decimal(r["profit"]),
            "poas": _dec(r["poas"]),
            "adjustment": None if r["adjustment_pct"] is None else Decimal(str(r["adjustment_pct"])) / 100,
            "reason": _(REASONS.get(r["reason"], r["reason"])) if r["reason"] else None,
        }
        for r in doc["suggestions"]
    ]


COLORS = ("#0b5cad", "#17803d", "#9a6700", "#8250df", "#cf222e", "#1b7c83", "#6e7781")


def cohort_chart(doc: dict[str, Any]) -> dict[str, Any]:
    """One line per cohort: profit per customer at each horizon (gaps where a cohort is too young)."""
    horizons = doc["horizons"]
    return {
        "type": "line",
        "valueFormat": "money",
        "data": {
            "labels": [_("%(days)s days") % {"days": h} for h in horizons],
            "datasets": [
                {
                    "label": row["name"] or _("(unattributed)"),
                    "data": [row["profit_per_customer"][str(h)] for h in horizons],
                    "borderColor": COLORS[i % len(COLORS)],
                    "spanGaps": False,
                }
                for i, row in enumerate(doc["cohorts"][-12:])
            ],
        },
        "options": {"scales": {"y": {"beginAtZero": True}}},
    }


@router.get("/customers")
def customers_page(
    request: Request,
    by: Literal["month", "campaign"] = "month",
    shop: Annotated[str | None, Query(max_length=100)] = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        raise HTTPException(404, "no shop is configured yet: add one to the config file (see Settings)")
    engine, now = engine_of(request), views.utcnow()
    try:
        rep = cohort_report(engine, cfg, by=by, now=now, first_from=date_from, first_to=date_to)
    except (ValueError, OverflowError) as exc:
        flash(request, "error", str(exc))
        rep = cohort_report(engine, cfg, by=by, now=now)
    doc = cohort_json(rep)
    rules = value_rules_json(value_rules(engine, cfg, now=now))
    rows = [
        {
            "name": row["name"] or _("(unattributed)"),
            "customers": row["customers"],
            "per": [_dec(row["profit_per_customer"][str(h)]) for h in doc["horizons"]],
            "matured": [row["customers_matured"][str(h)] for h in doc["horizons"]],
            "cac": _dec(row.get("cac")),
            "ltv_cac": [_dec(row["ltv_cac"][str(h)]) for h in doc["horizons"]] if "ltv_cac" in row else [],
        }
        for row in doc["cohorts"]
    ]
    return page(
        request,
        "customers.html",
        "/customers",
        doc=doc,
        rows=rows,
        rules=rule_rows(rules),
        rules_from=rules["from"],
        rules_to=rules["to"],
        chart=cohort_chart(doc),
        shop_id=cfg.id,
        by=by,
        date_from=date_from,
        date_to=date_to,
    )
