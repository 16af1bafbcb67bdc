"""The API's documentation: the OpenAPI document and the vendored Swagger UI and ReDoc, behind login.

`/api/v1/openapi.json` answers any caller the API itself would (an admin session, the admin API token
or a shop's api_token); `/docs` and `/redoc` are dashboard pages (admin session, else the login page).
Both viewers load their scripts from /static only, so the Content-Security-Policy holds there too;
ReDoc's styles are `<style>` elements it makes at run time, allowed by a nonce fresh for each page.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from poas.web.auth import api_principal, csp_for_redoc, require_admin

OPENAPI_URL = "/api/v1/openapi.json"

router = APIRouter(include_in_schema=False)


@router.get(OPENAPI_URL, dependencies=[Depends(api_principal)])
def openapi_document(request: Request) -> JSONResponse:
    document: dict[str, Any] = request.app.openapi()
    return JSONResponse(document)


@router.get("/docs", response_class=HTMLResponse, dependencies=[Depends(require_admin)])
def swagger_ui(request: Request) -> Response:
    from poas.web.dashboard import templates

    return templates.TemplateResponse(request, "api_docs.html", {"openapi_url": OPENAPI_URL})


@router.get("/redoc", response_class=HTMLResponse, dependencies=[Depends(require_admin)])
def redoc(request: Request) -> Response:
    from poas.web.dashboard import templates

    nonce = secrets.token_urlsafe(18)
    return templates.TemplateResponse(
        request,
        "api_redoc.html",
        {"openapi_url": OPENAPI_URL, "style_nonce": nonce},
        headers={"Content-Security-Policy": csp_for_redoc(nonce)},
    )
