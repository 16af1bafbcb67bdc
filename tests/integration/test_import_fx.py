"""`poas import fx`: user rates are stored (bad rows named, good rows kept) and price orders the
bundled ECB history cannot reach."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

POAS = str(Path(sys.executable).parent / "poas")


def _poas(home: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POAS_HOME": str(home), "POAS_DATABASE_URL": db_url}
    return subprocess.run([POAS, *args], env=env, capture_output=True, text=True, timeout=120)


def test_user_rates_price_a_recent_euro_order(tmp_path: Path, db_url: str) -> None:
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).date()
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "date,base,quote,rate\n"
        f"{yesterday},EUR,NOK,11.70\n"
        "2026-13-01,EUR,NOK,11.7\n"
        f"{yesterday},XXX,NOK,2\n"
        f"{yesterday},USD,NOK,-1\n"
    )
    result = _poas(tmp_path, db_url, "import", "fx", str(rates))
    assert result.returncode == 1
    assert "1 rates stored, 3 rejected" in result.stdout
    assert "rates.csv:3: date: '2026-13-01' is not YYYY-MM-DD" in result.stderr
    assert "rates.csv:4:" in result.stderr and "XXX" in result.stderr
    assert "rates.csv:5:" in result.stderr and "positive" in result.stderr

    costs = tmp_path / "costs.csv"
    costs.write_text(f"sku,unit_cost,currency,valid_from\nCUP,100,NOK,{yesterday - timedelta(days=30)}\n")
    assert _poas(tmp_path, db_url, "import", "costs", str(costs)).returncode == 0
    order = {
        "order_id": "eu-1",
        "currency": "EUR",
        "created_at": now.isoformat(),
        "lines": [{"line_id": "1", "quantity": 1, "unit_price": "25.00", "tax": "5.00", "sku": "CUP"}],
    }
    orders = tmp_path / "orders.jsonl"
    orders.write_text(json.dumps(order) + "\n")
    imported = _poas(tmp_path, db_url, "import", "orders", str(orders))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    profit = json.loads(_poas(tmp_path, db_url, "profit", "eu-1", "--json").stdout)["latest"]
    assert profit["currency"] == "NOK"
    assert profit["revenue_ex_vat"] == "234.00"  # 20 EUR ex VAT x 11.70
    assert profit["gross_profit"] == "134.00"  # minus the 100 NOK cup
    assert any(f["rate"] == "11.70" and f["source"] == "user" for f in profit["breakdown"]["fx"])
