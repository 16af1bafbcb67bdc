"""`poas doctor` and `poas shops` use the shop settings changed in the dashboard, as the web and the
worker do, and say which values come from there."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from typer.testing import CliRunner

from poas.services.doctor import Level, run_checks
from poas.services.settings_overrides import set_setting
from poas.services.settings_sources import DASHBOARD, FILE_SOURCE, effective_with_sources
from poas.settings import Settings, ShopConfig

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _shop(**fields: object) -> ShopConfig:
    return ShopConfig.model_validate(
        {"id": "s1", "webhook_secrets": [SecretStr("whsec-1")], "platform": "api", **fields}
    )


def _settings(db_url: str, shop: ShopConfig) -> Settings:
    return Settings(database_url=db_url, session_secret=SecretStr("s" * 40), shops=[shop])


def test_sources_name_each_setting_and_where_it_comes_from(engine: Engine) -> None:
    shop = _shop(target_poas="3")
    set_setting(engine, shop, "consent_default", "denied", by="admin", now=NOW)
    set_setting(engine, shop, "pause_below_poas", "2", by="admin", now=NOW)
    effective, sources = effective_with_sources(Settings(shops=[shop]), engine)
    assert effective.shops[0].consent_default is not None
    assert effective.shops[0].consent_default.value == "denied"
    by_key = {s.key: s for s in sources["s1"].settings}
    assert by_key["consent_default"].source == DASHBOARD
    assert by_key["consent_default"].text == "consent_default=denied (dashboard; poas.toml: -)"
    assert by_key["pause_below_poas"].text == "pause_below_poas=2 (dashboard; poas.toml: 0.5)"
    assert by_key["target_poas"].source == FILE_SOURCE and by_key["target_poas"].text == "target_poas=3"

    # poas.toml lowers the target under the stored pause threshold: that change is ignored, and said.
    lower = _shop(target_poas="1.5")
    effective, sources = effective_with_sources(Settings(shops=[lower]), engine)
    assert effective.shops[0].pause_below_poas == Decimal("0.5")
    assert [s.key for s in sources["s1"].from_dashboard] == ["consent_default"]
    assert [s.text for s in sources["s1"].ignored] == [
        "pause_below_poas=0.5 (dashboard value 2 ignored: no longer valid)"
    ]


def test_doctor_checks_the_settings_with_the_dashboard_changes(engine: Engine, db_url: str) -> None:
    shop = _shop()
    set_setting(engine, shop, "consent_default", "denied", by="admin", now=NOW)
    checks = run_checks(_settings(db_url, shop), graph=False, now=NOW)
    named = [c for c in checks if c.name == "settings s1"]
    assert [(c.level, c.detail) for c in named] == [
        (
            Level.OK,
            "changed in the dashboard (used by every process, checked below): "
            "consent_default=denied (dashboard; poas.toml: -)",
        )
    ]
    consent = [c.detail for c in checks if c.name == "shop s1" and "ads consent" in c.detail]
    assert len(consent) == 1 and "else default denied" in consent[0], consent


def test_doctor_warns_about_an_ignored_dashboard_change(engine: Engine, db_url: str) -> None:
    set_setting(engine, _shop(target_poas="3"), "pause_below_poas", "2", by="admin", now=NOW)
    checks = run_checks(_settings(db_url, _shop()), graph=False, now=NOW)
    named = [(c.level, c.detail) for c in checks if c.name == "settings s1"]
    assert named == [
        (
            Level.WARN,
            "dashboard changes ignored, as poas.toml now makes them invalid: "
            "pause_below_poas=0.5 (dashboard value 2 ignored: no longer valid)",
        )
    ]


def test_poas_shops_shows_the_effective_settings_and_marks_the_dashboard_ones(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import poas.cli  # noqa: F401  (registers every command)

    set_setting(engine, _shop(), "missing_cost", "skip", by="admin", now=NOW)
    appmod = importlib.import_module("poas.cli.app")
    home = tmp_path / "home"
    home.mkdir()
    (home / "poas.toml").write_text('[[shops]]\nid = "s1"\ndefault_margin = "0.4"\n')
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "400")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    try:
        result = CliRunner().invoke(appmod.app, ["shops"])
    finally:
        if appmod.store.cache_info().currsize:
            appmod.store().dispose()
        appmod.store.cache_clear()
        appmod.settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "s1 settings: " in out
    assert "missing_cost=skip (dashboard; poas.toml: fallback_margin)" in out
    assert "default_margin=0.4," in out  # from the file, not marked
