"""The JSON API under /api/v1: report rows, orders and their breakdown, delivery stats, costs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from poas.web import views
from poas.web.auth import ApiPrincipal, Principal
from poas.web.views import DbId, DeliveryView

router = APIRouter(prefix="/api/v1", tags=["api"])


def engine_of(request: Request) -> Engine:
    e: Engine = request.app.state.engine
    return e


def visible_shops(who: Principal) -> list[str] | None:
    """The shop ids a caller may see; None means all of them (admin)."""
    return None if who.shop_id is None else [who.shop_id]


@router.get("/delivery", response_model=DeliveryView, summary="Outbox depth, per-pixel states, match rate")
def get_delivery(request: Request, who: ApiPrincipal) -> DeliveryView:
    with engine_of(request).connect() as conn:
        return views.delivery_view(conn, now=views.utcnow(), shops=visible_shops(who))


class ReplayRequest(BaseModel):
    ids: list[DbId] | None = Field(
        None, max_length=10_000, description="dead event ids to replay; null replays every dead event"
    )


class ReplayResult(BaseModel):
    replayed: int


@router.post("/delivery/replay", response_model=ReplayResult, summary="Queue dead events again")
def post_replay(request: Request, who: ApiPrincipal, body: ReplayRequest = Body()) -> ReplayResult:
    with engine_of(request).begin() as conn:
        n = views.replay_dead(conn, ids=body.ids, shops=visible_shops(who), now=views.utcnow())
    return ReplayResult(replayed=n)


@router.get("/orders", response_model=views.OrderPage, summary="Orders with latest profit, newest first")
def get_orders(
    request: Request,
    who: ApiPrincipal,
    q: Annotated[str | None, Query(max_length=200, description="order id, or part of the name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> views.OrderPage:
    with engine_of(request).connect() as conn:
        return views.order_page(conn, shops=visible_shops(who), query=q, limit=limit, offset=offset)


@router.get(
    "/orders/{shop_id}/{order_id}",
    response_model=views.OrderDetail,
    summary="One order's profit breakdown (waterfall, lines, cost rows), events and Meta's answers",
    responses={404: {"description": "no such order (or not visible to this token)"}},
)
def get_order(request: Request, who: ApiPrincipal, shop_id: str, order_id: str) -> views.OrderDetail:
    detail = None
    if who.can_see(shop_id):
        with engine_of(request).connect() as conn:
            detail = views.order_detail(conn, shop_id, order_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such order")
    return detail
