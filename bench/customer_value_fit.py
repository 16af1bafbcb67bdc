"""Benchmark: `poas customers fit` over 400,000 customers and about 1,000,000 counted orders.

Draws the customers from known BG/NBD + Gamma-Gamma parameters (`poas.domain.ltv_simulation`), loads
their orders into `customer_orders` of a fresh SQLite store (or PostgreSQL) in bulk, then runs the fit
in a child process — read every counted order, summarise per customer, fit both models by maximum
likelihood, store the parameters — and reports its wall time and the child's peak RSS, with the
fitted parameters beside the true ones. Writes bench/results/customer_value_fit.json.

    .venv/bin/python bench/customer_value_fit.py [--customers 400000] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from machine_info import machine, peak_rss_mb
from sqlalchemy import text

from poas.domain.ltv import BgNbd, GammaGamma
from poas.domain.ltv_simulation import simulate
from poas.services.customer_value import fit_shop
from poas.settings import ShopConfig
from poas.store.db import make_engine, upgrade
from poas.store.orders import ensure_shop
from poas.store.tables.customers import customer_orders

ROOT = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("POAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SHOP = ShopConfig(id="bench", currency="NOK")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
TRUE_BG = BgNbd(r=0.5, alpha=80.0, a=1.5, b=6.0)  # ≈ 1.5 repeat orders per customer over the period
TRUE_GG = GammaGamma(p=6.0, q=4.0, gamma=50.0)


def load(url: str, customers: int) -> int:
    engine = make_engine(url)
    upgrade(engine)
    start = NOW - timedelta(days=730)
    sims = simulate(
        TRUE_BG, TRUE_GG, customers=customers, first_day_from=0, first_day_to=700, until_day=730, seed=1
    )
    seq: dict[str, int] = {}
    with engine.begin() as conn:
        ensure_shop(conn, SHOP.id, "NOK", True, NOW)
        batch: list[dict[str, Any]] = []
        for i, o in enumerate(sims):
            seq[o.customer] = seq.get(o.customer, 0) + 1
            minor = round(o.profit * 100)
            batch.append(
                {
                    "shop_id": SHOP.id,
                    "order_id": f"o{i}",
                    "customer_key": f"em:{o.customer}",
                    "placed_at": start + timedelta(days=o.day),
                    "counts": True,
                    "seq": seq[o.customer],
                    "profit_known": True,
                    "revenue_minor": minor * 2,
                    "gross_profit_minor": minor,
                    "expected_profit_minor": minor,
                    "realized_profit_minor": minor,
                    "changed_at": NOW,
                }
            )
            if len(batch) == 20000:
                conn.execute(customer_orders.insert(), batch)
                batch = []
        if batch:
            conn.execute(customer_orders.insert(), batch)
    engine.dispose()
    return len(sims)


def fit_child(url: str) -> None:
    """Run in a child: the fit alone, so its peak RSS is the fit's."""
    engine = make_engine(url)
    t0 = time.perf_counter()
    fitted = fit_shop(engine, SHOP, now=NOW)
    wall = time.perf_counter() - t0
    m = fitted.model
    print(
        json.dumps(
            {
                "fit_s": round(wall, 2),
                "peak_rss_mb": peak_rss_mb(),
                "customers": fitted.customers,
                "orders": fitted.orders,
                "fitted": {"bg": m.bg.__dict__, "gg": m.gg.__dict__},
                "converged": m.converged,
            }
        )
    )


def run(url: str, engine_name: str, customers: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    orders = load(url, customers)
    load_s = time.perf_counter() - t0
    out = subprocess.run(
        [sys.executable, __file__, "--fit-child", url], capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{engine_name}: {orders} orders loaded in {load_s:.1f} s; "
        f"fit {got['fit_s']} s, peak RSS {got['peak_rss_mb']} MB"
    )
    return {
        "engine": engine_name,
        "orders_loaded": orders,
        "load_s": round(load_s, 1),
        **got,
        "true": {"bg": TRUE_BG.__dict__, "gg": TRUE_GG.__dict__},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=400_000)
    ap.add_argument("--engines", default="sqlite")
    ap.add_argument("--fit-child")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "customer_value_fit.json")
    args = ap.parse_args()
    if args.fit_child:
        fit_child(args.fit_child)
        return
    results = []
    for name in args.engines.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results.append(run(f"sqlite:///{tmp}/poas.db", name, args.customers))
        elif name == "postgres":
            db = f"poas_bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{db}"'))
            try:
                results.append(run(PG_ADMIN.rsplit("/", 1)[0] + "/" + db, name, args.customers))
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                admin.dispose()
    doc = {"benchmark": "customer_value_fit", "machine": machine(), "results": results}
    print(json.dumps(doc["machine"], indent=1))
    args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
