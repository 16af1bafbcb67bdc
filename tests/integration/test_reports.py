"""The report, advise, import spend and spend sync commands, end to end through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_insights import meta_row
from typer.testing import CliRunner

from poas.cli import app as cli_app
from poas.cli.app import settings, store
from poas.meta.sandbox import run_sandbox

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ads_manager"
runner = CliRunner()


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = tmp_path / "poas.toml"
    config.write_text(
        '[[shops]]\nid = "demo"\ncurrency = "NOK"\nad_account_id = "act_1234567890"\n'
        'access_token = "EAAB-test-token-99"\n'
    )
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    settings.cache_clear()
    store.cache_clear()
    yield config
    store().dispose()
    settings.cache_clear()
    store.cache_clear()


def test_import_spend_then_report_json_and_csv(configured: Path) -> None:
    out = runner.invoke(cli_app, ["import", "spend", str(FIXTURES / "daily_no.csv")])
    assert out.exit_code == 0, out.output
    assert "imported 4 spend rows (4 new, 0 updated)" in out.output
    again = runner.invoke(cli_app, ["import", "spend", str(FIXTURES / "daily_en.csv")])
    assert "(0 new, 4 updated)" in again.output  # the English file is the same data

    res = runner.invoke(
        cli_app,
        ["report", "--by", "campaign", "--from", "2026-03-01", "--to", "2026-03-02", "--format", "json"],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rows = {r["campaign"]: r for r in doc["rows"]}
    assert rows["Vinter – Ullgensere"]["spend"] == 2637.45
    assert rows["Høst – Regnjakker"]["spend"] == 1265.0
    assert rows["Vinter – Ullgensere"]["meta_value"] == 18797.8
    assert rows["Vinter – Ullgensere"]["roas"] == 0.0  # spend but no orders yet
    assert doc["decision_basis"] == "expected"  # the shop's default basis
    assert rows["Vinter – Ullgensere"]["decision"] == "pause"  # POAS 0: below the pause line
    assert doc["total"]["spend"] == 3902.45

    csv_out = runner.invoke(
        cli_app, ["report", "--by", "day", "--from", "2026-03-01", "--to", "2026-03-02", "--format", "csv"]
    )
    lines = csv_out.output.strip().splitlines()
    assert lines[0].startswith("day,spend,orders,revenue,profit")
    assert lines[1].startswith("2026-03-01,1999.56,0,") and lines[2].startswith("2026-03-02,1902.89,0,")


def test_bad_file_names_row_and_column(configured: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Day,Campaign name,Amount spent (NOK)\n2026-03-01,A,ti kroner\n")
    res = runner.invoke(cli_app, ["import", "spend", str(bad), "--account", "1"])
    assert res.exit_code == 1
    assert "bad.csv row 2, column 'Amount spent (NOK)'" in res.output


def test_spend_sync_command_against_the_sandbox(configured: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    with run_sandbox() as sb:
        rows = [meta_row(date(2026, 3, 5), ad, "10.00") for ad in range(3)]
        httpx.post(
            f"{sb.url}/_sandbox/insights", json={"account_id": "1234567890", "rows": rows}
        ).raise_for_status()
        monkeypatch.setenv("POAS_GRAPH_BASE_URL", sb.url)
        settings.cache_clear()
        args = ["spend", "sync", "--since", "2026-03-01", "--until", "2026-03-08"]
        first = runner.invoke(cli_app, args)
        assert first.exit_code == 0, first.output
        assert "3 rows (3 new, 0 updated)" in first.output
        second = runner.invoke(cli_app, args)
        assert "3 rows (0 new, 3 updated)" in second.output
    advice = runner.invoke(
        cli_app, ["advise", "--from", "2026-03-01", "--to", "2026-03-08", "--format", "json"]
    )
    assert advice.exit_code == 0, advice.output
    doc = json.loads(advice.output)
    assert "not a promise" in doc["note"]
    assert doc["basis"] == "expected"
    assert sum(c["spend"] for c in doc["campaigns"]) == 30.0
    gross = runner.invoke(
        cli_app, ["advise", "--from", "2026-03-01", "--to", "2026-03-08", "--basis", "gross"]
    )
    assert gross.exit_code == 0, gross.output
    assert "gross profit" in gross.output
    bad = runner.invoke(cli_app, ["advise", "--basis", "net"])
    assert bad.exit_code == 1
    assert "--basis: profit basis 'net': use one of expected, gross" in bad.output
