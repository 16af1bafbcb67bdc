"""`poas connect meta SHOP`: read the shop's dataset (pixel) and ad account with its token and say
what is usable: names, the ad account's currency and timezone against the shop's, the account status,
and which permission is missing."""

from __future__ import annotations

import httpx

from poas.meta.errors import CapiError, Disposition
from poas.meta.graph_objects import GraphObjectReader
from poas.services.doctor import Check, Level
from poas.settings import Settings, ShopConfig

# Ad account `account_status` values in the Marketing API reference.
ACCOUNT_STATUS = {
    1: "ACTIVE",
    2: "DISABLED",
    3: "UNSETTLED",
    7: "PENDING_RISK_REVIEW",
    8: "PENDING_SETTLEMENT",
    9: "IN_GRACE_PERIOD",
    100: "PENDING_CLOSURE",
    101: "CLOSED",
    201: "ANY_ACTIVE",
    202: "ANY_CLOSED",
}
_TOKEN_FIX = "set POAS_SHOP_{id}_ACCESS_TOKEN to a system-user token of the business that owns them"


def _env_id(shop: ShopConfig) -> str:
    return shop.id.upper().replace("-", "_").replace(".", "_")


def _error_check(name: str, what: str, exc: CapiError, shop: ShopConfig) -> Check:
    """A failed read, said as what to fix."""
    token_fix = _TOKEN_FIX.format(id=_env_id(shop))
    if exc.code == 190:
        return Check(name, Level.FAIL, f"the access token was refused (code 190): {exc.message}", token_fix)
    if exc.code == 10 or (exc.code is not None and 200 <= exc.code < 300):
        return Check(
            name,
            Level.FAIL,
            f"missing permission reading {what} (code {exc.code}): {exc.message}",
            "give the token ads_read (spend) and ads_management (events), and assign the asset to "
            "its system user in Business Settings",
        )
    if exc.code == 100 and exc.subcode == 33:
        return Check(
            name,
            Level.FAIL,
            f"{what} is unknown to Meta or not shared with this token (code 100/33)",
            f"check the id in Events Manager / Ads Manager; {token_fix}",
        )
    if exc.disposition in (Disposition.RETRY, Disposition.THROTTLE):
        return Check(
            name, Level.FAIL, f"reading {what} failed for now: {exc.describe()}", "try again shortly"
        )
    return Check(name, Level.FAIL, f"reading {what} failed: {exc.describe()}", "")


def _pixel_checks(reader: GraphObjectReader, shop: ShopConfig, pixel_id: str) -> list[Check]:
    name = "dataset"
    try:
        pixel = reader.pixel(pixel_id)
    except CapiError as exc:
        return [_error_check(name, f"dataset {pixel_id}", exc, shop)]
    label = f"{pixel.get('name') or '(no name)'} ({pixel['id']})"
    if pixel.get("is_unavailable"):
        return [Check(name, Level.FAIL, f"{label} is unavailable", "pick another dataset in Events Manager")]
    fired = pixel.get("last_fired_time")
    if not fired:
        return [
            Check(
                name,
                Level.WARN,
                f"{label}: readable, but the browser Pixel never fired",
                "install the Pixel on the shop: deduplication needs its eventID beside ours",
            )
        ]
    return [Check(name, Level.OK, f"{label}: readable, last fired {fired}")]


def _account_checks(reader: GraphObjectReader, shop: ShopConfig, account_id: str) -> list[Check]:
    name = "ad account"
    try:
        account = reader.ad_account(account_id)
    except CapiError as exc:
        return [_error_check(name, f"ad account {account_id}", exc, shop)]
    label = f"{account.get('name') or '(no name)'} ({account['id']})"
    checks: list[Check] = []
    status = account.get("account_status")
    status_name = ACCOUNT_STATUS.get(status, str(status)) if isinstance(status, int) else str(status)
    if status == 1:
        checks.append(Check(name, Level.OK, f"{label}: {status_name}"))
    else:
        checks.append(
            Check(
                name,
                Level.WARN,
                f"{label}: status {status_name}; ads may not run",
                "settle or reactivate the account in Ads Manager",
            )
        )
    currency = str(account.get("currency") or "")
    if currency and currency != shop.currency:
        checks.append(
            Check(
                "currency",
                Level.WARN,
                f"the ad account spends in {currency}, the shop sells in {shop.currency}",
                f"poas converts spend with exchange rates: keep {currency} rates current (docs/fx.md)",
            )
        )
    elif currency:
        checks.append(Check("currency", Level.OK, f"ad account and shop both in {currency}"))
    tz = str(account.get("timezone_name") or "")
    if tz and tz != shop.timezone:
        checks.append(
            Check(
                "timezone",
                Level.WARN,
                f"the ad account's days are in {tz}, the shop's in {shop.timezone}",
                "daily spend and daily orders are cut at different midnights: set the shop's timezone "
                f"to {tz} in poas.toml if reports should line up day by day",
            )
        )
    elif tz:
        checks.append(Check("timezone", Level.OK, f"ad account and shop both on {tz}"))
    return checks


def connect_meta(settings: Settings, shop: ShopConfig, *, http: httpx.Client | None = None) -> list[Check]:
    """What is usable of the shop's Meta setup, read live; every problem is a FAIL or WARN with a fix."""
    env = _env_id(shop)
    checks: list[Check] = []
    if shop.access_token is None:
        return [
            Check(
                "token",
                Level.FAIL,
                f"shop {shop.id} has no Meta access token",
                f"set POAS_SHOP_{env}_ACCESS_TOKEN (or access_token_file in poas.toml)",
            )
        ]
    reader = GraphObjectReader(
        base_url=settings.graph_base_url,
        version=settings.graph_version,
        access_token=shop.access_token.get_secret_value(),
        app_secret=shop.app_secret.get_secret_value() if shop.app_secret else None,
        timeout_s=settings.graph_timeout_s,
        http=http,
    )
    with reader:
        if shop.pixel_id:
            checks += _pixel_checks(reader, shop, shop.pixel_id)
        else:
            checks.append(Check("dataset", Level.FAIL, "no pixel_id", f"set pixel_id for shop {shop.id}"))
        if shop.ad_account_id:
            checks += _account_checks(reader, shop, shop.ad_account_id)
        else:
            checks.append(
                Check(
                    "ad account",
                    Level.WARN,
                    "no ad_account_id: no spend is synced, so no ROAS / POAS",
                    f"set ad_account_id (act_…) for shop {shop.id}",
                )
            )
    return checks
