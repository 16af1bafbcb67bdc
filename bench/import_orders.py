"""Benchmark: `poas import orders` end to end on generated JSONL (SQLite, and PostgreSQL if reachable).

Usage: .venv/bin/python bench/import_orders.py [--lines 1000000] [--pg-url URL | --no-pg]
Prints the machine's details and writes bench/results/import_orders.json (lines/s, peak RSS).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
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


def _tree_memory(proc: psutil.Process) -> tuple[int, int, int]:
    """Bytes over the process and its children: (summed RSS, largest RSS, summed PSS).

    Forked workers share their parent's pages: the RSS sum counts those once per process, the PSS
    sum (each shared page split between its sharers) is the honest total.
    """
    rss: list[int] = []
    pss = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()
            rss.append(info.rss)
            pss += info.pss
    return sum(rss), max(rss, default=0), pss


def run_import(
    env: dict[str, str], orders_file: Path, costs_file: Path, workers: int | None = None
) -> dict[str, Any]:
    """Import costs, then time `poas import orders` in a child process.

    Wall time, CPU time of the import and its worker processes (load-independent), and peak memory:
    the largest single process and the sum over the process tree (sampled; forked workers share
    pages, so the sum over-counts).
    """
    subprocess.run([POAS, "import", "costs", str(costs_file)], env=env, check=True, capture_output=True)
    cmd = [POAS, "import", "orders", str(orders_file)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    load_start = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watched = psutil.Process(proc.pid)
    peak_sum = peak_one = peak_pss = 0
    while proc.poll() is None:
        try:
            total, largest, pss = _tree_memory(watched)
        except psutil.Error:
            total = largest = pss = 0
        peak_sum, peak_one, peak_pss = max(peak_sum, total), max(peak_one, largest), max(peak_pss, pss)
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}):\n{out}\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # + the import and its workers (all reaped)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),  # user + system of the import and its workers (not the DB server)
        "peak_rss_mb": round(peak_one / 2**20, 1),  # the largest process (sampled every 0.2 s)
        "peak_rss_tree_mb": round(peak_sum / 2**20, 1),
        "peak_pss_tree_mb": round(peak_pss / 2**20, 1),
        "load_avg_during": [round(x, 2) for x in load_start] + [round(x, 2) for x in os.getloadavg()],
        "cli_output": out.strip(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("POAS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument(
        "--workers", type=int, default=None, help="poas import orders --workers (default: its own)"
    )
    ap.add_argument(
        "--pg-lines", type=int, default=None, help="lines for the PostgreSQL run (default --lines)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "import_orders.json")
    args = ap.parse_args()

    info = machine()
    info["note"] = (
        "other processes may share the machine: see load_avg_at_start and each run's load_avg_during "
        "(1/5/15-min averages at its start, then at its end); lines_per_cpu_s does not depend on it"
    )
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
        if not args.no_sqlite:
            results["sqlite"] = {
                "lines": args.lines,
                **run_import(env, orders_file, costs_file, args.workers),
            }
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
                    results["postgresql"] = {
                        "lines": pg_lines,
                        **run_import(env, pg_file, costs_file, args.workers),
                    }
                    print("postgresql:", results["postgresql"])
                finally:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
        for r in results.values():
            if "seconds" in r:
                r["lines_per_s"] = round(r["lines"] / r["seconds"])
                r["lines_per_cpu_s"] = round(r["lines"] / r["cpu_seconds"]) if r["cpu_seconds"] else None
                r["meets_lines_target"] = r["lines_per_s"] >= TARGET_LINES_PER_S
                r["meets_rss_target"] = r["peak_pss_tree_mb"] < TARGET_RSS_MB
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
