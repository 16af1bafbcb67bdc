"""Error responses: HTML pages for the dashboard (404, 403, 500 …), JSON for the API, webhooks and tools.

A browser asking for a page gets a page that says what happened in words, without internals (no
exception text, no stack). `/api/*`, the webhooks and anything that does not ask for HTML keep
FastAPI's JSON bodies. An htmx request (a form swapped in place) cannot show an error body, so it is
sent back to the page it came from with the message as a flash.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from poas.web.i18n import N_

log = structlog.get_logger("poas.web")

_MACHINE_PREFIXES = ("/api/", "/webhooks/", "/metrics", "/healthz", "/static/")

# Titles and explanations per status (N_ marks them for the catalogs; the page translates them).
_TITLES: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The address or the form has a value this page cannot use.")),
    403: (N_("Forbidden"), N_("This request was refused.")),
    404: (N_("Not found"), N_("There is nothing at this address.")),
    405: (N_("Not allowed"), N_("This page cannot be used that way.")),
    413: (N_("Too large"), N_("The file is larger than the dashboard accepts.")),
    422: (N_("Bad request"), N_("The address or the form has a value this page cannot use.")),
    500: (
        N_("Something went wrong"),
        N_("The page could not be shown because of an error on the server. It was logged."),
    ),
}
CSRF_TITLE = N_("The page was out of date")
CSRF_TEXT = N_(
    "The form's security token did not match this session (the page was probably open in an old tab, "
    "or you logged in again elsewhere). Reload the page and try again."
)
OTHER = (N_("Error"), N_("The request could not be completed."))


def wants_html(request: Request) -> bool:
    """A browser page request: not the API or a webhook, and HTML is what it accepts."""
    path = request.url.path
    if path.startswith(_MACHINE_PREFIXES) or path in ("/metrics", "/healthz"):
        return False
    if request.headers.get("hx-request") == "true":
        return True
    return "text/html" in request.headers.get("accept", "")


def _message(status: int, detail: Any) -> tuple[str, str]:
    title, text = _TITLES.get(status, OTHER)
    if status == 403 and isinstance(detail, str) and "CSRF" in detail:
        return CSRF_TITLE, CSRF_TEXT
    if status == 404 and isinstance(detail, str) and detail.startswith("no "):
        return title, detail[0].upper() + detail[1:] + "."  # e.g. "No order 7 in shop nordic."
    if status == 413 and isinstance(detail, str):
        return title, detail[0].upper() + detail[1:] + "."
    return title, text


def _back_to(request: Request, header: str = "hx-current-url") -> str:
    """The page the request came from (same site, path and query only), or the dashboard's start."""
    current = urlsplit(request.headers.get(header, ""))
    if current.netloc and current.netloc != request.url.netloc:
        return "/"
    path = current.path if current.path.startswith("/") and not current.path.startswith("//") else "/"
    return path + (f"?{current.query}" if current.query else "")


def error_page(request: Request, status: int, detail: Any = None) -> Response:
    from poas.web.dashboard import templates

    title, text = _message(status, detail)
    session = request.scope.get("session")
    if request.headers.get("hx-request") == "true" and isinstance(session, dict):
        session.setdefault("flashes", []).append(["error", f"{title}: {text}"])
        return Response(status_code=status, headers={"HX-Redirect": _back_to(request)})
    csrf = session.get("csrf", "") if isinstance(session, dict) else ""
    flashes = session.pop("flashes", []) if isinstance(session, dict) else []
    back = _back_to(request, "referer") if request.method != "GET" else request.url.path
    context = {
        **{"csrf": csrf, "active": "", "flashes": flashes, "back": back},
        **{"status": status, "title": title, "text": text},
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code < 400 or not wants_html(request):
        return await http_exception_handler(request, exc)
    response = error_page(request, exc.status_code, exc.detail)
    for name, value in (exc.headers or {}).items():
        response.headers.setdefault(name, value)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    return error_page(request, 422)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", path=request.url.path, error=type(exc).__name__)
    if wants_html(request):
        return error_page(request, 500)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
