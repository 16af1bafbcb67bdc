"""`poas fx sync` / `poas fx show` end to end: rates from a local ECB and Norges Bank over real HTTP,
a second sync that stores nothing, and a euro order past the bundled history priced with them."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from fx_feed_server import FxFeeds, serve_fx_feeds
from sqlalchemy import func, select
from typer.testing import CliRunner

import poas.cli  # noqa: F401  (registers every command)
from poas.store.db import make_engine
from poas.store.tables.foundation import fx_rates

appmod = importlib.import_module("poas.cli.app")  # `poas.cli.app` the attribute is the Typer app

Run = Callable[..., Result]


@pytest.fixture
def feeds() -> Iterator[FxFeeds]:
    with serve_fx_feeds() as f:
        yield f


@pytest.fixture
def cli(db_url: str, tmp_path: Path, feeds: FxFeeds, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """Run a `poas` command in this process against `db_url` and the local feeds; env overrides as kwargs."""
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POAS_FX_SYNC_SOURCE", "ecb")  # the product's default (conftest turns it off)
    monkeypatch.setenv("POAS_FX_ECB_BASE_URL", feeds.ecb_url)
    monkeypatch.setenv("POAS_FX_NORGES_BANK_BASE_URL", feeds.norges_bank_url)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def run(*args: str, **env: str) -> Result:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        appmod.settings.cache_clear()
        return runner.invoke(appmod.app, list(args), catch_exceptions=False)

    appmod.store.cache_clear()
    yield run
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


def _count(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(fx_rates)).scalar_one())
    finally:
        engine.dispose()


def test_synced_ecb_rate_prices_a_euro_order_after_the_bundled_history(
    tmp_path: Path, db_url: str, cli: Run
) -> None:
    first = cli("fx", "sync")
    assert first.exit_code == 0, first.stdout + first.stderr
    assert re.search(
        r"ECB: fetched http://127\.0\.0\.1:\d+/stats/eurofxref/eurofxref-hist(-90d)?\.xml", first.stdout
    )
    assert "from 2026-10-31: 20 new" in first.stdout and "latest rate 2026-11-27" in first.stdout
    assert _count(db_url) == 20  # EUR/NOK for the 20 business days 2 to 27 November

    second = cli("fx", "sync")
    assert second.exit_code == 0, second.stdout + second.stderr
    assert ": 0 new," in second.stdout
    assert _count(db_url) == 20

    costs = tmp_path / "costs.csv"
    costs.write_text("sku,unit_cost,currency,valid_from\nCUP,100,NOK,2026-10-01\n")
    assert cli("import", "costs", str(costs)).exit_code == 0
    order = {
        "order_id": "eu-nov",
        "currency": "EUR",
        "created_at": "2026-11-20T12:00:00Z",
        "lines": [{"line_id": "1", "quantity": 1, "unit_price": "25.00", "tax": "5.00", "sku": "CUP"}],
    }
    orders = tmp_path / "orders.jsonl"
    orders.write_text(json.dumps(order) + "\n")
    imported = cli("import", "orders", str(orders))
    assert imported.exit_code == 0, imported.stdout + imported.stderr
    profit = json.loads(cli("profit", "eu-nov", "--json").stdout)["latest"]
    assert profit["currency"] == "NOK"
    assert profit["revenue_ex_vat"] == "205.60"  # 20 EUR ex VAT x 10.280, the ECB's rate of 20 November
    assert profit["gross_profit"] == "105.60"
    fx = profit["breakdown"]["fx"]
    assert any(
        f["rate"] == "10.280" and f["source"] == "ECB" and f["rate_date"] == "2026-11-20" for f in fx
    ), fx

    shown = cli("fx", "show", "EUR/NOK", "--date", "2026-11-22")
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert re.search(r"EUR/NOK\s.*2026-11-22\s.*10\.28\s.*2026-11-20\s.*ECB", shown.stdout), shown.stdout
    assert "ECB: 20 rates, 2026-11-02 to 2026-11-27" in shown.stdout
    missing = cli("fx", "show", "EURNOK", "--date", "2026-12-31")
    assert missing.exit_code == 1 and "no EUR→NOK exchange rate on 2026-12-31" in missing.stdout


def test_norges_bank_sync_and_show_from_the_cli(cli: Run) -> None:
    env = {"POAS_FX_SYNC_CURRENCIES": "SEK,DKK"}
    result = cli("fx", "sync", "--source", "norges_bank", **env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Norges Bank: fetched" in result.stdout and "B.DKK%2BEUR%2BSEK.NOK.SP" not in result.stdout
    assert "60 new" in result.stdout
    again = cli("fx", "sync", "--source", "norges_bank", "--since", "2026-11-02", **env)
    assert again.exit_code == 0 and "0 new, 60 unchanged" in again.stdout, again.stdout + again.stderr
    shown = cli("fx", "show", "--date", "2026-11-20", **env)
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    for pair, rate in (("DKK/NOK", "1.3"), ("EUR/NOK", "10.28"), ("SEK/NOK", "0.9328")):
        assert re.search(rf"{pair}\s.*\s{re.escape(rate)}\d*\s.*2026-11-20\s.*Norges Bank", shown.stdout), (
            shown.stdout
        )


def test_cli_says_what_is_wrong(cli: Run, feeds: FxFeeds) -> None:
    bad_date = cli("fx", "sync", "--since", "29.11.2026")
    assert (
        bad_date.exit_code == 1 and "--since '29.11.2026': expected a date as YYYY-MM-DD" in bad_date.stderr
    )
    off = cli("fx", "sync", POAS_FX_SYNC_SOURCE="off")
    assert off.exit_code == 1 and "POAS_FX_SYNC_SOURCE is off: pass --source" in off.stderr
    feeds.fail_with = 503
    down = cli("fx", "sync", POAS_FX_SYNC_SOURCE="ecb")  # env set by `cli` stays for the test
    assert down.exit_code == 1 and "answered HTTP 503" in down.stderr
    bad_pair = cli("fx", "show", "EURO/NOK")
    assert bad_pair.exit_code == 1 and "write it as EUR/NOK" in bad_pair.stderr
