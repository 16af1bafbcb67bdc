"""Benchmark: `poas import orders` end to end on generated JSONL (SQLite, and PostgreSQL if reachable).

Usage: .venv/bin/python bench/import_orders.py [--lines 1000000] [--pg-url URL | --no-pg]
Prints the machine's details and writes bench/results/import_orders.json (lines/s, peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
POAS = str(Path(sys.executable).with_name("poas"))
TARGET_LINES_PER_S = 20_000
TARGET_RSS_MB = 500


def generate(path: Path, costs: Path, n_lines: int, seed: int = 7) -> int:
    """Write orders with 1-4 lines (VAT-inclusive NOK) until `n_lines` lines; returns the order count."""
    rnd = random.Random(seed)
    skus = [f"SKU-{i:05d}" for i in range(5000)]
    prices = {s: rnd.choice([99, 149, 199, 249, 299, 499, 799, 1299]) for s in skus}
    with costs.open("w") as f:
        f.write("sku,unit_cost,currency,valid_from\n")
        for s in skus:
            f.write(f"{s},{prices[s] * rnd.uniform(0.25, 0.6) * 0.8:.2f},NOK,2020-01-01\n")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    gateways = ["vipps", "klarna", "stripe", "paypal"]
    written = orders = 0
    with path.open("w") as f:
        while written < n_lines:
            k = min(rnd.randint(1, 4), n_lines - written)
            created = start + timedelta(seconds=orders * 37)
            lines = []
            for j in range(k):
                sku = rnd.choice(skus)
                qty = rnd.randint(1, 3)
                gross = prices[sku] * qty
                lines.append(
                    {
                        "line_id": str(j + 1),
                        "quantity": qty,
                        "unit_price": f"{prices[sku]}.00",
                        "sku": sku,
                        "title": f"Product {sku}",
                        "tax": f"{gross / 5:.2f}",
                        "tax_rate": "0.25",
                        "grams": 300,
                    }
                )
            order = {
                "order_id": str(100000 + orders),
                "name": f"#{100000 + orders}",
                "currency": "NOK",
                "created_at": created.isoformat(),
                "updated_at": (created + timedelta(minutes=5)).isoformat(),
                "gateway": rnd.choice(gateways),
                "shipping_country": "NO",
                "attribution": {"utm_source": "facebook", "utm_campaign": str(rnd.randint(1, 40))},
                "lines": lines,
                "shipping_lines": [{"price": "79.00", "method": "bring", "tax": "15.80"}],
            }
            f.write(json.dumps(order, separators=(",", ":")) + "\n")
            written += k
            orders += 1
    return orders


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "load_avg_at_start": os.getloadavg(),
    }


def run_import(env: dict[str, str], orders_file: Path, costs_file: Path) -> dict[str, Any]:
    """Import costs, then time `poas import orders` in a child process (wall time, peak RSS)."""
    subprocess.run([POAS, "import", "costs", str(costs_file)], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [POAS, "import", "orders", str(orders_file)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}):\n{out}\n{err}")
    peak_kb = usage.ru_maxrss  # Linux: kilobytes
    return {"seconds": round(elapsed, 2), "peak_rss_mb": round(peak_kb / 1024, 1), "cli_output": out.strip()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("POAS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument(
        "--pg-lines", type=int, default=None, help="lines for the PostgreSQL run (default --lines)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "import_orders.json")
    args = ap.parse_args()

    info = machine()
    info["note"] = "other processes may share the machine: see load_avg_at_start"
    print("machine:", json.dumps(info))
    work = Path(tempfile.mkdtemp(prefix="poas-bench-"))
    try:
        orders_file, costs_file = work / "orders.jsonl", work / "costs.csv"
        t0 = time.perf_counter()
        n_orders = generate(orders_file, costs_file, args.lines)
        size_mb = orders_file.stat().st_size / 2**20
        print(
            f"generated {args.lines} lines in {n_orders} orders ({size_mb:.0f} MB) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        base_env = {**os.environ, "POAS_HOME": str(work / "home"), "COLUMNS": "200"}
        results: dict[str, Any] = {}

        env = {**base_env, "POAS_DATABASE_URL": f"sqlite:///{work / 'bench.db'}"}
        results["sqlite"] = run_import(env, orders_file, costs_file)
        print("sqlite:", results["sqlite"])

        if not args.no_pg:
            name = f"poas_bench_{uuid.uuid4().hex[:8]}"
            url = args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
            try:
                admin = create_engine(url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                    info["postgresql"] = conn.execute(text("show server_version")).scalar_one()
            except Exception as exc:  # no server: report and go on with SQLite only
                results["postgresql"] = {"skipped": str(exc).splitlines()[0]}
            else:
                try:
                    env = {**base_env, "POAS_DATABASE_URL": url.rsplit("/", 1)[0] + "/" + name}
                    pg_file, pg_lines = orders_file, args.lines
                    if args.pg_lines and args.pg_lines < args.lines:
                        pg_file, pg_lines = work / "orders_pg.jsonl", args.pg_lines
                        generate(pg_file, work / "costs_pg.csv", pg_lines)
                    results["postgresql"] = {"lines": pg_lines, **run_import(env, pg_file, costs_file)}
                    print("postgresql:", results["postgresql"])
                finally:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
        results["sqlite"]["lines"] = args.lines
        for r in results.values():
            if "seconds" in r:
                r["lines_per_s"] = round(r["lines"] / r["seconds"])
                r["meets_lines_target"] = r["lines_per_s"] >= TARGET_LINES_PER_S
                r["meets_rss_target"] = r["peak_rss_mb"] < TARGET_RSS_MB
        doc = {
            "benchmark": "poas import orders (canonical JSONL, end to end incl. profit + snapshots)",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "lines": args.lines,
            "orders": n_orders,
            "targets": {"lines_per_s": TARGET_LINES_PER_S, "peak_rss_mb": TARGET_RSS_MB},
            "machine": info,
            "results": results,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
