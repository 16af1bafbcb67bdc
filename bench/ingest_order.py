"""Benchmark: the per-webhook `ingest_order` path (store, price, snapshot, queue events), both engines.

Each order is its own transaction, as in the inbox processor, with a rules document in force and a
cost book of 5,000 SKUs. Reports wall and CPU milliseconds per order and writes
bench/results/ingest_order.json.

    .venv/bin/python bench/ingest_order.py [--orders 500] [--pg-url URL | --no-pg]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from poas.domain.costs import CostRow
from poas.domain.order import Customer, Order, OrderLine, ShippingLine
from poas.services.ingest import ingest_order
from poas.settings import ShopConfig
from poas.store.costs import import_costs
from poas.store.db import make_engine, upgrade
from poas.store.orders import ensure_shop
from poas.store.rules import save_rules

ROOT = Path(__file__).resolve().parent
RULES = """
currency = "NOK"
[[payment_fees]]
id = "vipps"
gateway = "vipps"
percent = 2.5
[[payment_fees]]
id = "card"
percent = 2.4
fixed = 2
[zones]
domestic = ["NO"]
[[shipping]]
id = "light"
zone = "domestic"
max_grams = 5000
cost = 72
[[handling]]
id = "pick"
per = "line"
cost = 4
[returns]
rate = 0.08
restock_share = 0.9
handling_cost = 35
"""
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
SHIPPING = ShippingLine(Decimal("79.00"), "bring", tax=Decimal("15.80"))


def _orders(n: int, rnd: random.Random) -> list[Order]:
    out = []
    for i in range(n):
        created = NOW - timedelta(hours=2, minutes=i)
        lines = tuple(
            OrderLine(str(j + 1), rnd.randint(1, 3), Decimal("499.00"), sku=f"SKU-{rnd.randint(0, 4999):05d}",
                      tax=Decimal("99.80"), grams=300)
            for j in range(rnd.randint(1, 4))
        )  # fmt: skip
        out.append(
            Order(
                "bench", f"W{i}", created, "NOK", lines, updated_at=created, gateway="vipps",
                shipping_country="NO", shipping_lines=(SHIPPING,),
                customer=Customer(email=f"k{i}@example.com", phone="+4791234567", first_name="Kari"),
            )
        )  # fmt: skip
    return out


def run(engine: Engine, n: int) -> dict[str, Any]:
    upgrade(engine)
    shop = ShopConfig(id="bench", pixel_id="123")
    rnd = random.Random(5)
    with engine.begin() as conn:
        ensure_shop(conn, "bench", "NOK", True, NOW)
        rows = [CostRow.of(f"SKU-{k:05d}", "180.00", "NOK", NOW - timedelta(days=400)) for k in range(5000)]
        import_costs(conn, "bench", rows, now=NOW)
        save_rules(conn, "bench", RULES, source="bench", now=NOW)
    orders = _orders(n, rnd)
    with engine.begin() as conn:  # warm-up: connection, first parse of the rules, FX table
        ingest_order(conn, orders[0], shop, now=NOW, trigger_purchase=True)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for order in orders[1:]:
        with engine.begin() as conn:
            ingest_order(conn, order, shop, now=NOW, trigger_purchase=True)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    m = n - 1
    return {
        "orders": m,
        "wall_ms_per_order": round(wall * 1000 / m, 2),
        "cpu_ms_per_order": round(cpu * 1000 / m, 2),  # this process only (not the database server)
        "load_avg_during": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, default=500)
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("POAS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "ingest_order.json")
    ap.add_argument(
        "--baseline",
        nargs=2,
        metavar=("LABEL", "FILE"),
        help="embed another run's result file (e.g. this bench run on an older checkout) under LABEL",
    )
    args = ap.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="poas-ingest-") as tmp:
        eng = make_engine(f"sqlite:///{tmp}/bench.db")
        results["sqlite"] = run(eng, args.orders)
        eng.dispose()
        print("sqlite:", results["sqlite"])
    if not args.no_pg:
        admin = make_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        name = f"poas_ingest_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            eng = make_engine(args.pg_url.rsplit("/", 1)[0] + "/" + name)
            results["postgresql"] = run(eng, args.orders)
            eng.dispose()
            print("postgresql:", results["postgresql"])
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    doc = {
        "benchmark": "ingest_order per webhook order (one transaction each, events queued)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores_logical": os.cpu_count(),
            "python": platform.python_version(),
            "os": platform.platform(),
            "load_avg_at_start": os.getloadavg(),
            "argv": sys.argv[1:],
        },
        "results": results,
    }
    if args.baseline:
        label, path = args.baseline
        doc["baseline"] = {"label": label, "results": json.loads(Path(path).read_text())["results"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
