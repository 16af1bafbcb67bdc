"""`poas worker` at start: a Google-only shop draws no warning about Meta tokens; a shop with no
destination at all is named."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

CONFIG = """
[[shops]]
id = "gonly"
[shops.google]
client_id = "cid"
client_secret = "secret"
refresh_token = "refresh"
[[shops.google.conversion_actions]]
customer_id = "123-456-7890"
conversion_action_id = "987"

[[shops]]
id = "bare"
"""


def test_worker_names_the_shop_without_destination_and_not_the_google_only_one(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import poas.cli  # noqa: F401  (registers every command)

    appmod = importlib.import_module("poas.cli.app")
    home = tmp_path / "home"
    home.mkdir()
    (home / "poas.toml").write_text(CONFIG)
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "400")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    try:
        result = CliRunner().invoke(appmod.app, ["worker", "--once", "--no-housekeeping"])
    finally:
        if appmod.store.cache_info().currsize:
            appmod.store().dispose()
        appmod.store.cache_clear()
        appmod.settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "warning: shop bare: no destination" in out
    assert "gonly" not in out
    assert "access_token" not in out
