"""The ads drill-down page: campaigns → one campaign's ad sets → one ad set's ads (`/ads`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from poas.services import views
from poas.services.views.drilldown import drilldown_view
from poas.web import dashboard
from poas.web.dashboard import engine_of, flash, page, pick_shop

# The dashboard's guards (admin session, CSRF, the dashboard's settings) on this page too.
router = APIRouter(
    include_in_schema=False,
    dependencies=list(dashboard.router.dependencies),
    default_response_class=HTMLResponse,
)


@router.get("/ads")
def ads_page(
    request: Request,
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    adset: Annotated[str | None, Query(max_length=64)] = None,
    shop: Annotated[str | None, Query(max_length=100)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        raise HTTPException(404, "no shop is configured yet: add one to the config file (see Settings)")
    engine, now = engine_of(request), views.utcnow()
    try:
        view = drilldown_view(
            engine, cfg, now=now, campaign_id=campaign, adset_id=adset, date_from=date_from, date_to=date_to
        )
    except (ValueError, OverflowError) as exc:
        flash(request, "error", str(exc).replace("--", ""))
        view = drilldown_view(engine, cfg, now=now, campaign_id=campaign, adset_id=adset)
    return page(request, "drilldown.html", "/campaigns", d=view, view=view.report)
