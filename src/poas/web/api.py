"""The JSON API under /api/v1: report rows, orders and their breakdown, delivery stats, costs."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Body, File, HTTPException, Query, Request, UploadFile, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from poas.services import views
from poas.services.fixed_costs import FixedCostError, list_fixed_costs, parse_amount, set_fixed_cost
from poas.services.report import By
from poas.services.settings_overrides import effective_settings
from poas.services.views import DbId, DeliveryView
from poas.settings import Settings, ShopConfig
from poas.web.auth import ApiPrincipal, Principal
from poas.web.dashboard import save_upload, upload_name

router = APIRouter(prefix="/api/v1", tags=["api"])


def engine_of(request: Request) -> Engine:
    e: Engine = request.app.state.engine
    return e


def visible_shops(who: Principal) -> list[str] | None:
    """The shop ids a caller may see; None means all of them (admin)."""
    return None if who.shop_id is None else [who.shop_id]


@router.get("/delivery", response_model=DeliveryView, summary="Outbox depth, per-pixel states, match rate")
def get_delivery(
    request: Request,
    who: ApiPrincipal,
    reason: Annotated[str | None, Query(max_length=40, description="a reason group's key")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9, description="into the dead events, 50 a page")] = 0,
) -> DeliveryView:
    return views.delivery_view(
        engine_of(request), now=views.utcnow(), shops=visible_shops(who), reason=reason, offset=offset
    )


class ReplayRequest(BaseModel):
    ids: list[DbId] | None = Field(
        None, max_length=10_000, description="dead event ids to replay; null replays every dead event"
    )


class ReplayResult(BaseModel):
    replayed: int


@router.post("/delivery/replay", response_model=ReplayResult, summary="Queue dead events again")
def post_replay(request: Request, who: ApiPrincipal, body: ReplayRequest = Body()) -> ReplayResult:
    n = views.replay_dead(engine_of(request), ids=body.ids, shops=visible_shops(who), now=views.utcnow())
    return ReplayResult(replayed=n)


@router.get("/orders", response_model=views.OrderPage, summary="Orders with latest profit, newest first")
def get_orders(
    request: Request,
    who: ApiPrincipal,
    q: Annotated[str | None, Query(max_length=200, description="order id, or part of the name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> views.OrderPage:
    return views.order_page(engine_of(request), shops=visible_shops(who), query=q, limit=limit, offset=offset)


@router.get(
    "/orders/{shop_id}/{order_id}",
    response_model=views.OrderDetail,
    summary="One order's profit breakdown (waterfall, lines, cost rows), events and Meta's answers",
    responses={404: {"description": "no such order (or not visible to this token)"}},
)
def get_order(request: Request, who: ApiPrincipal, shop_id: str, order_id: str) -> views.OrderDetail:
    detail = None
    if who.can_see(shop_id):
        # the shop's settings say why nothing was sent and whether an AppendValue will follow
        settings: Settings = effective_settings(request.app.state.settings, engine_of(request))
        shop = settings.shop(shop_id)
        detail = views.order_detail(engine_of(request), shop_id, order_id, shop=shop, now=views.utcnow())
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such order")
    return detail


def _shop_for(request: Request, who: Principal, shop_id: str | None) -> ShopConfig:
    # With the shop settings changed in the dashboard (services.settings_overrides).
    settings: Settings = effective_settings(request.app.state.settings, engine_of(request))
    wanted = shop_id or who.shop_id or (settings.shops[0].id if settings.shops else None)
    shop = settings.shop(wanted) if wanted else None
    if shop is None or not who.can_see(shop.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such shop")
    return shop


SortKey = Literal[
    "name",
    "spend",
    "orders",
    "revenue",
    "gross_profit",
    "expected_profit",
    "roas",
    "poas",
    "poas_expected",
    "margin",
    "poas_basis",
    "profit_after_ads",
    "break_even_roas",
]


@router.get(
    "/report",
    response_model=views.ReportView,
    summary="ROAS next to POAS by channel, campaign, ad set, ad, product, day or week (advice by campaign)",
    responses={404: {"description": "no such shop"}, 422: {"description": "bad date range"}},
)
def get_report(
    request: Request,
    who: ApiPrincipal,
    by: By = "campaign",
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    sort: SortKey | None = None,
    dir: Literal["asc", "desc"] = "desc",
    basis: Annotated[
        Literal["expected", "gross"] | None,
        Query(description="profit for decisions (verdict, tone, advice); default: the shop's decision_basis"),
    ] = None,
) -> views.ReportView:
    shop = _shop_for(request, who, shop_id)
    try:
        return views.report_view(
            engine_of(request),
            shop,
            by=by,
            now=views.utcnow(),
            date_from=date_from,
            date_to=date_to,
            sort=sort,
            descending=dir == "desc",
            basis=basis,
        )
    except (ValueError, OverflowError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc).replace("--", "")) from None


@router.get(
    "/costs", response_model=views.CostsView, summary="Product costs with validity windows, cost rules"
)
def get_costs(
    request: Request,
    who: ApiPrincipal,
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="part of a variant id, SKU or product name")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> views.CostsView:
    shop = _shop_for(request, who, shop_id)
    return views.costs_view(engine_of(request), shop, now=views.utcnow(), query=q, limit=limit, offset=offset)


@router.get(
    "/costs/missing",
    response_model=views.MissingCostsView,
    summary="Variants / SKUs sold without a cost (profit unknown), units and revenue at stake, newest first",
    responses={404: {"description": "no such shop"}},
)
def get_missing_costs(
    request: Request,
    who: ApiPrincipal,
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
    days: Annotated[int, Query(ge=1, le=3660, description="orders of the last N days")] = 30,
) -> views.MissingCostsView:
    shop = _shop_for(request, who, shop_id)
    return views.missing_costs_view(engine_of(request), shop, now=views.utcnow(), days=days)


@router.get(
    "/costs/rule-gaps",
    response_model=views.RuleGapsView,
    summary="Payment gateways and shipping methods of recent orders that no cost rule prices (counted as 0)",
    responses={404: {"description": "no such shop"}},
)
def get_rule_gaps(
    request: Request,
    who: ApiPrincipal,
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
    days: Annotated[int, Query(ge=1, le=3660, description="orders of the last N days")] = 30,
) -> views.RuleGapsView:
    shop = _shop_for(request, who, shop_id)
    return views.rule_gaps_view(engine_of(request), shop, now=views.utcnow(), days=days)


@router.post(
    "/costs",
    response_model=views.UploadResult,
    summary="Upload a cost CSV: good rows imported, bad rows listed by line",
    responses={404: {"description": "no such shop"}, 413: {"description": "file too large"}},
)
async def post_costs(
    request: Request,
    who: ApiPrincipal,
    file: Annotated[UploadFile, File(description="CSV: sku/variant_id, unit_cost, currency, valid_from")],
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
) -> views.UploadResult:
    shop = _shop_for(request, who, shop_id)
    name = upload_name(file)
    with tempfile.TemporaryDirectory(prefix="poas-upload-") as tmp:
        path = await save_upload(file, Path(tmp))
        return await run_in_threadpool(
            views.upload_costs, engine_of(request), shop, path, file_name=name, now=views.utcnow()
        )


class FixedCostEntry(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="e.g. 'Shopify plan', 'rent'")
    monthly: str = Field(max_length=40, description="monthly amount in the shop currency ex VAT; '0' ends it")
    valid_from: date = Field(description="first day the amount applies")
    category: str = Field("", max_length=100, description="apps | salaries | rent | … (free text)")
    note: str = Field("", max_length=500)


class FixedCostsView(BaseModel):
    shop_id: str
    currency: str
    entries: list[FixedCostEntry]


def _fixed_view(engine: Engine, shop: ShopConfig) -> FixedCostsView:
    rows = list_fixed_costs(engine, shop)
    entries = [
        FixedCostEntry(name=r.name, monthly=str(r.monthly), valid_from=r.valid_from, category=r.category)
        for r in rows
    ]
    return FixedCostsView(shop_id=shop.id, currency=shop.currency, entries=entries)


@router.get(
    "/costs/fixed",
    response_model=FixedCostsView,
    summary="Fixed costs per month (effective-dated): net profit = CM3 − fixed costs",
    responses={404: {"description": "no such shop"}},
)
def get_fixed_costs(
    request: Request, who: ApiPrincipal, shop_id: Annotated[str | None, Query(max_length=100)] = None
) -> FixedCostsView:
    return _fixed_view(engine_of(request), _shop_for(request, who, shop_id))


@router.post(
    "/costs/fixed",
    response_model=FixedCostsView,
    summary="Set a monthly fixed cost from a date on (the same name and date replaces that entry)",
    responses={404: {"description": "no such shop"}, 422: {"description": "bad amount or name"}},
)
def post_fixed_cost(
    request: Request,
    who: ApiPrincipal,
    entry: Annotated[FixedCostEntry, Body()],
    shop_id: Annotated[str | None, Query(max_length=100)] = None,
) -> FixedCostsView:
    shop = _shop_for(request, who, shop_id)
    engine = engine_of(request)
    try:
        monthly = parse_amount(entry.monthly, shop.currency)
        set_fixed_cost(
            engine,
            shop,
            name=entry.name,
            monthly=monthly,
            valid_from=entry.valid_from,
            category=entry.category,
            note=entry.note,
            now=views.utcnow(),
        )
    except FixedCostError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return _fixed_view(engine, shop)
