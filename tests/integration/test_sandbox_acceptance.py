"""#16's acceptance, literally: with `poas sandbox shopify --seed DIR` (its own process) holding a paid
order and its variants' costs, `poas connect shopify` + `poas sync` give that order a profit computed
from the synced unit costs, no CSV, visible in `poas profit ID`; on both engines."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from test_sandbox_commands import serving
from test_shopify_sandbox import make_seed
from typer.testing import CliRunner

import poas.cli  # registers every command

appmod = importlib.import_module("poas.cli.app")
PAID = "5830120800777"  # 2 x ULL-GENSER-M-GRA (310.50 in variants.csv), 1 x LUE-ULL-SORT (42.00)


@pytest.fixture
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.delenv("POAS_CONFIG_FILE", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield home
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


def poas(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def test_poas_sandbox_shopify_then_connect_and_sync_price_the_paid_order(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = make_seed(tmp_path / "seed")
    with serving(["sandbox", "shopify", "--seed", str(seed)], "/_sandbox/stats") as url:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", url)
        connected = poas(
            *("connect", "shopify", "demo", "--store", "demo.myshopify.com"),
            *("--client-id", "x", "--client-secret", "y", "--public-url", "https://poas.example"),
        )
        assert connected.exit_code == 0, connected.output
        synced = poas("sync", "demo")
        assert synced.exit_code == 0, synced.output
    assert not list(home.rglob("*.csv"))  # no cost file anywhere: the costs came from the shop
    shown = poas("profit", PAID, "--shop", "demo")
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "shopify-first-sync" in text  # the note names where the cost came from
    doc = json.loads(poas("profit", PAID, "--shop", "demo", "--json").output)
    breakdown = doc["latest"]["breakdown"]
    assert Decimal(breakdown["components"]["cogs"]["amount"]) == 2 * Decimal("310.50") + Decimal("42.00")
    assert {ln["cost"]["source"] for ln in breakdown["lines"]} == {"cost book"}
    assert doc["latest"]["profit_known"] is True
