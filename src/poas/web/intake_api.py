"""Router: the JSON intake API — `POST /api/v1/orders` and `/api/v1/refunds` with a shop's bearer token."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import JSONResponse

from poas.services import intake
from poas.web.auth import ApiPrincipal
from poas.web.webhooks import accept, read_body, shop_or_404

router = APIRouter(prefix="/api/v1", tags=["intake"])


async def _intake(
    request: Request, background: BackgroundTasks, principal: ApiPrincipal, topic: str
) -> JSONResponse:
    body = await read_body(request)
    data = intake.read_json(body)  # refuses integers too long to be a field and lone surrogates, by path
    if isinstance(data, intake.Refusal):
        code = 400 if data.field == "body" else 422
        return JSONResponse({"detail": data.detail, "field": data.field}, status_code=code)
    named = data.get("shop_id") if isinstance(data, dict) else None
    shop_id = named if isinstance(named, str) and named else principal.shop_id
    if shop_id is None:
        return JSONResponse({"detail": "shop_id: is required", "field": "shop_id"}, status_code=422)
    if not principal.can_see(shop_id):
        raise HTTPException(403, "this token belongs to another shop")
    shop = shop_or_404(request, shop_id)
    key = (request.headers.get("idempotency-key") or "").strip()
    return await accept(request, background, shop, "api", topic, body, f"key:{key}" if key else None)


@router.post("/orders", status_code=202)
async def post_order(request: Request, background: BackgroundTasks, principal: ApiPrincipal) -> JSONResponse:
    """Accept one order in the canonical JSON shape (see `poas.sources.canonical_json`)."""
    return await _intake(request, background, principal, "orders")


@router.post("/refunds", status_code=202)
async def post_refund(request: Request, background: BackgroundTasks, principal: ApiPrincipal) -> JSONResponse:
    """Accept one refund of a known (or soon known) order."""
    return await _intake(request, background, principal, "refunds")
