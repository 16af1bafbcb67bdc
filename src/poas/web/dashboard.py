"""Dashboard pages: server-rendered Jinja2 with htmx and Chart.js, every chart next to its table."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from poas.services import channel_spend, views
from poas.services.report import By
from poas.services.views.overview import overview_view
from poas.settings import Settings, ShopConfig, mask
from poas.web.auth import AuthConfig, check_csrf, csrf_token, require_admin
from poas.web.effective_settings import apply_settings, settings_of
from poas.web.formats import FILTERS, plain
from poas.web.i18n import N_, install_jinja
from poas.web.i18n import gettext as _

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# `_()` / `{% trans %}` in the request's language; numbers, money and times by its locale, in the
# shop's time zone (poas.web.i18n sets both per request, poas.web.formats holds the filters).
install_jinja(templates.env)
templates.env.globals["csrf_token"] = csrf_token
templates.env.filters.update(FILTERS)


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


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
    dependencies=[Depends(require_admin), Depends(check_csrf), Depends(apply_settings)],
    default_response_class=HTMLResponse,
)


_COOKIE_SECURE = {
    "auto": N_(
        "Secure when the request came over https: TLS to poas itself, or X-Forwarded-Proto: https "
        "from a trusted proxy"
    ),
    "true": N_("always Secure: browsers never send it over plain http"),
    "false": N_("never Secure: browsers also send it over plain http"),
}


def web_access(s: Settings, auth: AuthConfig, scheme: str) -> dict[str, str]:
    """How the dashboard and the API are guarded, as the settings page shows it: which secrets are
    set (never their values), the cookie's Secure rule, the login throttle and the trusted proxies."""
    secure = _(_COOKIE_SECURE[s.cookie_secure])
    if s.cookie_secure == "auto":
        now = _("Secure") if scheme == "https" else _("not Secure")
        secure += " " + _("(this page came over %(scheme)s: %(now)s)") % {"scheme": scheme, "now": now}
    # uvicorn reads FORWARDED_ALLOW_IPS itself; poas passes it no value of its own.
    proxies = os.environ.get("FORWARDED_ALLOW_IPS")
    if proxies is None:
        trusted = _("127.0.0.1, ::1 (FORWARDED_ALLOW_IPS unset: uvicorn's default, a proxy on this machine)")
    elif proxies.strip() == "*":
        trusted = _(
            "* (FORWARDED_ALLOW_IPS: every address, so any client can claim https and set its own "
            "X-Forwarded-For, which defeats the login throttle)"
        )
    else:
        trusted = f"{proxies} (FORWARDED_ALLOW_IPS)"
    return {
        _("Admin password"): _("set") if s.admin_password_hash else _("not set (login disabled)"),
        _("Session secret"): _("set (POAS_SESSION_SECRET)")
        if s.session_secret
        else _("not set: a random one per process (sessions end on restart)"),
        _("Session cookie"): f"cookie_secure = {s.cookie_secure}: {secure}",
        _("Login throttle"): f"{auth.login_policy.describe()} (" + _("an IPv6 client's /64") + "); "
        "POAS_LOGIN_MAX_FAILURES, POAS_LOGIN_WINDOW_S",
        _("Trusted proxies"): trusted,
        _("Admin API token"): mask(s.admin_api_token),
    }


@router.get("/delivery")
def delivery_page(
    request: Request,
    reason: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    engine, now = engine_of(request), views.utcnow()
    view = views.delivery_view(engine, now=now, shops=None, reason=reason, offset=offset)
    return page(request, "delivery.html", "/delivery", view=view)


@router.post("/delivery/replay")
def delivery_replay(
    request: Request,
    id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
    reason: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    ids = None if id is None else [id]
    n = views.replay_dead(engine_of(request), ids=ids, shops=None, now=views.utcnow(), reason=reason)
    if n:
        flash(request, "ok", _("%(n)s dead event(s) queued again with the same event_id.") % {"n": n})
    else:
        flash(
            request,
            "warn",
            _("Nothing to replay: the event is no longer dead, or it is older than Meta's 7-day limit."),
        )
    return RedirectResponse("/delivery", status_code=303)


_COLORS = {"total": "#2457c5", "down": "#b42318", "up": "#17803d"}


def waterfall_chart(steps: list[views.WaterfallStep]) -> dict[str, Any]:
    """Chart.js floating bars: each step spans [start, end] (numbers as decimal strings)."""
    colors = [_COLORS["total" if s.kind == "total" else "down" if s.amount < 0 else "up"] for s in steps]
    return {
        "type": "bar",
        "data": {
            "labels": [_(s.label) for s in steps],
            "datasets": [
                {
                    "label": _("Amount"),
                    "data": [[plain(s.start), plain(s.end)] for s in steps],
                    "backgroundColor": colors,
                }
            ],
        },
        "options": {"plugins": {"legend": {"display": False}}},
    }


ORDER_STATUSES = ("paid", "pending", "authorized", "partially_refunded", "refunded", "cancelled")


def _day(request: Request, text: str | None) -> date | None:
    """A YYYY-MM-DD filter value; empty is no filter, a bad one is said on the page and ignored."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        note = _("Not a date: %(text)s (use YYYY-MM-DD); that filter is ignored.")
        flash(request, "error", note % {"text": repr(text)})
        return None


@router.get("/orders")
def orders_page(
    request: Request,
    q: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,  # as the order API: a larger one is a 422, never a 500
    from_text: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to_text: Annotated[str | None, Query(alias="to", max_length=20)] = None,
    campaign: Annotated[str | None, Query(max_length=200)] = None,
    negative: bool = False,
    missing: bool = False,
    status: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    date_from, date_to = _day(request, from_text), _day(request, to_text)  # the form sends "" when unset
    shops = settings_of(request).shops
    shop = shops[0] if shops else None  # its zone reads the dates; its attribution the campaign
    start, end = views.local_day_bounds(shop.timezone if shop else "UTC", date_from, date_to)
    filters = views.OrderFilters(
        created_from=start,
        created_before=end,
        campaign_id=campaign or None,
        negative_profit=negative,
        missing_cost=missing,
        status=status or None,
    )
    view = views.order_page(
        engine_of(request), shops=None, query=q, limit=50, offset=offset, filters=filters, shop=shop
    )
    keep = {
        "q": view.query or "",
        "from": date_from.isoformat() if date_from else "",
        "to": date_to.isoformat() if date_to else "",
        "campaign": campaign or "",
        "negative": "1" if negative else "",
        "missing": "1" if missing else "",
        "status": status or "",
    }
    return page(
        request,
        "orders.html",
        "/orders",
        view=view,
        keep=urlencode({k: v for k, v in keep.items() if v}),
        form={**keep, "negative": negative, "missing": missing},
        campaigns=views.campaign_choices(engine_of(request), shop) if shop else [],
        statuses=ORDER_STATUSES,
    )


@router.get("/orders/{shop_id}/{order_id}")
def order_page(request: Request, shop_id: str, order_id: str) -> Response:
    shop = settings_of(request).shop(shop_id)
    detail = views.order_detail(engine_of(request), shop_id, order_id, shop=shop, now=views.utcnow())
    if detail is None:
        raise HTTPException(404, f"no order {order_id} in shop {shop_id}")
    return page(request, "order.html", "/orders", o=detail, chart=waterfall_chart(detail.waterfall))


# ---------------------------------------------------------------- reports


def pick_shop(request: Request, shop: str | None) -> ShopConfig | None:
    s = settings_of(request)
    if shop:
        found = s.shop(shop)
        if found is None:
            raise HTTPException(404, f"no shop {shop!r} is configured")
        return found
    return s.shops[0] if s.shops else None


def _report(
    request: Request, shop: ShopConfig, by: By, date_from: date | None, date_to: date | None, **kw: Any
) -> views.ReportView:
    """The report; a bad date range is reported on the page and the default range shown instead."""
    try:
        return views.report_view(
            engine_of(request), shop, by=by, now=views.utcnow(), date_from=date_from, date_to=date_to, **kw
        )
    except (ValueError, OverflowError) as exc:
        flash(request, "error", str(exc).replace("--", ""))
        return views.report_view(engine_of(request), shop, by=by, now=views.utcnow(), **kw)


def campaign_chart(view: views.ReportView) -> dict[str, Any]:
    """ROAS and POAS (on the decision basis) per campaign as horizontal bars, break-even at POAS = 1."""
    rows = view.rows
    return {
        "type": "bar",
        "data": {
            "labels": [r.name for r in rows],
            "datasets": [
                {"label": "ROAS", "data": [plain(r.roas) for r in rows], "backgroundColor": "#9db4e8"},
                {
                    "label": _("POAS (%(basis)s)") % {"basis": _(view.basis_label)},
                    "data": [plain(r.poas_basis) for r in rows],
                    "backgroundColor": "#2457c5",
                },
            ],
        },
        "options": {"indexAxis": "y", "scales": {"x": {"beginAtZero": True}}},
        "valueFormat": "ratio",
        "breakEven": "1",
        "breakEvenAxis": "x",
        "breakEvenLabel": _("POAS = 1 (break-even)"),
    }


def daily_chart(view: views.ReportView) -> dict[str, Any]:
    rows = view.rows
    series = ((_("Spend"), "spend", "#9a6700"), (_("Gross profit"), "gross_profit", "#17803d"))
    return {
        "type": "line",
        "data": {
            "labels": [r.name for r in rows],
            "datasets": [
                {"label": label, "data": [plain(getattr(r, key)) for r in rows], "borderColor": color}
                for label, key, color in series
            ]
            + [
                {
                    "label": _("Expected profit"),
                    "data": [plain(r.expected_profit) for r in rows],
                    "borderColor": "#17803d",
                    "borderDash": [4, 4],
                }
            ],
        },
        "options": {"scales": {"y": {"beginAtZero": True}}},
    }


def _no_shop(request: Request, active: str) -> Response:
    flash(request, "warn", _("No shop is configured yet: add one to the config file (see Settings)."))
    return page(request, "settings_missing.html", active)


FromQ = Annotated[date | None, Query(alias="from")]
ToQ = Annotated[date | None, Query(alias="to")]


BasisQ = Annotated[Literal["expected", "gross"] | None, Query()]
SortQ = Annotated[str | None, Query(max_length=40)]
DirQ = Annotated[Literal["asc", "desc"], Query()]


def _sorting(sort: str | None, dir: str) -> tuple[str | None, bool]:
    return (sort if sort in views.SORT_KEYS else None), dir != "asc"


@router.get("/")
def overview_page(
    request: Request,
    date_from: FromQ = None,
    date_to: ToQ = None,
    shop: str | None = None,
    basis: BasisQ = None,
    sort: SortQ = None,
    dir: DirQ = "desc",
) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, "/")
    key, desc = _sorting(sort, dir)
    view = _report(request, cfg, "campaign", date_from, date_to, basis=basis, sort=key, descending=desc)
    daily = views.report_view(
        engine_of(request),
        cfg,
        by="day",
        now=views.utcnow(),
        date_from=view.date_from,
        date_to=view.date_to,
        basis=view.basis,
    )
    return page(
        request,
        "overview.html",
        "/",
        view=view,
        daily=daily,
        pnl=overview_view(engine_of(request), cfg, view),
        traps=[r for r in view.rows if r.revenue_trap],
        campaign_chart=campaign_chart(view),
        daily_chart=daily_chart(daily),
        shops=[s.id for s in settings_of(request).shops],
        sort=key,
        desc=desc,
        base_query=_query(view, basis),
        switch=_query(view, view.other_basis),
        action="/",
    )


def _query(view: views.ReportView, basis: str | None, by: str | None = None) -> str:
    """The page's query string without sorting (sort links and the basis switch add theirs)."""
    q = {"shop": view.shop_id, "from": str(view.date_from), "to": str(view.date_to)}
    if by:
        q = {"by": by, **q}
    if basis:
        q["basis"] = basis
    return urlencode(q)


@router.post("/spend/channels")
def channel_spend_save(
    request: Request,
    channel: Annotated[str, Form(max_length=200)] = "",
    month: Annotated[str, Form(max_length=20)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    rows: Annotated[str, Form(max_length=200_000)] = "",
    shop: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """Other channels' monthly spend: one figure from the form, or pasted `channel,month,amount` rows."""
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, "/")
    try:
        if rows.strip():
            items = channel_spend.parse_csv(rows)
        else:
            items = [
                channel_spend.MonthlySpend(
                    channel_spend.check_channel(channel),
                    channel_spend.parse_month(month),
                    channel_spend.parse_amount(amount),
                )
            ]
        n = channel_spend.save_monthly(engine_of(request), cfg, items, now=views.utcnow(), source="dashboard")
    except channel_spend.ChannelSpendError as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"{n} monthly figure(s) saved: blended POAS now divides by this spend too.")
    return RedirectResponse(f"/?shop={cfg.id}#other-spend", status_code=303)


@router.get("/glossary")
def glossary_page(request: Request) -> Response:
    return page(request, "glossary.html", "/glossary")


_LEVELS: list[tuple[By, str]] = [
    ("channel", N_("Channels")),
    ("campaign", N_("Campaigns")),
    ("adset", N_("Ad sets")),
    ("ad", N_("Ads")),
]
_SINGULAR = {"channel": N_("Channel"), "campaign": N_("Campaign"), "adset": N_("Ad set"), "ad": N_("Ad")}


def _report_page(
    request: Request,
    *,
    by: By,
    active: str,
    title: str,
    label: str,
    levels: list[tuple[By, str]] | None,
    shop: str | None,
    date_from: date | None,
    date_to: date | None,
    sort: str | None,
    dir: str,
    basis: str | None,
) -> Response:
    cfg = pick_shop(request, shop)
    if cfg is None:
        return _no_shop(request, active)
    key, desc = _sorting(sort, dir)
    view = _report(request, cfg, by, date_from, date_to, sort=key, descending=desc, basis=basis)
    return page(
        request,
        "report.html",
        active,
        view=view,
        title=_(title),
        label=_(label),
        levels=None if levels is None else [(lv, _(lb)) for lv, lb in levels],
        sort=key,
        desc=desc,
        base_query=_query(view, basis, by),
        switch=_query(view, view.other_basis, by),
        action=active,
        shops=[s.id for s in settings_of(request).shops],
    )


@router.get("/campaigns")
def campaigns_page(
    request: Request,
    by: Literal["channel", "campaign", "adset", "ad"] = "campaign",
    shop: str | None = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    sort: SortQ = None,
    dir: DirQ = "desc",
    basis: BasisQ = None,
) -> Response:
    label = _SINGULAR[by]
    return _report_page(
        request,
        by=by,
        active="/campaigns",
        title=dict(_LEVELS)[by],
        label=label,
        levels=_LEVELS,
        shop=shop,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        dir=dir,
        basis=basis,
    )


@router.get("/products")
def products_page(
    request: Request,
    shop: str | None = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    sort: SortQ = None,
    dir: DirQ = "desc",
    basis: BasisQ = None,
) -> Response:
    return _report_page(
        request,
        by="product",
        active="/products",
        title=N_("Products"),
        label=N_("Product"),
        levels=None,
        shop=shop,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        dir=dir,
        basis=basis,
    )


# ---------------------------------------------------------------- costs

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


async def save_upload(upload: UploadFile, folder: Path) -> Path:
    """Stream an upload to a file (bounded), so the CSV reader can stream it too."""
    path = folder / "upload.csv"
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise HTTPException(413, f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
            out.write(chunk)
    return path


def upload_name(upload: UploadFile) -> str:
    return Path(upload.filename or "upload.csv").name[:200] or "upload.csv"


# The Costs page is poas.web.costs_pages; Settings is poas.web.settings_pages.
