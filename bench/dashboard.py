"""Benchmark: dashboard pages, JSON API and /metrics response times on a demo-seeded SQLite store.

Seeds a store through the demo pipeline (default 90 days × 150 orders/day), then requests each page
over real HTTP (uvicorn in a thread, logged in as the admin) `--repeat` times and records the median
and worst time per path. Prints the machine and writes bench/results/dashboard.json.

    .venv/bin/python bench/dashboard.py [--days 90] [--orders-per-day 150] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from machine_info import machine

from poas.cli.demo_run import Demo, DemoOptions

ROOT = Path(__file__).resolve().parent
PAGES = [
    "/",
    "/campaigns",
    "/campaigns?by=ad&sort=poas&dir=asc",
    "/products",
    "/orders",
    "/orders?q=%231",
    "{order}",
    "/delivery",
    "/costs",
    "/metrics",
    "/healthz",
]
API = ["/api/v1/report?by=campaign", "/api/v1/report?by=day", "/api/v1/orders?limit=500", "/api/v1/delivery"]


def timed(
    client: httpx.Client, path: str, repeat: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    times = []
    size = 0
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
        size = len(r.content)
    return {
        "median_ms": round(statistics.median(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "bytes": size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--orders-per-day", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    info = machine()
    print(json.dumps(info, indent=1))
    result: dict[str, Any] = {"machine": info, "days": args.days, "orders_per_day": args.orders_per_day}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Demo(DemoOptions(home=Path(tmp), days=args.days, orders_per_day=args.orders_per_day)) as demo,
    ):
        t = time.perf_counter()
        run = demo.run()
        result["seed_s"] = round(time.perf_counter() - t, 2)
        result["orders"] = run.counts.get("webhooks_accepted")
        client = httpx.Client(base_url=demo.web.url, timeout=120)
        login = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert token and demo.admin_password
        client.post("/login", data={"password": demo.admin_password, "csrf_token": token.group(1)})
        orders = client.get("/orders").text
        first = re.search(r'href="(/orders/[^"]+/[^"]+)"', orders)
        assert first
        # The first request refreshes the rollups; time it apart from the steady state.
        t = time.perf_counter()
        client.get("/")
        result["first_overview_ms"] = round((time.perf_counter() - t) * 1000, 1)
        result["pages"] = {
            p: timed(client, first.group(1) if p == "{order}" else p, args.repeat) for p in PAGES
        }
        settings = demo.settings
        token_value = settings.admin_api_token.get_secret_value() if settings.admin_api_token else None
        if token_value:
            headers = {"Authorization": f"Bearer {token_value}"}
            result["api"] = {p: timed(client, p, args.repeat, headers) for p in API}
    for section in ("pages", "api"):
        for path, r in result.get(section, {}).items():
            print(
                f"{path:45} median {r['median_ms']:8.1f} ms  max {r['max_ms']:8.1f} ms  {r['bytes']:>9} bytes"
            )
    out = ROOT / "results" / "dashboard.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"seeded {result['orders']} orders in {result['seed_s']} s; wrote {out}")


if __name__ == "__main__":
    main()
