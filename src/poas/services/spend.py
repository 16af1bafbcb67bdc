"""Spend sync: pull Meta insights or read an Ads Manager export, upsert the rows, rebuild their days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select, tuple_

from poas.domain.money import Money
from poas.domain.report_rows import SpendRow
from poas.meta.insights import InsightsClient, InsightsError
from poas.services import sync_status
from poas.services.rollups import rebuild_days
from poas.services.spend_errors import SpendConfigError as SpendConfigError
from poas.services.spend_errors import SpendError as SpendError
from poas.services.spend_pull import pull_with_status
from poas.settings import Settings, ShopConfig
from poas.sources.ads_manager_csv import SpendFileError, read_ads_manager_csv
from poas.store.orders import upsert_insert
from poas.store.tables.spend import ad_spend

SYNC_DAYS = 7  # Meta keeps revising recent days (late conversions, billing): re-pull them every sync


@dataclass(frozen=True, slots=True)
class SpendResult:
    rows: int
    inserted: int
    updated: int
    days: tuple[date, ...] = field(default_factory=tuple)


def _values(shop_id: str, row: SpendRow, source: str, now: datetime) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "account_id": row.account_id,
        "row_key": row.row_key,
        "day": row.day,
        "campaign_id": row.campaign_id,
        "campaign_name": row.campaign_name,
        "adset_id": row.adset_id,
        "adset_name": row.adset_name,
        "ad_id": row.ad_id,
        "ad_name": row.ad_name,
        "currency": row.currency,
        "spend_minor": Money(row.spend, row.currency).minor_units(),
        "impressions": row.impressions,
        "clicks": row.clicks,
        "meta_purchases": row.meta_purchases,
        "meta_purchase_value_minor": Money(row.meta_purchase_value, row.currency).minor_units(),
        "source": source,
        "fetched_at": now,
        "channel": row.channel,
    }


def upsert_spend(
    conn: Connection, shop_id: str, rows: Iterable[SpendRow], *, source: str, now: datetime
) -> SpendResult:
    """Insert or replace rows by (shop, account, ad, day); a re-sync never duplicates."""
    values = {}
    for row in rows:  # the last row for a key wins, as in the file/API order
        v = _values(shop_id, row, source, now)
        values[(v["account_id"], v["row_key"], v["day"])] = v
    if not values:
        return SpendResult(0, 0, 0)
    keys = list(values)
    existing: set[tuple[str, str, date]] = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        found = conn.execute(
            select(ad_spend.c.account_id, ad_spend.c.row_key, ad_spend.c.day).where(
                ad_spend.c.shop_id == shop_id,
                tuple_(ad_spend.c.account_id, ad_spend.c.row_key, ad_spend.c.day).in_(chunk),
            )
        )
        existing.update((r.account_id, r.row_key, r.day) for r in found)
    stmt = upsert_insert(conn, ad_spend)
    update_cols = {
        c.name: stmt.excluded[c.name]
        for c in ad_spend.columns
        if c.name not in ("id", "shop_id", "account_id")
    }
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_id", "account_id", "row_key", "day"], set_=update_cols
    )
    batch = list(values.values())
    for i in range(0, len(batch), 1000):
        conn.execute(stmt, batch[i : i + 1000])
    days = tuple(sorted({k[2] for k in keys}))
    return SpendResult(len(values), len(values) - len(existing), len(existing), days)


def shop_today(shop: ShopConfig, now: datetime) -> date:
    return now.astimezone(ZoneInfo(shop.timezone)).date()


def insights_client(settings: Settings, shop: ShopConfig) -> InsightsClient:
    if shop.access_token is None:
        raise SpendConfigError(
            f"shop {shop.id}: no access_token (set POAS_SHOP_{shop.id.upper()}_ACCESS_TOKEN)"
        )
    return InsightsClient(
        base_url=settings.graph_base_url,
        version=settings.graph_version,
        access_token=shop.access_token.get_secret_value(),
        app_secret=shop.app_secret.get_secret_value() if shop.app_secret else None,
        timeout_s=max(settings.graph_timeout_s, 30.0),
    )


def sync_spend(
    engine: Engine,
    settings: Settings,
    shop: ShopConfig,
    *,
    now: datetime,
    since: date | None = None,
    until: date | None = None,
    client: InsightsClient | None = None,
) -> SpendResult:
    """Pull daily ad-level insights (default: the last 7 days through today) and upsert them.

    A run whose days reach yesterday or later is the recurring sync: its success or failure is recorded
    (services.sync_status), so a sync that stopped succeeding is alerted. A backfill of older days alone
    and a shop that lacks what a sync needs record nothing."""
    if not shop.ad_account_id:
        raise SpendConfigError(f"shop {shop.id}: no ad_account_id configured")
    until = until or shop_today(shop, now)
    since = since or until - timedelta(days=SYNC_DAYS)
    if since > until:
        raise SpendConfigError(f"--since {since} is after --until {until}")
    account = shop.ad_account_id

    def store(rows: list[SpendRow]) -> SpendResult:
        with engine.begin() as conn:
            result = upsert_spend(conn, shop.id, rows, source="insights", now=now)
        rebuild_days(engine, shop, result.days, now=now)
        return result

    return pull_with_status(
        engine,
        sync_status.SPEND,
        shop.id,
        client=client,
        open_client=lambda: insights_client(settings, shop),
        fetch=lambda c: c.fetch(account, since, until),
        api_error=InsightsError,
        store=store,
        now=now,
        record=until >= shop_today(shop, now) - timedelta(days=1),
    )


def import_spend_file(
    engine: Engine, shop: ShopConfig, path: Path, *, now: datetime, account: str | None = None
) -> SpendResult:
    """Read an Ads Manager export (daily breakdown) and upsert its rows (none when it has a bad row)."""
    try:
        rows = read_ads_manager_csv(
            path, default_account=account or shop.ad_account_id, default_currency=shop.currency
        )
        with engine.begin() as conn:
            result = upsert_spend(conn, shop.id, rows, source="csv", now=now)
    except SpendFileError as exc:
        raise SpendError(str(exc)) from exc
    rebuild_days(engine, shop, result.days, now=now)
    return result
