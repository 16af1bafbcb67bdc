"""The Costs page: cost rows with product names (paged, searchable), the products sold without a
cost, a unit cost entered inline from a date, the CSV template, and uploads answered with
post/redirect/get (the result is shown on /costs after a 303, so a refresh never posts again)."""

from __future__ import annotations

import tempfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from poas.services import views
from poas.services.cost_edit import CostEditError, add_cost, cost_template, local_day
from poas.services.fixed_costs import FixedCostError, list_fixed_costs, parse_amount, set_fixed_cost
from poas.services.views.costs import UploadResult
from poas.services.views.reports import figures_changed
from poas.settings import ShopConfig
from poas.web.auth import check_csrf, require_admin
from poas.web.dashboard import (
    _no_shop,
    engine_of,
    flash,
    page,
    pick_shop,
    save_upload,
    templates,
    upload_name,
)
from poas.web.effective_settings import apply_settings
from poas.web.i18n import gettext as _

PAGE_SIZE = 50
UPLOAD_ERRORS_KEPT = 5  # the result travels in the signed session cookie: keep it small
_SESSION_KEY = "cost_upload"

router = APIRouter(
    include_in_schema=False,
    dependencies=[Depends(require_admin), Depends(check_csrf), Depends(apply_settings)],
    default_response_class=HTMLResponse,
)


def _cost_date(value: datetime | None, timezone: str, empty: str = "–") -> str:
    """A valid_from / valid_to as the shop's calendar shows it: a local midnight is just the date,
    another instant the local date and time; "always" for the beginning of time."""
    if value is None:
        return empty
    if not local_day(value, timezone):
        return _("always")
    local = value.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d") if local.time() == time(0) else local.strftime("%Y-%m-%d %H:%M")


templates.env.filters["cost_date"] = _cost_date


def _costs_url(shop: ShopConfig, q: str | None = None, offset: int = 0, anchor: str = "") -> str:
    params: dict[str, str | int] = {"shop": shop.id}
    if q:
        params["q"] = q
    if offset:
        params["offset"] = offset
    return f"/costs?{urlencode(params)}{anchor}"


def _keep(result: UploadResult) -> dict[str, Any]:
    """The upload result as kept until the redirected page shows it: the counts and the first few
    problems, each cut short, so the signed session cookie stays well under browsers' 4 KB."""
    file = result.file[:60]
    return {
        "file": file,
        "imported": result.imported,
        "rejected": result.rejected,
        "recomputed": result.recomputed,
        "changed": result.changed,
        "errors": [
            {"file": file, "line": e.line, "field": (e.field or "")[:40] or None, "message": e.message[:120]}
            for e in result.errors[:UPLOAD_ERRORS_KEPT]
        ],
    }


@router.get("/costs")
def costs_page(
    request: Request,
    shop: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, "/costs")
    now = views.utcnow()
    view = views.costs_view(engine_of(request), cfg, now=now, query=q, limit=PAGE_SIZE, offset=offset)
    missing = views.missing_costs_view(engine_of(request), cfg, now=now)
    gaps = views.rule_gaps_view(engine_of(request), cfg, now=now)
    upload = request.session.pop(_SESSION_KEY, None)
    today = local_day(now, cfg.timezone)[:10]
    pages = {
        "prev": _costs_url(cfg, view.query, max(0, offset - PAGE_SIZE)) if offset > 0 else None,
        "next": _costs_url(cfg, view.query, offset + PAGE_SIZE) if offset + PAGE_SIZE < view.total else None,
        "first": offset + 1 if view.costs else 0,
        "last": offset + len(view.costs),
    }
    fixed = list_fixed_costs(engine_of(request), cfg)
    return page(
        request,
        "costs.html",
        "/costs",
        view=view,
        upload=upload,
        missing=missing,
        gaps=gaps,
        today=today,
        pages=pages,
        fixed=fixed,
    )


@router.get("/costs/template.csv")
def costs_template(request: Request, shop: str | None = None, missing: bool = False) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, "/costs")
    text = cost_template(engine_of(request), cfg, now=views.utcnow(), missing=missing)
    name = f"poas-costs-{cfg.id}{'-missing' if missing else ''}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/costs/upload")
async def costs_upload(
    request: Request, file: Annotated[UploadFile, File()], shop: Annotated[str | None, Form()] = None
) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, "/costs")
    name = upload_name(file)
    with tempfile.TemporaryDirectory(prefix="poas-upload-") as tmp:
        path = await save_upload(file, Path(tmp))
        result = await run_in_threadpool(
            views.upload_costs, engine_of(request), cfg, path, file_name=name, now=views.utcnow()
        )
    request.session[_SESSION_KEY] = _keep(result)
    return RedirectResponse(_costs_url(cfg, anchor="#upload-result"), status_code=303)


@router.post("/costs/edit")
def costs_edit(
    request: Request,
    key: Annotated[str, Form(max_length=200)],
    unit_cost: Annotated[str, Form(max_length=40)],
    valid_from: Annotated[str, Form(max_length=40)],
    shop: Annotated[str | None, Form()] = None,
) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, "/costs")
    try:
        edit = add_cost(engine_of(request), cfg, key, unit_cost, valid_from, now=views.utcnow())
    except CostEditError as exc:
        flash(request, "error", exc.message)
        return RedirectResponse(_costs_url(cfg, key.strip(), anchor="#costs"), status_code=303)
    row = edit.row
    text = _("%(key)s: unit cost %(cost)s %(currency)s from %(day)s added (earlier rows kept).") % {
        "key": row.key,
        "cost": row.unit_cost,
        "currency": row.currency,
        "day": local_day(row.valid_from, cfg.timezone),
    }
    if edit.recomputed:
        priced = _("%(n)s stored order(s) priced again, %(changed)s changed.")
        text += " " + priced % {"n": edit.recomputed, "changed": edit.changed}
    flash(request, "ok", text)
    figures_changed(engine_of(request))
    return RedirectResponse(_costs_url(cfg, row.key, anchor="#costs"), status_code=303)


@router.post("/costs/fixed")
def costs_fixed(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    monthly: Annotated[str, Form(max_length=40)],
    valid_from: Annotated[str, Form(max_length=40)],
    category: Annotated[str, Form(max_length=100)] = "",
    shop: Annotated[str | None, Form()] = None,
) -> Response:
    """A monthly fixed cost from a date on (docs/metrics.md); the reports' net profit follows."""
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, "/costs")
    try:
        amount = parse_amount(monthly, cfg.currency)
        day = date.fromisoformat(valid_from.strip())
        set_fixed_cost(
            engine_of(request),
            cfg,
            name=name,
            monthly=amount,
            valid_from=day,
            category=category,
            now=views.utcnow(),
        )
    except FixedCostError as exc:
        flash(request, "error", str(exc))
    except ValueError:
        flash(request, "error", _("Valid from must be a date."))
    else:
        text = _("%(name)s: %(amount)s %(currency)s a month from %(day)s saved.") % {
            "name": name.strip(),
            "amount": amount,
            "currency": cfg.currency,
            "day": day.isoformat(),
        }
        flash(request, "ok", text)
        figures_changed(engine_of(request))
    return RedirectResponse(_costs_url(cfg, anchor="#fixed-costs"), status_code=303)
