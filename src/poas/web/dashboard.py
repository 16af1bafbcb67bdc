"""Dashboard pages: server-rendered Jinja2 with htmx and Chart.js, every chart next to its table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from poas.settings import Settings, mask
from poas.web import views
from poas.web.auth import check_csrf, csrf_token, require_admin

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["csrf_token"] = csrf_token


def fmt_money(value: Decimal | None, places: int = 2) -> str:
    """`12 345.67` (space-grouped, fixed places); `–` for a missing amount."""
    if value is None:
        return "–"
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q):,}".replace(",", "\u202f")


def fmt_ratio(value: Decimal | None) -> str:
    return "–" if value is None else f"{value.quantize(Decimal('0.01'))}×"


def fmt_pct(value: Decimal | None) -> str:
    return "–" if value is None else f"{(value * 100).quantize(Decimal('0.1'))} %"


def plain(value: Decimal | None, places: int = 2) -> str:
    """A machine-readable number for data attributes and chart JSON (no grouping)."""
    return "" if value is None else str(value.quantize(Decimal(1).scaleb(-places)))


def fmt_age(seconds: int | None) -> str:
    """`45 s`, `12 min`, `3.5 h`, `2.0 d`; `–` when nothing waits."""
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def fmt_when(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters.update(
    money=fmt_money, ratio=fmt_ratio, pct=fmt_pct, plain=plain, age=fmt_age, when=fmt_when
)


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def settings_of(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def engine_of(request: Request) -> Engine:
    e: Engine = request.app.state.engine
    return e


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once on the next page (kept in the signed session)."""
    request.session.setdefault("flashes", []).append([kind, text])


def page(request: Request, name: str, active: str, status_code: int = 200, **ctx: Any) -> Response:
    flashes = request.session.pop("flashes", [])
    context = {"csrf": csrf_token(request), "active": active, "flashes": flashes, **ctx}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


router = APIRouter(
    include_in_schema=False,
    dependencies=[Depends(require_admin), Depends(check_csrf)],
    default_response_class=HTMLResponse,
)


@router.get("/settings")
def settings_page(request: Request) -> Response:
    s = settings_of(request)
    shops = [
        {
            "id": shop.id,
            "platform": shop.platform,
            "domain": shop.domain or "–",
            "currency": shop.currency,
            "pixel_id": shop.pixel_id or "–",
            "access_token": mask(shop.access_token),
            "app_secret": mask(shop.app_secret),
            "api_token": mask(shop.api_token),
            "webhook_secrets": len(shop.webhook_secrets),
            "ad_account_id": shop.ad_account_id or "–",
            "test_event_code": shop.events.test_event_code,
            "consent_policy": shop.consent_policy.value,
            "missing_cost": shop.missing_cost.value,
            "value_basis": shop.events.value_basis.value,
            "purchase_topic": shop.events.purchase_topic,
        }
        for shop in s.shops
    ]
    database = make_url(s.resolved_database_url()).render_as_string(hide_password=True)
    general = {
        "Database": database,
        "Graph API": f"{s.graph_base_url} ({s.graph_version})",
        "Config file": str(s.config_path()),
        "Admin password": "set" if s.admin_password_hash else "not set (login disabled)",
        "Session secret": "configured" if s.session_secret else "per process (sessions end on restart)",
        "Admin API token": mask(s.admin_api_token),
    }
    return page(request, "settings.html", "/settings", shops=shops, general=general)


@router.get("/delivery")
def delivery_page(request: Request) -> Response:
    with engine_of(request).connect() as conn:
        view = views.delivery_view(conn, now=views.utcnow(), shops=None)
    return page(request, "delivery.html", "/delivery", view=view)


@router.post("/delivery/replay")
def delivery_replay(request: Request, id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None) -> Response:
    with engine_of(request).begin() as conn:
        n = views.replay_dead(conn, ids=None if id is None else [id], shops=None, now=views.utcnow())
    if n:
        flash(request, "ok", f"{n} dead event(s) queued again with the same event_id.")
    else:
        flash(request, "warn", "Nothing to replay: the event is no longer dead.")
    return RedirectResponse("/delivery", status_code=303)
