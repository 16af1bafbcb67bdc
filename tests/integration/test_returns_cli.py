"""`poas returns fit` and `poas report returns` as a user runs them (subprocesses on a temp store)."""

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


def _order(i: int, at: datetime, sku: str, category: str, returned: bool) -> str:
    refunds = []
    if returned:
        refunds = [
            {
                "refund_id": f"r{i}",
                "processed_at": (at + timedelta(days=5)).isoformat(),
                "lines": [{"line_id": "1", "quantity": 1, "restock_type": "return"}],
            }
        ]
    return json.dumps(
        {
            "order_id": str(i),
            "currency": "NOK",
            "created_at": at.isoformat(),
            "lines": [
                {
                    "line_id": "1",
                    "quantity": 1,
                    "unit_price": "500.00",
                    "tax": "100.00",
                    "sku": sku,
                    "category": category,
                }
            ],
            "refunds": refunds,
        }
    )


def test_fit_then_calibration_report(tmp_path: Path, db_url: str) -> None:
    start = datetime.now(UTC) - timedelta(days=120)
    lines = []
    # 100 dresses, 30 returned; 100 mugs, 5 returned; all windows closed (>= 30 days old)
    for i in range(200):
        sku, cat, returned = ("DRESS", "fashion", i % 10 < 3) if i < 100 else ("MUG", "home", i % 20 == 0)
        lines.append(_order(i, start + timedelta(hours=i), sku, cat, returned))
    orders = tmp_path / "orders.jsonl"
    orders.write_text("\n".join(lines) + "\n")
    costs = tmp_path / "costs.csv"
    costs.write_text(
        f"sku,unit_cost,currency,valid_from\nDRESS,150,NOK,{start.date()}\nMUG,60,NOK,{start.date()}\n"
    )

    assert _poas(tmp_path, db_url, "import", "costs", str(costs)).returncode == 0
    imported = _poas(tmp_path, db_url, "import", "orders", str(orders))
    assert imported.returncode == 0, imported.stderr

    fitted = _poas(tmp_path, db_url, "returns", "fit", "--format", "json", "--min-sample", "50")
    assert fitted.returncode == 0, fitted.stderr
    rates = {(r["level"], r["key"]): r for r in json.loads(fitted.stdout)}
    assert (rates["sku", "DRESS"]["sold"], rates["sku", "DRESS"]["returned"]) == (100, 30)
    dress, mug = float(rates["sku", "DRESS"]["rate"]), float(rates["sku", "MUG"]["rate"])
    assert 0.2 < dress < 0.3 and 0.05 < mug < 0.15  # shrunk toward the shop's 17.5 %
    assert rates["shop", ""]["rate"].startswith("0.17")

    report = _poas(tmp_path, db_url, "report", "returns", "--format", "json")
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout)
    by = {(r["group"], r["key"]): r for r in doc["rows"]}
    assert doc["orders_with_closed_window"] == 200
    assert by["sku", "DRESS"]["lines"] == 100
    # Actual: 30 dresses back, each 400 ex VAT refunded and 150 cost recovered -> 30 x 250 = 7500
    assert float(by["sku", "DRESS"]["actual_return_cost"]) == 7500.0
    # Predicted with the fitted rate: p x (400 - 150) per dress line, 100 lines, each rounded to the øre
    assert abs(float(by["sku", "DRESS"]["predicted_return_cost"]) - dress * 250 * 100) <= 0.5  # per-line øre
    assert float(by["category", "home"]["actual_return_cost"]) == 5 * (400 - 60)


def test_profit_shows_the_events_and_corrections(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "poas.toml").write_text(
        '[[shops]]\nid = "s"\npixel_id = "1234567890"\nconsent_policy = "always"\n'
        "[shops.events]\nreturn_window_days = 30\n"
    )
    now = datetime.now(UTC)
    orders = tmp_path / "orders.jsonl"
    order = json.loads(_order(7, now - timedelta(hours=2), "DRESS", "fashion", False))
    order["customer"] = {"email": "kari@example.no", "country": "NO"}
    old = json.loads(_order(8, now - timedelta(days=40), "DRESS", "fashion", False))
    orders.write_text(json.dumps(order) + "\n" + json.dumps(old) + "\n")
    costs = tmp_path / "costs.csv"
    costs.write_text(
        f"sku,unit_cost,currency,valid_from\nDRESS,150,NOK,{(now - timedelta(days=90)).date()}\n"
    )
    assert _poas(tmp_path, db_url, "import", "costs", str(costs)).returncode == 0
    imported = _poas(tmp_path, db_url, "import", "orders", str(orders), "--send-events")
    assert imported.returncode == 0, imported.stderr
    assert _poas(tmp_path, db_url, "returns", "finalize").returncode == 0

    fresh = json.loads(_poas(tmp_path, db_url, "profit", "7", "--json").stdout)
    assert [(e["event_name"], e["event_id"], e["state"]) for e in fresh["events"]] == [
        ("Purchase", "7", "pending")
    ]
    assert fresh["events"][0]["payload"]["user_data"]["em"] != ["kari@example.no"]  # hashed, never raw
    assert fresh["corrections"] == []

    closed = json.loads(_poas(tmp_path, db_url, "profit", "8", "--json").stdout)
    assert closed["events"] == []  # no contact data: nothing Meta could match
    assert [(c["trigger"], c["state"]) for c in closed["corrections"]] == [("window_closed", "unsent")]
    table = _poas(tmp_path, db_url, "profit", "8")
    assert "correction final (window_closed): unsent" in table.stdout
