"""Google Ads spend: pull it from the Google Ads API or read an Ads UI export, stored as channel `google`.

One source counts per Google account and day: a sync (the API) replaces the rows an export gave for
the days it covers, and an export's day that the API already gave is refused, so nothing is counted
twice. Rows are in the account's currency (`customer.currency_code`) and converted to the shop's in
the rollups like Meta's. When a month has Google rows, the monthly Google figure entered by hand in
`channel_spend` is left out of that month (services.channel_spend.spend_between).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, select

from poas.domain.report_rows import SpendRow
from poas.google.ads_errors import GoogleAdsError
from poas.google.ads_search import GoogleAdsClient, GoogleAdsCredentials, customer_digits
from poas.services import sync_status
from poas.services.rollups import rebuild_days
from poas.services.spend import SYNC_DAYS, SpendConfigError, SpendError, SpendResult, shop_today, upsert_spend
from poas.services.spend_pull import pull_with_status
from poas.settings import Settings, ShopConfig
from poas.sources.ads_manager_csv import SpendFileError
from poas.sources.google_ads_csv import read_google_ads_csv
from poas.store.tables.spend import ad_spend

GOOGLE = "google"
API_SOURCE = "google_ads"


def _account(shop: ShopConfig, account: str | None = None) -> str:
    actions = shop.google.conversion_actions
    raw = account or shop.google_ads_customer_id or (actions[0].customer_id if actions else "")
    if not raw:
        raise SpendConfigError(
            f"shop {shop.id}: no google_ads_customer_id configured (the Google Ads account, 123-456-7890)"
        )
    try:
        return customer_digits(raw)
    except GoogleAdsError as exc:
        raise SpendConfigError(f"shop {shop.id}: google_ads_customer_id: {exc}") from None


def google_ads_client(settings: Settings, shop: ShopConfig) -> GoogleAdsClient:
    """A client with the shop's Google Ads OAuth settings; each one not set falls back to the OAuth
    client of the shop's Google destinations (`[shops.google]`), whose refresh token then needs the
    `adwords` scope beside Data Manager's."""
    sid = shop.id.upper().replace("-", "_").replace(".", "_")
    g = shop.google
    client_id = shop.google_ads_client_id or g.client_id
    secret = shop.google_ads_client_secret or g.client_secret
    refresh = shop.google_ads_refresh_token or g.refresh_token
    missing = [
        name
        for name, value in (
            ("google_ads_client_id", client_id),
            ("google_ads_client_secret", secret),
            ("google_ads_refresh_token", refresh),
        )
        if not value
    ]
    if missing or secret is None or refresh is None:
        raise SpendConfigError(
            f"shop {shop.id}: no {', '.join(missing)} (set them in the shop's config, secrets as "
            f"POAS_SHOP_{sid}_<NAME>; docs/google.md#spend)"
        )
    credentials = GoogleAdsCredentials(
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        refresh_token=refresh.get_secret_value(),
        developer_token=(
            shop.google_ads_developer_token.get_secret_value() if shop.google_ads_developer_token else None
        ),
        login_customer_id=shop.google_ads_login_customer_id or g.login_customer_id or None,
    )
    return GoogleAdsClient(
        credentials,
        base_url=settings.google_ads_api_url,
        version=settings.google_ads_api_version,
        token_url=settings.google_ads_token_url,
    )


def sync_google_spend(
    engine: Engine,
    settings: Settings,
    shop: ShopConfig,
    *,
    now: datetime,
    since: date | None = None,
    until: date | None = None,
    client: GoogleAdsClient | None = None,
) -> SpendResult:
    """Pull daily cost per ad group (default: the last 7 days through today) and upsert it.

    As the Meta sync, a run reaching yesterday is the recurring one and its outcome is recorded
    (sync kind `google_spend`)."""
    account = _account(shop)
    until = until or shop_today(shop, now)
    since = since or until - timedelta(days=SYNC_DAYS)
    if since > until:
        raise SpendConfigError(f"--since {since} is after --until {until}")
    sp = ad_spend.c

    def store(rows: list[SpendRow]) -> SpendResult:
        with engine.begin() as conn:
            in_range = (sp.shop_id == shop.id, sp.account_id == account, sp.day >= since, sp.day <= until)
            replaced = {
                r[0]
                for r in conn.execute(
                    select(sp.day).where(*in_range, sp.channel == GOOGLE, sp.source != API_SOURCE).distinct()
                )
            }
            conn.execute(delete(ad_spend).where(*in_range, sp.channel == GOOGLE, sp.source != API_SOURCE))
            result = upsert_spend(conn, shop.id, rows, source=API_SOURCE, now=now)
        days = tuple(sorted(set(result.days) | replaced))
        rebuild_days(engine, shop, days, now=now)
        return SpendResult(result.rows, result.inserted, result.updated, days)

    return pull_with_status(
        engine,
        sync_status.GOOGLE_SPEND,
        shop.id,
        client=client,
        open_client=lambda: google_ads_client(settings, shop),
        fetch=lambda c: c.fetch_spend(account, since, until),
        api_error=GoogleAdsError,
        store=store,
        now=now,
        record=until >= shop_today(shop, now) - timedelta(days=1),
    )


def import_google_spend_file(
    engine: Engine, shop: ShopConfig, path: Path, *, now: datetime, account: str | None = None
) -> SpendResult:
    """Read a Google Ads UI report export and upsert its rows (none when it has a bad row)."""
    cid = _account(shop, account)
    try:
        rows = read_google_ads_csv(path, account=cid, default_currency=shop.currency)
    except SpendFileError as exc:
        raise SpendError(str(exc)) from exc
    days = sorted({r.day for r in rows})
    sp = ad_spend.c
    with engine.begin() as conn:
        if days:
            synced = sorted(
                set(days).intersection(
                    r[0]
                    for r in conn.execute(
                        select(sp.day)
                        .where(
                            sp.shop_id == shop.id,
                            sp.account_id == cid,
                            sp.channel == GOOGLE,
                            sp.source == API_SOURCE,
                            sp.day >= days[0],
                            sp.day <= days[-1],
                        )
                        .distinct()
                    )
                )
            )
            if synced:
                raise SpendError(
                    f"{path.name}: {synced[0]} of account {cid} is already synced from the Google Ads API "
                    "(poas spend sync --channel google); the API's figures are kept, nothing imported"
                )
        result = upsert_spend(conn, shop.id, rows, source="csv", now=now)
    rebuild_days(engine, shop, result.days, now=now)
    return result
