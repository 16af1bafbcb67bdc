"""`poas spend sync --channel google` and `poas import spend --channel google` end to end (both engines)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_google_spend import CID, FIXTURES, cost_rows
from test_sandbox_commands import serving
from typer.testing import CliRunner

from poas.cli import app as cli_app
from poas.cli.app import settings, store
from poas.google.sandbox_ads import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    Account,
    RunningGoogleAds,
    run_google_ads_sandbox,
)


@pytest.fixture
def cli_shop(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGoogleAds]:
    """A configured shop (Meta and Google) on either engine, its Google account in a running sandbox."""
    with run_google_ads_sandbox() as sb:
        sb.state.page_size = 4
        sb.state.add_account(Account(CID, "NOK", None, cost_rows()))
        config = tmp_path / "poas.toml"
        config.write_text(
            '[[shops]]\nid = "g1"\ncurrency = "NOK"\nad_account_id = "act_1234567890"\n'
            f'google_ads_customer_id = "123-456-7890"\ngoogle_ads_client_id = "{CLIENT_ID}"\n'
        )
        monkeypatch.setenv("POAS_SHOP_G1_GOOGLE_ADS_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("POAS_SHOP_G1_GOOGLE_ADS_REFRESH_TOKEN", REFRESH_TOKEN)
        monkeypatch.setenv("POAS_GOOGLE_ADS_API_URL", sb.url)
        monkeypatch.setenv("POAS_GOOGLE_ADS_TOKEN_URL", f"{sb.url}/token")
        monkeypatch.setenv("POAS_HOME", str(tmp_path))
        monkeypatch.setenv("POAS_DATABASE_URL", db_url)
        monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
        settings.cache_clear()
        store.cache_clear()
        yield sb
        store().dispose()
        settings.cache_clear()
        store.cache_clear()


def flat(output: str) -> str:
    return " ".join(output.split())  # Rich wraps long lines


def test_cli_sync_and_import_with_channel_google(cli_shop: RunningGoogleAds) -> None:
    runner = CliRunner()
    out = runner.invoke(
        cli_app, ["import", "spend", "--channel", "google", str(FIXTURES / "ad_group_report_no.csv")]
    )
    assert out.exit_code == 0, out.output
    assert "imported 4 spend rows (4 new, 0 updated)" in out.output
    bad = runner.invoke(
        cli_app, ["import", "spend", "--channel", "google", str(FIXTURES / "campaign_report_no_bad.csv")]
    )
    assert bad.exit_code != 0
    assert "campaign_report_no_bad.csv line 5, column 'Kostnad': '12,3x' is not a number" in flat(bad.output)
    synced = runner.invoke(
        cli_app, ["spend", "sync", "--channel", "google", "--since", "2026-11-01", "--until", "2026-11-07"]
    )
    assert synced.exit_code == 0, synced.output
    assert "spend sync g1 (google): 15 rows (15 new, 0 updated)" in synced.output
    cli_shop.state.revoke()
    failed = runner.invoke(cli_app, ["spend", "sync", "--channel", "google", "--since", "2026-11-01"])
    assert failed.exit_code != 0
    assert "create a new google_ads_refresh_token" in flat(failed.output)
    assert REFRESH_TOKEN not in failed.output
    wrong = runner.invoke(cli_app, ["spend", "sync", "--channel", "tiktok"])
    assert wrong.exit_code != 0 and "one of meta, google" in flat(wrong.output)


def test_poas_sandbox_google_ads_serves_a_sync(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command a user runs: accounts loaded over its control endpoint, then a sync against it."""
    with serving(["sandbox", "google-ads"], "/_sandbox/google-ads/calls") as url:
        rows = [
            {"date": "2026-11-03", "campaign_id": "111", "campaign_name": "Søk", "cost_micros": 12_340_000,
             "ad_group_id": "501", "ad_group_name": "Merkevare"},
            {"date": "2026-11-03", "campaign_id": "222", "campaign_name": "PMax", "cost_micros": 5_000_000},
        ]  # fmt: skip
        loaded = httpx.post(f"{url}/_sandbox/google-ads/accounts", json={"customer_id": CID, "rows": rows})
        assert loaded.json() == {"customer_id": CID, "rows": 2}
        config = tmp_path / "poas.toml"
        config.write_text(
            '[[shops]]\nid = "g1"\ncurrency = "NOK"\ngoogle_ads_customer_id = "1234567890"\n'
            f'google_ads_client_id = "{CLIENT_ID}"\n'
        )
        for name, value in {
            "POAS_GOOGLE_ADS_API_URL": url,
            "POAS_GOOGLE_ADS_TOKEN_URL": f"{url}/token",
            "POAS_HOME": str(tmp_path),
            "POAS_DATABASE_URL": db_url,
            "POAS_CONFIG_FILE": str(config),
            "POAS_SHOP_G1_GOOGLE_ADS_CLIENT_SECRET": CLIENT_SECRET,
            "POAS_SHOP_G1_GOOGLE_ADS_REFRESH_TOKEN": REFRESH_TOKEN,
        }.items():
            monkeypatch.setenv(name, value)
        settings.cache_clear()
        store.cache_clear()
        try:
            out = CliRunner().invoke(
                cli_app,
                ["spend", "sync", "--channel", "google", "--since", "2026-11-01", "--until", "2026-11-05"],
            )
            assert out.exit_code == 0, out.output
            assert "spend sync g1 (google): 2 rows (2 new, 0 updated)" in out.output
        finally:
            store().dispose()
            settings.cache_clear()
            store.cache_clear()
        calls = httpx.get(f"{url}/_sandbox/google-ads/calls").json()["calls"]
        assert [c["customer_id"] for c in calls] == [CID, CID]
