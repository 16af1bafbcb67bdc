"""`poas import orders|costs`, `poas profit`, `poas rules` end to end on both engines."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

import poas.cli  # noqa: F401  (registers every command)
from poas.store.db import make_engine
from poas.store.tables.foundation import order_lines, orders, product_costs, profit_snapshots

appmod = importlib.import_module("poas.cli.app")  # `poas.cli.app` the attribute is the Typer app

Run = Callable[..., Result]

GOOD_1 = {
    "order_id": "1001",
    "name": "#1001",
    "currency": "NOK",
    "created_at": "2026-03-01T12:00:00+01:00",
    "updated_at": "2026-03-01T12:05:00+01:00",
    "gateway": "vipps",
    "shipping_country": "NO",
    "customer": {"email": "kari@example.com"},
    "lines": [
        {"line_id": "1", "quantity": 2, "unit_price": "500.00", "sku": "TEE-1", "tax": "200.00"},
        {"line_id": "2", "quantity": 1, "unit_price": "100.00", "sku": "MUG", "tax": "20.00"},
    ],
    "shipping_lines": [{"price": "79.00", "method": "bring", "tax": "15.80"}],
    "refunds": [
        {
            "refund_id": "r1",
            "processed_at": "2026-03-05T10:00:00Z",
            "lines": [
                {"line_id": "2", "quantity": 1, "restock_type": "return", "amount": "100.00", "tax": "20.00"}
            ],
        }
    ],
}
GOOD_2 = {
    "order_id": "1007",
    "currency": "NOK",
    "created_at": "2026-03-02T10:00:00Z",
    "lines": [{"quantity": 3, "unit_price": "100.00", "sku": "MUG"}],
}
JSONL = "\n".join(
    [
        json.dumps(GOOD_1),
        json.dumps({**GOOD_2, "order_id": "1002", "currency": "XYZ"}),
        json.dumps({**GOOD_2, "order_id": "1003", "lines": [{"quantity": -1, "unit_price": "1"}]}),
        json.dumps({**GOOD_2, "order_id": "1004", "created_at": "2026-03-01T12:00:00"}),
        json.dumps({**GOOD_2, "order_id": "1005", "lines": [{"quantity": 1, "sku": "MUG"}]}),
        '{"order_id": "1006", broken',
        "",
        json.dumps(GOOD_2),
    ]
)
CSV_HEAD = "order_id,currency,created_at,updated_at,gateway,line_id,quantity,unit_price,sku,tax\n"
CSV = CSV_HEAD + (
    "2001,NOK,2026-03-01T10:00:00Z,2026-03-01T10:00:00Z,vipps,a,1,250.00,TEE-1,50.00\n"
    "2001,,,,,b,2,100.00,MUG,40.00\n"  # order columns only on the first row
    "2002,NOK,2026-03-01T11:00:00Z,,klarna,a,1,100.00,MUG,20.00\n"
    "2002,NOK,2026-03-01T11:00:00Z,,klarna,b,1,100.00,MUG,20.00\n"  # order columns repeated
    "2003,NOK,2026-03-01T12:00:00,,,a,1,100.00,MUG,20.00\n"  # naive timestamp
    "2004,NOK,2026-03-01T12:00:00Z,,,a,1,100.00,MUG,20.00\n"
    "2004,SEK,,,,b,1,100.00,MUG,20.00\n"  # order column differs on a later row
    "2005,NOK,2026-03-01T12:00:00Z,,,a,1,,MUG,0\n"  # no price
    "2006,NOK,2026-03-01T12:00:00Z,,,a,1,100.00,MUG,20.00,extra\n"  # wrong field count
)
COSTS = "sku,variant_id,unit_cost,currency,valid_from\nTEE-1,,150.00,NOK,2026-01-01\nMUG,,40,NOK,\n"


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "400")  # wide tables; pinning Console.width would outlive the test
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(appmod.app, list(args), catch_exceptions=False)

    yield run
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


def _counts(db_url: str) -> tuple[int, ...]:
    eng = make_engine(db_url)
    with eng.connect() as conn:
        out = tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (orders, order_lines, profit_snapshots, product_costs)
        )
    eng.dispose()
    return out


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_import_reports_bad_rows_keeps_good_ones_and_is_idempotent(
    cli: Run, db_url: str, tmp_path: Path
) -> None:
    costs = _write(tmp_path, "costs.csv", COSTS)
    assert cli("import", "costs", str(costs)).exit_code == 0
    path = _write(tmp_path, "orders.jsonl", JSONL)
    first = cli("import", "orders", str(path))
    assert first.exit_code == 1
    assert "no shop configured" in first.output and "'default'" in first.output
    assert "2 orders accepted (3 lines)" in first.output and "5 rejected" in first.output
    out = first.output
    assert f"{path}:2: currency: unknown currency 'XYZ'" in out
    assert f"{path}:3: lines[0].quantity: -1 is negative" in out
    assert f"{path}:4: created_at: '2026-03-01T12:00:00' has no timezone" in out
    assert f"{path}:5: lines[0].unit_price: is required" in out
    assert f"{path}:6: malformed JSON" in out
    assert "kari@example.com" not in out
    counts = _counts(db_url)
    assert counts == (2, 3, 2, 2)
    second = cli("import", "orders", str(path))
    assert "0 new, 2 updated" in second.output
    assert _counts(db_url) == counts

    shown = cli("profit", "1001", "--json")
    assert shown.exit_code == 0
    doc = json.loads(shown.output)
    # lines 2 × 500 incl. 25 % VAT = 800 ex VAT, mug 80, shipping 63.20; cogs 2 × 150 + 40
    assert doc["latest"]["revenue_ex_vat"] == "943.20" and doc["latest"]["cogs"] == "340.00"
    assert [h["version"] for h in doc["history"]] == [1]
    assert cli("profit", "nope").exit_code == 1


def test_csv_import_groups_rows_and_names_row_and_column(cli: Run, db_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "orders.csv", CSV)
    result = cli("import", "orders", str(path))
    assert result.exit_code == 1
    out = result.output
    assert "2 orders accepted (4 lines)" in out and "4 rejected" in out
    assert f"{path}:6: created_at: '2026-03-01T12:00:00' has no timezone" in out
    assert f"{path}:8: currency: differs from the order's first row" in out
    assert f"{path}:9: unit_price: is required" in out
    assert f"{path}:10: has 11 fields, the header has 10" in out
    counts = _counts(db_url)
    assert counts[:2] == (2, 4)
    again = cli("import", "orders", str(path), "--format", "csv")
    assert "0 new, 2 updated" in again.output
    assert _counts(db_url) == counts


def test_csv_rows_of_one_order_must_be_adjacent(cli: Run, tmp_path: Path) -> None:
    text = CSV_HEAD + (
        "1,NOK,2026-03-01T10:00:00Z,,,a,1,10.00,MUG,2.00\n"
        "2,NOK,2026-03-01T10:00:00Z,,,a,1,10.00,MUG,2.00\n"
        "1,NOK,2026-03-01T10:00:00Z,,,b,1,10.00,MUG,2.00\n"
    )
    result = cli("import", "orders", str(_write(tmp_path, "o.csv", text)))
    assert result.exit_code == 1
    assert "o.csv:4: order_id: rows of this order are not next to each other" in result.output


def test_cost_change_adds_a_snapshot_version(cli: Run, db_url: str, tmp_path: Path) -> None:
    cli("import", "costs", str(_write(tmp_path, "c1.csv", COSTS)))
    cli("import", "orders", str(_write(tmp_path, "o.jsonl", json.dumps(GOOD_2) + "\n")))
    before = json.loads(cli("profit", "1007", "--json").output)
    changed = cli(
        "import", "costs", str(_write(tmp_path, "c2.csv", "sku,unit_cost,valid_from\nMUG,55,2026-02-01\n"))
    )
    assert changed.exit_code == 0 and "recomputed 1 orders: 1 new profit snapshots" in changed.output
    after = json.loads(cli("profit", "1007", "--json").output)
    assert [h["version"] for h in after["history"]] == [1, 2]
    assert after["history"][0] == before["history"][0]  # version 1 untouched
    assert before["latest"]["cogs"] == "120.00" and after["latest"]["cogs"] == "165.00"


def test_cost_in_a_currency_without_rate_is_rejected(cli: Run, db_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "sku,unit_cost,currency\nA,10,XAF\nB,10,NOK\nC,ten,NOK\n")
    result = cli("import", "costs", str(path))
    assert result.exit_code == 1
    assert "1 cost rows imported, 2 rejected" in result.output
    assert f"{path}:2: currency: cost in XAF but shop default uses NOK" in result.output
    assert f"{path}:4: unit_cost: 'ten' is not a number" in result.output
    assert _counts(db_url)[3] == 1


def test_rules_load_show_and_recompute(cli: Run, tmp_path: Path) -> None:
    cli("import", "costs", str(_write(tmp_path, "c.csv", COSTS)))
    cli("import", "orders", str(_write(tmp_path, "o.jsonl", json.dumps(GOOD_2) + "\n")))
    assert "no cost rules loaded" in cli("rules").output
    toml = 'currency = "NOK"\n[[payment_fees]]\nid = "all"\npercent = 2\nfixed = 1\n'
    loaded = cli("rules", "--load", str(_write(tmp_path, "r.toml", toml)))
    assert loaded.exit_code == 0 and "rules v1 in force" in loaded.output
    assert "recomputed 1 orders: 1 new profit snapshots" in loaded.output
    assert 'id = "all"' in cli("rules").output
    doc = json.loads(cli("profit", "1007", "--json").output)
    assert doc["latest"]["payment_fee"] == "7.00"  # 2 % of 300 + 1
    bad = cli("rules", "--load", str(_write(tmp_path, "bad.toml", "[[payment_fees]]\npercent = 'x'\n")))
    assert bad.exit_code == 1 and "payment_fees" in bad.output
