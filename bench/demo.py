"""Benchmark: the sample shop generator (90 days × 150 orders/day) and `poas demo --no-serve` wall time.

Times generating and writing the full sample shop, then runs the demo pipeline with its default volume
(stage by stage) on a fresh SQLite store. Prints the machine and writes bench/results/demo.json.

    .venv/bin/python bench/demo.py [--days 90] [--orders-per-day 150] [--skip-demo]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from machine_info import machine

from poas.cli.demo_run import Demo, DemoOptions
from poas.sources.sample_files import write_shop
from poas.sources.sample_shop import generate

ROOT = Path(__file__).resolve().parent


class Timer:
    """Records how long each demo stage took."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._name = ""
        self._t = 0.0

    def stage(self, name: str, total: int | None = None) -> None:
        self._name, self._t = name, time.perf_counter()

    def advance(self, n: int = 1) -> None:
        return None

    def done(self, note: str = "") -> None:
        took = time.perf_counter() - self._t  # a stage run twice (the inbox) adds up
        self.stages[self._name] = round(self.stages.get(self._name, 0.0) + took, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--orders-per-day", type=int, default=150)
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        shop = generate(seed=7, days=args.days, orders_per_day=args.orders_per_day, today=date(2026, 3, 1))
        t1 = time.perf_counter()
        counts = write_shop(shop, Path(tmp) / "shop")
        t2 = time.perf_counter()
        result["generator"] = {
            "days": args.days,
            "orders_per_day": args.orders_per_day,
            **counts,
            "generate_s": round(t1 - t0, 3),
            "write_s": round(t2 - t1, 3),
            "orders_per_s": round(counts["orders"] / (t2 - t0)),
        }
        print(f"generator: {result['generator']}")
        if not args.skip_demo:
            timer = Timer()
            t0 = time.perf_counter()
            options = DemoOptions(home=Path(tmp) / "home")
            with Demo(options, timer) as demo:
                run = demo.run()
            total = time.perf_counter() - t0
            result["demo"] = {
                "defaults": {"days": options.days, "orders_per_day": options.orders_per_day},
                "total_s": round(total, 2),
                "stages_s": timer.stages,
                "counts": run.counts,
            }
            print(f"demo --no-serve: {total:.1f} s; stages: {timer.stages}")
    print(f"machine: {result['machine']}")
    out = ROOT / "results" / "demo.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
