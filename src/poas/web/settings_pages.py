"""The Settings page: the running configuration (secrets masked), whether each shop is live or in
Meta's test mode, and the few shop settings that may be changed here (stored in the database with an
audit row, applied over poas.toml by the web, the worker and the CLI: services.settings_overrides)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from poas.services import alerts, views
from poas.services import settings_overrides as overrides
from poas.services.admin_sessions import id_hash
from poas.services.database import database_label
from poas.settings import Settings, ShopConfig, mask
from poas.web.auth import AuthConfig, check_csrf, require_admin
from poas.web.dashboard import flash, page, web_access
from poas.web.effective_settings import apply_settings, settings_of
from poas.web.i18n import N_
from poas.web.i18n import gettext as _

router = APIRouter(
    include_in_schema=False,
    dependencies=[Depends(require_admin), Depends(check_csrf), Depends(apply_settings)],
    default_response_class=HTMLResponse,
)


def changed_by(request: Request) -> str:
    """Who made a change, as the audit keeps it: the admin session's handle (never its id)."""
    sid = request.session.get("sid")
    handle = id_hash(sid)[:12] if isinstance(sid, str) else "unknown"
    return f"dashboard admin session {handle}"


def _plain(value: Any) -> str:
    return "none" if value is None else str(getattr(value, "value", value))


def _shown(value: Any) -> str:
    return "as poas.toml says" if value is None else str(value)


def _editable_rows(base: ShopConfig, effective: ShopConfig, stored: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for e in overrides.editable():
        file_value = getattr(base, e.key)
        rows.append(
            {
                "key": e.key,
                "label": e.label,
                "help": e.help,
                "choices": e.choices,
                "value": getattr(effective, e.key),
                "file_value": "–" if file_value is None else getattr(file_value, "value", file_value),
                "overridden": e.key in stored,
                "input": "" if e.key not in stored else str(stored[e.key]),
            }
        )
    return rows


@router.get("/settings")
def settings_page(request: Request) -> Response:
    base: Settings = request.app.state.settings
    s = settings_of(request)
    engine = request.app.state.engine
    with engine.connect() as conn:
        stored = overrides.load_overrides(conn)
    consent = {c.shop_id: c for c in views.consent_summaries(engine, s.shops, now=views.utcnow())}
    shops = []
    for shop in s.shops:
        base_shop = base.shop(shop.id) or shop
        shops.append(
            {
                "id": shop.id,
                "platform": shop.platform,
                "domain": shop.domain or "–",
                "currency": shop.currency,
                "timezone": shop.timezone,
                "pixel_id": shop.pixel_id or "–",
                "access_token": mask(shop.access_token),
                "app_secret": mask(shop.app_secret),
                "api_token": mask(shop.api_token),
                "webhook_secrets": len(shop.webhook_secrets),
                "ad_account_id": shop.ad_account_id or "–",
                "test_event_code": shop.events.test_event_code,
                "consent_source": consent[shop.id].source,
                "consent_signals": consent[shop.id].share_text,
                "missing_cost": shop.missing_cost.value,
                "value_basis": shop.events.value_basis.value,
                "purchase_topic": shop.events.purchase_topic,
                "editable": _editable_rows(base_shop, shop, stored.get(shop.id, {})),
                "changes": overrides.changes(engine, shop.id, limit=20),
            }
        )
    general = {
        N_("Database"): database_label(s.resolved_database_url()),
        N_("Graph API"): f"{s.graph_base_url} ({s.graph_version})",
        N_("Config file"): str(s.config_path()),
    }
    auth: AuthConfig = request.app.state.auth
    web = web_access(s, auth, request.url.scheme)
    return page(
        request,
        "settings.html",
        "/settings",
        shops=shops,
        general=general,
        web=web,
        alerts=alerts.settings_facts(s),
        alerts_on=s.alert_webhook_url is not None,
        shown=_shown,
    )


@router.post("/settings/shop")
def settings_change(
    request: Request,
    shop: Annotated[str, Form(max_length=100)],
    key: Annotated[str, Form(max_length=100)],
    value: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    base: Settings = request.app.state.settings
    base_shop = base.shop(shop)
    if base_shop is None:
        raise HTTPException(404, f"no shop {shop[:40]!r} is configured")
    try:
        change = overrides.set_setting(
            request.app.state.engine, base_shop, key, value, by=changed_by(request), now=datetime.now(UTC)
        )
    except overrides.SettingError as exc:
        flash(request, "error", _("%(shop)s: %(problem)s (nothing changed)") % {"shop": shop, "problem": exc})
    else:
        file_value = _plain(getattr(base_shop, key))
        from_file = _("poas.toml's %(value)s") % {"value": file_value}
        if change is None:
            same = _("%(shop)s: %(key)s is already %(value)s; nothing changed.")
            flash(request, "warn", same % {"shop": shop, "key": key, "value": value or from_file})
        else:
            old = from_file if change.old_value is None else _plain(change.old_value)
            new = from_file if change.new_value is None else _plain(change.new_value)
            text = _(
                "%(shop)s: %(key)s changed from %(old)s to %(new)s. The web, the worker and the CLI use it "
                "from their next request or pass."
            )
            flash(request, "ok", text % {"shop": shop, "key": key, "old": old, "new": new})
    return RedirectResponse(f"/settings#shop-{shop}", status_code=303)
