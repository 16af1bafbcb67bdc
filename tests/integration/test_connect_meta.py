"""`poas connect meta SHOP` over real HTTP against the Meta sandbox: the dataset and the ad account read
with the shop's token (and appsecret_proof), usable or not, each problem named with its fix."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

import poas.cli  # noqa: F401  (registers every command)
from poas.meta.sandbox import RunningSandbox, run_sandbox
from poas.services.doctor import Level
from poas.services.meta_connect import connect_meta
from poas.settings import Settings, ShopConfig

appmod = importlib.import_module("poas.cli.app")  # `poas.cli.app` the attribute is the Typer app
TOKEN = "EAAB" + "t" * 40
PIXEL = {
    "id": "123456789012345",
    "name": "Nordlys Pixel",
    "last_fired_time": "2026-11-30T10:15:00+0000",
    "creation_time": "2024-01-10T08:00:00+0000",
    "is_unavailable": False,
}
ACCOUNT = {
    "id": "act_1234567890",
    "account_id": "1234567890",
    "name": "Nordlys Ads",
    "currency": "NOK",
    "timezone_name": "Europe/Oslo",
    "account_status": 1,
}


def _load(sb: RunningSandbox, **body: object) -> None:
    httpx.post(f"{sb.url}/_sandbox/objects", json=body, timeout=5).raise_for_status()


def _shop(**kw: object) -> ShopConfig:
    base: dict[str, object] = {
        "id": "nordlys",
        "platform": "shopify",
        "currency": "NOK",
        "timezone": "Europe/Oslo",
        "pixel_id": PIXEL["id"],
        "ad_account_id": ACCOUNT["id"],
        "access_token": SecretStr(TOKEN),
    }
    return ShopConfig.model_validate({**base, **kw})


def _by_name(checks: list) -> dict[str, tuple[Level, str, str]]:
    return {c.name: (c.level, c.detail, c.fix) for c in checks}


def test_a_usable_setup_with_appsecret_proof() -> None:
    with run_sandbox(app_secret="app-secret-0123") as sb:
        _load(sb, pixels=[PIXEL], ad_accounts=[ACCOUNT])
        shop = _shop(app_secret=SecretStr("app-secret-0123"))
        checks = connect_meta(Settings(graph_base_url=sb.url), shop)
        calls = httpx.get(f"{sb.url}/_sandbox/objects", timeout=5).json()["calls"]
    assert {c.level for c in checks} == {Level.OK}, checks
    by = _by_name(checks)
    assert "Nordlys Pixel (123456789012345)" in by["dataset"][1] and "2026-11-30" in by["dataset"][1]
    assert "Nordlys Ads (act_1234567890): ACTIVE" in by["ad account"][1]
    assert by["currency"][1] == "ad account and shop both in NOK"
    assert by["timezone"][1] == "ad account and shop both on Europe/Oslo"
    assert any(c.startswith("GET act_1234567890 fields=") and "timezone_name" in c for c in calls)
    assert any(c.startswith("GET 123456789012345 fields=") and "last_fired_time" in c for c in calls)


def test_a_wrong_appsecret_proof_is_refused() -> None:
    with run_sandbox(app_secret="the-real-secret") as sb:
        _load(sb, pixels=[PIXEL], ad_accounts=[ACCOUNT])
        checks = connect_meta(Settings(graph_base_url=sb.url), _shop(app_secret=SecretStr("wrong")))
    by = _by_name(checks)
    assert by["dataset"][0] is Level.FAIL and "appsecret_proof" in by["dataset"][1]
    assert TOKEN not in repr(checks)


def test_differences_and_status_are_warned() -> None:
    account = dict(ACCOUNT, currency="EUR", timezone_name="America/Los_Angeles", account_status=3)
    with run_sandbox() as sb:
        _load(sb, pixels=[dict(PIXEL, last_fired_time=None)], ad_accounts=[account])
        checks = connect_meta(Settings(graph_base_url=sb.url), _shop())
    by = _by_name(checks)
    assert by["dataset"][0] is Level.WARN and "never fired" in by["dataset"][1]
    assert by["ad account"][0] is Level.WARN and "UNSETTLED" in by["ad account"][1]
    assert by["currency"][0] is Level.WARN and "spends in EUR, the shop sells in NOK" in by["currency"][1]
    assert by["timezone"][0] is Level.WARN and "America/Los_Angeles" in by["timezone"][1]
    assert "Europe/Oslo" in by["timezone"][1]


def test_missing_permission_and_unknown_objects_are_named() -> None:
    with run_sandbox() as sb:
        _load(sb, pixels=[PIXEL], ad_accounts=[ACCOUNT], token_permissions={TOKEN: ["business_management"]})
        denied = _by_name(connect_meta(Settings(graph_base_url=sb.url), _shop()))
        other = _by_name(
            connect_meta(
                Settings(graph_base_url=sb.url),
                _shop(access_token=SecretStr("x" * 40), pixel_id="999999999999", ad_account_id="act_555555"),
            )
        )
        expired = _by_name(
            connect_meta(Settings(graph_base_url=sb.url), _shop(access_token=SecretStr("expired-1")))
        )
    level, detail, fix = denied["ad account"]
    assert level is Level.FAIL and "missing permission" in detail and "code 200" in detail
    assert "ads_read" in fix
    assert denied["dataset"][0] is Level.FAIL and "not shared with this token" in denied["dataset"][1]
    assert "dataset 999999999999 is unknown to Meta" in other["dataset"][1]
    assert "ad account act_555555 is unknown to Meta" in other["ad account"][1]
    assert expired["dataset"][0] is Level.FAIL and "code 190" in expired["dataset"][1]
    assert "POAS_SHOP_NORDLYS_ACCESS_TOKEN" in expired["dataset"][2]


def test_without_token_or_ad_account() -> None:
    with run_sandbox() as sb:
        _load(sb, pixels=[PIXEL])
        settings = Settings(graph_base_url=sb.url)
        no_token = connect_meta(settings, _shop(access_token=None))
        no_account = _by_name(connect_meta(settings, _shop(ad_account_id=None)))
    assert [(c.name, c.level) for c in no_token] == [("token", Level.FAIL)]
    assert "POAS_SHOP_NORDLYS_ACCESS_TOKEN" in no_token[0].fix
    assert no_account["dataset"][0] is Level.OK and no_account["ad account"][0] is Level.WARN


def test_report_runs_still_answer_beside_the_pixel_route() -> None:
    """The insights report-run route takes every numeric id first; a run id is still a run."""
    with run_sandbox() as sb:
        _load(sb, pixels=[PIXEL])
        run = httpx.post(f"{sb.url}/v25.0/act_1/insights", params={"access_token": TOKEN}, timeout=5).json()
        status = httpx.get(
            f"{sb.url}/v25.0/{run['report_run_id']}", params={"access_token": TOKEN}, timeout=5
        )
        pixel = httpx.get(f"{sb.url}/v25.0/{PIXEL['id']}", params={"access_token": TOKEN}, timeout=5)
    assert status.json()["async_status"] in ("Job Running", "Job Completed")
    assert pixel.json() == {"id": PIXEL["id"], "name": "Nordlys Pixel"}  # default fields


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    config = tmp_path / "poas.toml"
    config.write_text(
        '[[shops]]\nid = "nordlys"\nplatform = "shopify"\ncurrency = "SEK"\n'
        f'pixel_id = "{PIXEL["id"]}"\nad_account_id = "{ACCOUNT["id"]}"\n'
    )
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    monkeypatch.setenv("POAS_SHOP_NORDLYS_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("COLUMNS", "300")
    with run_sandbox() as sb:
        monkeypatch.setenv("POAS_GRAPH_BASE_URL", sb.url)
        appmod.settings.cache_clear()
        yield sb
    appmod.settings.cache_clear()


def test_the_command(cli_env: RunningSandbox) -> None:
    _load(cli_env, pixels=[PIXEL], ad_accounts=[ACCOUNT])
    runner = CliRunner()
    ok = runner.invoke(appmod.app, ["connect", "meta", "nordlys"])
    assert ok.exit_code == 0, ok.output
    out = " ".join(ok.output.split())
    assert "Nordlys Ads" in out and "spends in NOK, the shop sells in SEK" in out
    assert "Meta is usable for shop nordlys" in out and TOKEN not in ok.output
    unknown = runner.invoke(appmod.app, ["connect", "meta", "kaffe"])
    assert unknown.exit_code == 1 and "shop 'kaffe' is not in" in " ".join(unknown.output.split())
    _load(cli_env, token_permissions={TOKEN: []})
    denied = runner.invoke(appmod.app, ["connect", "meta", "nordlys"])
    assert denied.exit_code == 1 and "missing permission" in denied.output


def test_one_connect_group_holds_every_platform() -> None:
    """Every platform's module registers on the one `poas connect` group (a second group of the same
    name would hide the first one's commands)."""
    import typer.main

    group = typer.main.get_command(appmod.app).commands["connect"]  # type: ignore[attr-defined]
    assert {"meta", "woocommerce"} <= set(group.commands)
