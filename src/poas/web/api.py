"""The JSON API under /api/v1: report rows, orders and their breakdown, delivery stats, costs."""

from __future__ import annotations

from fastapi import APIRouter, Body, Request
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
