"""Benchmark: the customer rollup and the value model over 1,000,000 orders of 400,000 customers (#19).

Draws 400,000 customers' orders from known BG/NBD + Gamma-Gamma parameters
(`poas.domain.ltv_simulation`, ≈ 975,000 paid orders) and tops them up to 1,000,000 stored orders
with cancelled orders of those customers and paid guest orders without a customer key. The orders
and one profit snapshot each are written in bulk straight into `orders` / `profit_snapshots` of a
fresh SQLite store (or PostgreSQL), then each step runs in its own child process, timed, with the
child's peak RSS:

- rebuild: `poas customers rebuild` (`services.customers.rebuild`) — every order placed in
  `customer_orders` / `customers`, numbered new / returning;
- cohorts: `poas report cohorts --by month` (`services.cohorts.cohort_report`) over the histories;
- fit: `poas customers fit` (`services.customer_value.fit_shop`, via customer_value_fit.py's child).

Prints the machine and the load average before each step; writes bench/results/customer_rollup.json.

    .venv/bin/python bench/customer_rollup.py [--customers 400000] [--orders 1000000]
        [--engines sqlite,postgres]
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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from customer_value_fit import NOW, PG_ADMIN, SHOP, TRUE_BG, TRUE_GG
from machine_info import machine, peak_rss_mb
from sqlalchemy import func, select, text

from poas.domain.ltv_simulation import simulate
from poas.store.db import make_engine, upgrade
from poas.store.orders import ensure_shop
from poas.store.tables.customers import customer_orders, customers
from poas.store.tables.foundation import orders, profit_snapshots

ROOT = Path(__file__).resolve().parent
BATCH = 20_000


def _order(oid: str, key: str | None, at: datetime, *, cancelled: bool) -> dict[str, Any]:
    return {
        "shop_id": SHOP.id,
        "order_id": oid,
        "name": f"#{oid}",
        "currency": "NOK",
        "prices_include_vat": True,
        "created_at": at,
        "processed_at": at,
        "updated_at": at,
        "cancelled_at": at + timedelta(hours=2) if cancelled else None,
        "financial_status": "voided" if cancelled else "paid",
        "test": False,
        "user_data": {"em": key} if key else None,
        "source": "bench",
        "ingested_at": at,
    }


def _snapshot(oid: str, at: datetime, profit_minor: int) -> dict[str, Any]:
    return {
        "shop_id": SHOP.id,
        "order_id": oid,
        "version": 1,
        "created_at": at,
        "reason": "bench",
        "currency": "NOK",
        "revenue_ex_vat": profit_minor * 2,
        "vat": profit_minor // 2,
        "cogs": profit_minor // 2,
        "shipping_cost": profit_minor // 4,
        "payment_fee": profit_minor // 8,
        "handling_cost": profit_minor // 8,
        "gross_profit": profit_minor,
        "expected_return_cost": 0,
        "expected_profit": profit_minor,
        "realized_profit": profit_minor,
        "sendable": True,
        "sendable_reason": None,
        "breakdown": {},
        "missing_cost_lines": 0,
    }


def load(url: str, customers_n: int, orders_n: int) -> dict[str, int]:
    engine = make_engine(url)
    upgrade(engine)
    start = NOW - timedelta(days=730)
    sims = simulate(
        TRUE_BG, TRUE_GG, customers=customers_n, first_day_from=0, first_day_to=700, until_day=730, seed=1
    )
    paid = len(sims)
    extra = max(0, orders_n - paid)
    step = max(1, paid // extra) if extra else 0
    with engine.begin() as conn:
        ensure_shop(conn, SHOP.id, "NOK", True, NOW)
        obatch: list[dict[str, Any]] = []
        sbatch: list[dict[str, Any]] = []

        def flush() -> None:
            conn.execute(orders.insert(), obatch)
            conn.execute(profit_snapshots.insert(), sbatch)
            obatch.clear()
            sbatch.clear()

        for i, o in enumerate(sims):
            at = start + timedelta(days=o.day)
            key = f"{int(o.customer[1:]):064x}"
            oid = f"o{i:07d}"
            obatch.append(_order(oid, key, at, cancelled=False))
            sbatch.append(_snapshot(oid, at, round(o.profit * 100)))
            if extra and i % step == 0 and i // step < extra:
                j = i // step
                xid = f"x{j:07d}"  # every other one a cancelled order of this customer, else a guest
                mine = j % 2 == 0
                obatch.append(_order(xid, key if mine else None, at + timedelta(hours=1), cancelled=mine))
                sbatch.append(_snapshot(xid, at, round(o.profit * 100)))
            if len(obatch) >= BATCH:
                flush()
        if obatch:
            flush()
        stored = conn.execute(select(func.count()).select_from(orders)).scalar_one()
    engine.dispose()
    return {"orders_stored": int(stored), "paid_customer_orders": paid}


def child(step: str, url: str) -> None:
    """Run in a child: one step alone, so its peak RSS is the step's."""
    from poas.services.cohorts import cohort_report
    from poas.services.customer_value import fit_shop
    from poas.services.customers import rebuild

    engine = make_engine(url)
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if step == "rebuild":
        out["customers_found"] = rebuild(engine, SHOP, now=NOW)
    elif step == "cohorts":
        rep = cohort_report(engine, SHOP, by="month", now=NOW)
        out["cohorts"] = len(rep.cohorts)
        out["customers_in_cohorts"] = sum(c.customers for c in rep.cohorts)
    elif step == "fit":
        fitted = fit_shop(engine, SHOP, now=NOW)
        m = fitted.model
        out.update(
            customers=fitted.customers,
            orders=fitted.orders,
            fitted={"bg": m.bg.__dict__, "gg": m.gg.__dict__},
            true={"bg": TRUE_BG.__dict__, "gg": TRUE_GG.__dict__},
            converged=m.converged,
        )
    wall = time.perf_counter() - t0
    if step == "rebuild":
        with engine.connect() as conn:
            co = customer_orders.c
            every = select(func.count()).select_from(customer_orders)
            out["customer_orders_rows"] = conn.execute(every).scalar()
            out["new_orders"] = conn.execute(select(func.count()).where(co.seq == 1)).scalar()
            out["returning_orders"] = conn.execute(select(func.count()).where(co.seq > 1)).scalar()
            out["not_counted"] = conn.execute(select(func.count()).where(co.seq.is_(None))).scalar()
            out["customers_rows"] = conn.execute(select(func.count()).select_from(customers)).scalar()
    print(
        json.dumps(
            {
                "s": round(wall, 2),
                "peak_rss_mb": peak_rss_mb(),
                **out,
            }
        )
    )


def _step(args: list[str]) -> dict[str, Any]:
    load_1m = round(os.getloadavg()[0], 2)
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-4000:])
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    got["load_avg_1m_at_start"] = load_1m
    got["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    return got


def run(url: str, engine_name: str, customers_n: int, orders_n: int) -> dict[str, Any]:
    res: dict[str, Any] = {"engine": engine_name, "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
    t0 = time.perf_counter()
    res.update(load(url, customers_n, orders_n))
    res["load_s"] = round(time.perf_counter() - t0, 1)
    print(f"{engine_name}: {res['orders_stored']} orders + snapshots loaded in {res['load_s']} s", flush=True)
    for step in ("rebuild", "cohorts", "fit"):
        res[step] = _step([__file__, "--child", step, url])
        print(f"{engine_name}: {step} {res[step]}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=400_000)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--engines", default="sqlite")
    ap.add_argument("--child", nargs=2, metavar=("STEP", "URL"))
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "customer_rollup.json")
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    box = machine()  # its load average is the one at the start
    print(json.dumps(box, indent=1), flush=True)
    results = []
    for name in args.engines.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results.append(run(f"sqlite:///{tmp}/poas.db", name, args.customers, args.orders))
        elif name == "postgres":
            db = f"poas_bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{db}"'))
            try:
                url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
                results.append(run(url, name, args.customers, args.orders))
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                admin.dispose()
    doc = {"benchmark": "customer_rollup", "machine": box, "results": results}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
