"""`poas calc`: the seed story's two products, through typer's runner and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from poas.cli import app

runner = CliRunner()


def calc_json(*args: str) -> dict[str, float | None]:
    result = runner.invoke(app, ["calc", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, float | None] = json.loads(result.stdout)
    return data


def test_product_a_high_volume_low_margin() -> None:
    data = calc_json("--spend", "1000", "--revenue", "5000", "--margin", "0.20")
    assert data == {"roas": 5.0, "poas": 1.0, "gross_profit": 1000.0, "margin": 0.2, "break_even_roas": 5.0}


def test_product_b_low_volume_high_margin() -> None:
    data = calc_json("--spend", "1000", "--revenue", "3500", "--margin", "0.60")
    assert data["roas"] == 3.5
    assert data["poas"] == 2.1
    assert data["gross_profit"] == 2100.0
    assert data["margin"] == 0.6
    assert data["break_even_roas"] == pytest.approx(1 / 0.6)


def test_profit_instead_of_margin() -> None:
    data = calc_json("--spend", "1000", "--revenue", "3500", "--profit", "700")
    assert data["poas"] == 0.7 and data["margin"] == 0.2 and data["break_even_roas"] == 5.0


def test_zero_spend_gives_null_ratios() -> None:
    data = calc_json("--spend", "0", "--revenue", "3500", "--margin", "0.5")
    assert data["roas"] is None and data["poas"] is None and data["gross_profit"] == 1750.0


def test_table_output() -> None:
    result = runner.invoke(app, ["calc", "--spend", "1000", "--revenue", "5000", "--margin", "0.20"])
    assert result.exit_code == 0
    assert "ROAS" in result.stdout and "5.00x" in result.stdout and "1.00x" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--spend", "1000", "--revenue", "5000"], "exactly one of --margin or --profit"),
        (["--spend", "1000", "--revenue", "5000", "--margin", "0.2", "--profit", "9"], "exactly one"),
        (["--spend", "abc", "--revenue", "5000", "--margin", "0.2"], "--spend: 'abc' is not a number"),
        (["--spend", "-5", "--revenue", "5000", "--margin", "0.2"], "cannot be negative"),
        (["--spend", "5", "--revenue", "5000", "--margin", "20"], "must be below 1"),
    ],
)
def test_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["calc", *args])
    assert result.exit_code == 1
    assert message in result.stderr


def test_real_process() -> None:
    exe = Path(sys.executable).parent / "poas"
    out = subprocess.run(
        [str(exe), "calc", "--spend", "1000", "--revenue", "3500", "--margin", "0.60", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(out.stdout)
    assert (data["roas"], data["poas"], data["gross_profit"]) == (3.5, 2.1, 2100.0)
