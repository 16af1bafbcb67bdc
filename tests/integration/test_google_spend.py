"""Google spend over real HTTP against the package's Google Ads sandbox (both engines): paging, a token
refresh, quota retried, auth errors as one line naming the fix; Ads UI exports; one source per day;
the monthly Google figure not counted twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from poas.domain.fx import FxRate
from poas.google.ads_search import GoogleAdsClient
from poas.google.sandbox_ads import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    Account,
    CostRow,
    RunningGoogleAds,
    run_google_ads_sandbox,
)
from poas.services import sync_status
from poas.services.channel_spend import MonthlySpend, save_monthly, spend_between
from poas.services.google_spend import google_ads_client, import_google_spend_file, sync_google_spend
from poas.services.spend import SpendConfigError, SpendError
from poas.settings import Settings, ShopConfig
from poas.store import syncs
from poas.store.costs import save_fx_rates
from poas.store.orders import ensure_shop
from poas.store.tables.spend import ad_spend, rollup_daily

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "google_ads"
NOW = datetime(2026, 11, 8, 6, 0, tzinfo=UTC)
D = Decimal
CID, MANAGER = "1234567890", "9876543210"


def shop(**extra: object) -> ShopConfig:
    base: dict[str, object] = {
        "id": "g1",
        "currency": "NOK",
        "google_ads_customer_id": "123-456-7890",
        "google_ads_client_id": CLIENT_ID,
        "google_ads_client_secret": SecretStr(CLIENT_SECRET),
        "google_ads_refresh_token": SecretStr(REFRESH_TOKEN),
    }
    return ShopConfig.model_validate({**base, **extra})


def cost_rows() -> list[CostRow]:
    """Five days × (two ad groups of one search campaign + a Performance Max campaign)."""
    out = []
    for i in range(5):
        day = date(2026, 11, 2) + timedelta(days=i)
        out.append(CostRow(day, "111", "Søk – merkevare", 100_000_000, "501", "Merkevare eksakt"))
        out.append(CostRow(day, "111", "Søk – merkevare", 25_500_000, "502", "Merkevare frase"))
        out.append(CostRow(day, "222", "PMax – alle", 40_250_000))  # no ad group
    return out


@pytest.fixture
def sandbox() -> Iterator[RunningGoogleAds]:
    with run_google_ads_sandbox() as sb:
        sb.state.page_size = 4  # 10 ad-group rows → 3 pages; 10 campaign rows → 3 pages
        sb.state.add_account(Account(CID, "NOK", None, cost_rows()))
        yield sb


def settings_for(sb: RunningGoogleAds) -> Settings:
    return Settings(google_ads_api_url=sb.url, google_ads_token_url=f"{sb.url}/token")


def client_for(sb: RunningGoogleAds, cfg: ShopConfig, waits: list[float]) -> GoogleAdsClient:
    client = google_ads_client(settings_for(sb), cfg)
    client.sleep = waits.append  # no real waiting; what Google asked for is recorded
    return client


def stored(engine: Engine) -> list[tuple[date, str, int, str, str]]:
    sp = ad_spend.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(sp.day, sp.row_key, sp.spend_minor, sp.channel, sp.source).order_by(sp.day, sp.row_key)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def shop_spend(engine: Engine, day: date) -> int | None:
    rd = rollup_daily.c
    with engine.connect() as conn:
        value: int | None = conn.execute(
            select(rd.spend_minor).where(rd.shop_id == "g1", rd.level == "shop", rd.day == day)
        ).scalar()
    return value


def sync_row(engine: Engine) -> syncs.SyncRow:
    with engine.connect() as conn:
        return syncs.load(conn)[(sync_status.GOOGLE_SPEND, "g1")]


def _ready(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "g1", "NOK", True, NOW)


def test_sync_pages_through_and_stores_google_rows(engine: Engine, sandbox: RunningGoogleAds) -> None:
    _ready(engine)
    cfg, waits = shop(), []
    client = client_for(sandbox, cfg, waits)
    result = sync_google_spend(
        engine, settings_for(sandbox), cfg, now=NOW, since=date(2026, 11, 1), client=client
    )
    assert (result.rows, result.inserted, result.updated) == (15, 15, 0)
    calls = sandbox.state.calls
    assert len(calls) == 6 and [bool(c["page_token"]) for c in calls] == [False, True, True] * 2
    assert all(c["version"] == "v26" and c["customer_id"] == CID for c in calls)
    day = date(2026, 11, 2)
    assert [r for r in stored(engine) if r[0] == day] == [
        (day, "adgroup:501", 10000, "google", "google_ads"),
        (day, "adgroup:502", 2550, "google", "google_ads"),
        (day, "campaign:222", 4025, "google", "google_ads"),  # PMax: the campaign beyond its ad groups
    ]
    assert shop_spend(engine, day) == 10000 + 2550 + 4025
    again = sync_google_spend(
        engine, settings_for(sandbox), cfg, now=NOW, since=date(2026, 11, 1), client=client
    )
    assert (again.inserted, again.updated) == (0, 15) and len(stored(engine)) == 15
    status = sync_row(engine)
    assert status.last_error is None and status.last_success_at is not None


def test_expired_token_is_refreshed_and_quota_retried(engine: Engine, sandbox: RunningGoogleAds) -> None:
    _ready(engine)
    cfg, waits = shop(), []
    client = client_for(sandbox, cfg, waits)
    sandbox.state.add_fault("quota", count=1, retry_delay_s=7)
    sandbox.state.add_fault("token_expired", count=1)  # the second request finds its token gone
    result = sync_google_spend(
        engine, settings_for(sandbox), cfg, now=NOW, since=date(2026, 11, 1), client=client
    )
    assert result.rows == 15  # nothing lost to either
    assert waits == [7.0]  # Google's retryDelay, honoured once
    assert client.refreshes == 2  # the first token, then a fresh one after UNAUTHENTICATED
    assert len(sandbox.state.calls) == 8  # 6 pages + the quota answer + the refused token


def test_quota_that_does_not_pass_fails_with_one_line(engine: Engine, sandbox: RunningGoogleAds) -> None:
    _ready(engine)
    cfg, waits = shop(), []
    sandbox.state.add_fault("quota", count=10, retry_delay_s=2)
    with pytest.raises(SpendError) as err:
        sync_google_spend(engine, settings_for(sandbox), cfg, now=NOW, client=client_for(sandbox, cfg, waits))
    assert waits == [2.0, 2.0, 2.0]  # four attempts in all
    message = str(err.value)
    assert "\n" not in message and "quotaError.RESOURCE_TEMPORARILY_EXHAUSTED" in message
    assert stored(engine) == []


def test_revoked_refresh_token_is_one_line_naming_the_setting(
    engine: Engine, sandbox: RunningGoogleAds
) -> None:
    _ready(engine)
    sandbox.state.revoke()
    with pytest.raises(SpendError) as err:
        sync_google_spend(engine, settings_for(sandbox), shop(), now=NOW)
    message = str(err.value)
    assert message == (
        "Google OAuth: invalid_grant: the refresh token is expired or revoked: create a new "
        "google_ads_refresh_token"
    )
    assert REFRESH_TOKEN not in message and CLIENT_SECRET not in message
    status = sync_row(engine)
    assert status.last_error and "invalid_grant" in status.last_error


def test_manager_account_needs_login_customer_id(engine: Engine, sandbox: RunningGoogleAds) -> None:
    _ready(engine)
    sandbox.state.add_account(Account(CID, "NOK", MANAGER, cost_rows()))
    with pytest.raises(SpendError) as err:
        sync_google_spend(engine, settings_for(sandbox), shop(), now=NOW)
    assert "authorizationError.USER_PERMISSION_DENIED" in str(err.value)
    assert "set google_ads_login_customer_id to the manager's id" in str(err.value)
    result = sync_google_spend(
        engine, settings_for(sandbox), shop(google_ads_login_customer_id="987-654-3210"), now=NOW
    )
    assert result.rows == 15
    assert sandbox.state.calls[-1]["login_customer_id"] == MANAGER


def test_missing_credentials_name_what_to_set(engine: Engine, sandbox: RunningGoogleAds) -> None:
    with pytest.raises(SpendConfigError, match="no google_ads_refresh_token"):
        sync_google_spend(engine, settings_for(sandbox), shop(google_ads_refresh_token=None), now=NOW)
    with pytest.raises(SpendConfigError, match="no google_ads_customer_id"):
        sync_google_spend(engine, settings_for(sandbox), shop(google_ads_customer_id=""), now=NOW)


def test_account_in_another_currency_is_converted_in_the_rollups(
    engine: Engine, sandbox: RunningGoogleAds
) -> None:
    _ready(engine)
    sandbox.state.add_account(Account(CID, "EUR", None, cost_rows()))
    with engine.begin() as conn:
        save_fx_rates(conn, [FxRate.of("EUR", "NOK", "11.5", date(2026, 10, 30))], now=NOW)
    sync_google_spend(engine, settings_for(sandbox), shop(), now=NOW, since=date(2026, 11, 1))
    day = date(2026, 11, 2)
    assert {r[3] for r in stored(engine)} == {"google"}
    # each row converted at 11.5 and rounded like Meta's: 1 150.00 + 293.25 + 462.88 (462.875, half-even)
    assert shop_spend(engine, day) == 115000 + 29325 + 46288


@pytest.mark.parametrize("name", ["ad_group_report_en.csv", "ad_group_report_no.csv"])
def test_import_ads_ui_export(engine: Engine, name: str) -> None:
    _ready(engine)
    result = import_google_spend_file(engine, shop(), FIXTURES / name, now=NOW)
    assert (result.rows, result.inserted) == (4, 4)
    assert shop_spend(engine, date(2026, 11, 3)) == 123450 + 25000
    rows = stored(engine)
    assert {(r[3], r[4]) for r in rows} == {("google", "csv")}


def test_import_bad_row_is_named_and_nothing_stored(engine: Engine) -> None:
    _ready(engine)
    with pytest.raises(SpendError, match=r"campaign_report_no_bad.csv line 5, column 'Kostnad'"):
        import_google_spend_file(engine, shop(), FIXTURES / "campaign_report_no_bad.csv", now=NOW)
    assert stored(engine) == []


def test_one_source_per_day(engine: Engine, sandbox: RunningGoogleAds) -> None:
    """The API's rows replace an export's for the days they cover; an export of synced days is refused."""
    _ready(engine)
    import_google_spend_file(engine, shop(), FIXTURES / "ad_group_report_en.csv", now=NOW)
    sync_google_spend(
        engine, settings_for(sandbox), shop(), now=NOW, since=date(2026, 11, 2), until=date(2026, 11, 6)
    )
    assert {r[4] for r in stored(engine)} == {"google_ads"}
    assert shop_spend(engine, date(2026, 11, 3)) == 16575  # the API's figure alone, not both
    with pytest.raises(SpendError, match="2026-11-03 of account 1234567890 is already synced"):
        import_google_spend_file(engine, shop(), FIXTURES / "ad_group_report_no.csv", now=NOW)


def test_google_rows_replace_the_monthly_google_figure(engine: Engine, sandbox: RunningGoogleAds) -> None:
    _ready(engine)
    cfg = shop()
    october, november = date(2026, 10, 1), date(2026, 11, 1)
    save_monthly(
        engine,
        cfg,
        [
            MonthlySpend("Google Ads", october, D("3100")),
            MonthlySpend("Google Ads", november, D("3000")),
            MonthlySpend("TikTok", november, D("300")),
        ],
        now=NOW,
        source="test",
    )
    assert spend_between(engine, cfg, date(2026, 10, 31), date(2026, 11, 1)) == {
        "Google Ads": D("200.00"),  # 100 of October's + 100 of November's
        "TikTok": D("10.00"),
    }
    sync_google_spend(engine, settings_for(sandbox), cfg, now=NOW, since=date(2026, 11, 1))
    # November has Google rows now: its entered figure is no longer counted; October's still is
    assert spend_between(engine, cfg, date(2026, 10, 31), date(2026, 11, 1)) == {
        "Google Ads": D("100.00"),
        "TikTok": D("10.00"),
    }
    assert spend_between(engine, cfg, november, date(2026, 11, 30)) == {"TikTok": D("300.00")}


def test_oauth_client_of_the_google_destinations_is_used_when_spend_has_none(
    engine: Engine, sandbox: RunningGoogleAds
) -> None:
    """One OAuth client for both: `[shops.google]` (Data Manager) lends its credentials and account."""
    _ready(engine)
    cfg = ShopConfig.model_validate(
        {
            "id": "g1",
            "currency": "NOK",
            "google": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
                "conversion_actions": [{"customer_id": "123-456-7890", "conversion_action_id": "777"}],
            },
        }
    )
    result = sync_google_spend(engine, settings_for(sandbox), cfg, now=NOW, since=date(2026, 11, 1))
    assert result.rows == 15
    assert {c["customer_id"] for c in sandbox.state.calls} == {CID}
