"""Benchmark: compute_profit throughput (orders/s) on generated Norwegian orders, single core.

Orders have 1–6 lines, VAT-inclusive prices, shipping, a gateway fee rule, handling, return rules
and a cost book of 20,000 SKUs × 5 effective-dated rows; a third of the orders carry a refund.
Also times one FX conversion-heavy pass (costs in EUR through the bundled ECB history) and the
lookup rate of a 1,000,000-row cost book. Prints the machine and writes bench/results/profit_calc.json.

    .venv/bin/python bench/profit_calc.py [--orders 20000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from poas.domain.costs import CostBook, CostRow
from poas.domain.fx import FxTable
from poas.domain.order import Order, OrderLine, Refund, RefundLine, RestockType, ShippingLine
from poas.domain.profit import ProfitPolicy, compute_profit
from poas.domain.rules import load_rules_toml

ROOT = Path(__file__).resolve().parent
T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal
RULES = """
currency = "NOK"
[[payment_fees]]
id = "vipps"
gateway = "vipps"
percent = 2.5
[[payment_fees]]
id = "klarna"
gateway = "klarna"
percent = 2.99
fixed = 3
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
[[shipping]]
id = "heavy"
cost = 98
[[handling]]
id = "box"
per = "order"
cost = 15
[[handling]]
id = "pick"
per = "unit"
cost = 4
[returns]
rate = 0.08
handling_cost = 45
restock_share = 0.9
[[returns.rules]]
category = "fashion"
rate = 0.3
handling_cost = 60
restock_share = 0.8
"""


def machine() -> dict[str, Any]:
    freq = psutil.cpu_freq()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_mhz": round(freq.max or freq.current) if freq else None,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),  # other work on the machine skews the rates
    }


def cost_book(skus: int, rows_per_sku: int, currency: str = "NOK") -> CostBook:
    return CostBook(
        CostRow.of(f"SKU-{k}", D(50 + k % 400) + D(d), currency, T0 + timedelta(days=90 * d))
        for k in range(skus)
        for d in range(rows_per_sku)
    )


def make_orders(n: int, skus: int, rng: random.Random) -> list[Order]:
    out = []
    for i in range(n):
        lines = []
        for j in range(rng.randint(1, 6)):
            qty = rng.randint(1, 3)
            price = D(rng.randint(4900, 249900)) / 100
            gross = price * qty
            lines.append(
                OrderLine(
                    f"{i}-{j}", qty, price, sku=f"SKU-{rng.randrange(skus)}",
                    category=rng.choice(["fashion", "home", "beauty"]),
                    tax=(gross * D("0.2")).quantize(D("0.01")), tax_rate=D("0.25"),
                    grams=rng.randint(100, 900),
                )
            )  # fmt: skip
        at = T0 + timedelta(minutes=rng.randint(0, 60 * 24 * 400))
        refunds = ()
        if i % 3 == 0:
            ln = lines[0]
            refunds = (
                Refund(f"r{i}", at + timedelta(days=8), (RefundLine(ln.line_id, 1, RestockType.RETURN),)),
            )
        out.append(
            Order(
                "bench", str(i), at, "NOK", tuple(lines),
                shipping_lines=(ShippingLine(D("99.00"), method="bring", tax=D("19.80")),),
                gateway=rng.choice(["vipps", "klarna", "card"]), shipping_country="NO", refunds=refunds,
            )
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(42)
    rules = load_rules_toml(RULES)
    policy = ProfitPolicy(default_margin=D("0.4"))
    skus = 20_000
    book = cost_book(skus, 5)
    orders = make_orders(args.orders, skus, rng)
    lines = sum(len(o.lines) for o in orders)
    gc.collect()
    gc.freeze()  # the set-up objects (cost book, orders) are long-lived: keep the collector off them

    start, cpu = time.perf_counter(), time.process_time()
    for o in orders:
        compute_profit(o, costs=book, rules=rules, policy=policy)
    nok_s, nok_cpu = time.perf_counter() - start, time.process_time() - cpu

    eur_book = cost_book(skus, 5, "EUR")
    fx = FxTable()
    fx.rate("EUR", "NOK", T0)  # load the bundled ECB history before timing
    start, cpu = time.perf_counter(), time.process_time()
    for o in orders:
        compute_profit(o, costs=eur_book, rules=rules, policy=policy, fx=fx)
    fx_s, fx_cpu = time.perf_counter() - start, time.process_time() - cpu

    big = cost_book(200_000, 5)
    keys = [
        (f"SKU-{rng.randrange(200_000)}", T0 + timedelta(days=rng.randint(0, 500))) for _ in range(200_000)
    ]
    start = time.perf_counter()
    for key, at in keys:
        big.lookup(key, at)
    lookup_s = time.perf_counter() - start

    result = {
        "benchmark": "profit_calc",
        "machine": machine(),
        "orders": len(orders),
        "lines": lines,
        "orders_per_s": round(len(orders) / nok_s),
        "lines_per_s": round(lines / nok_s),
        "orders_per_s_with_fx": round(len(orders) / fx_s),
        # per second of this process's CPU time: steadier than wall time on a busy machine
        "orders_per_cpu_s": round(len(orders) / nok_cpu),
        "orders_per_cpu_s_with_fx": round(len(orders) / fx_cpu),
        "cost_book_rows": len(big),
        "cost_lookups_per_s": round(len(keys) / lookup_s),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "results" / "profit_calc.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
