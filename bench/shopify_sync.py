"""Benchmark: a Shopify bulk backfill from the Shopify sandbox over loopback HTTP (`poas sync`'s path:
bulk operation, JSONL download, streamed import) into SQLite.

Usage: .venv/bin/python bench/shopify_sync.py [--orders 100000] [--runs 1] [--workers N]
The sandbox runs in a child process (its memory is not counted); this process does the sync, with
the backfill's worker processes (one per CPU by default). Prints the machine's details and writes
bench/results/shopify_sync.json: orders/s end to end (`poas sync`'s whole call: costs, the sandbox's
bulk operation, download, import), for poas's part of it (the same call less the time the sandbox
spends building the bulk file inside `bulkOperationRunQuery`, which Shopify does on its own servers)
and for the import alone (from the downloaded file to the last
commit: what poas does with the file), CPU seconds, peak RSS of this process and of the largest
finished child (the backfill's workers; forked, they share pages with this process, which both
count), and the load average before and after each run. With --runs N the best run is kept, all
are listed.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from machine_info import machine  # noqa: E402

from poas.connectors.shopify import ShopifyClient  # noqa: E402
from poas.connectors.shopify_sandbox import run_shopify_sandbox, seeded_state  # noqa: E402
from poas.connectors.shopify_sandbox_data import Variant  # noqa: E402
from poas.services.database import open_store  # noqa: E402
from poas.services.shopify_sync import sync_shopify  # noqa: E402
from poas.settings import Settings, ShopConfig  # noqa: E402

TEMPLATE = ROOT / "tests" / "fixtures" / "shopify" / "order_paid_not_subscribed.json"
TARGET_ORDERS_PER_S = 5_000
TARGET_RSS_MB = 500


def orders(n: int) -> list[dict[str, Any]]:
    base = json.loads(TEMPLATE.read_text())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        o = copy.deepcopy(base)
        when = (start + timedelta(seconds=i * 97)).isoformat()
        o["id"] = 7_000_000_000 + i
        o["name"] = f"#{100000 + i}"
        o["created_at"] = o["processed_at"] = o["updated_at"] = when
        for j, li in enumerate(o["line_items"]):
            li["id"] = 9_000_000_000 + i * 10 + j
        o["customer"]["id"] = 5_000_000 + i % 20_000
        out.append(o)
    return out


def serve(n: int, ready: Any, url: Any, stop: Any) -> None:
    state = seeded_state(None)
    state.orders = orders(n)
    state.variants = [
        Variant(
            "44021137555656", "ULL-GENSER-M-GRA", "Ullgenser", "M / Grå", "Gensere", Decimal("310.50"), "NOK"
        ),
        Variant("44021137588424", "LUE-ULL-SORT", "Lue", "Sort", "Luer", Decimal("42.00"), "NOK"),
    ]
    with run_shopify_sandbox(state) as sb:
        url.value = sb.url.encode()
        ready.set()
        stop.wait()


def _cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(db_url: str, base_url: str, workers: int | None) -> dict[str, Any]:
    engine = open_store(db_url)
    settings = Settings(shopify_admin_url=base_url)
    shop = ShopConfig(
        id="bench",
        platform="shopify",
        domain="bench.myshopify.com",
        currency="NOK",
        shopify_client_id="cid",
        shopify_client_secret="secret",  # type: ignore[arg-type]
    )
    marks: dict[str, float] = {"bulk_run": 0.0}
    load_before = os.getloadavg()[0]
    graphql = ShopifyClient.graphql

    def timed(client: ShopifyClient, query: str, *args: Any, **kw: Any) -> Any:
        """The sandbox builds a bulk operation's whole JSONL inside the bulkOperationRunQuery call
        (Shopify builds it on its own servers, in minutes for a large shop): that call is timed."""
        start = time.perf_counter()
        try:
            return graphql(client, query, *args, **kw)
        finally:
            if "bulkOperationRunQuery" in query:
                marks["bulk_run"] += time.perf_counter() - start

    ShopifyClient.graphql = timed  # type: ignore[method-assign]
    t0, cpu0 = time.perf_counter(), _cpu_s()

    def downloaded(size: int) -> None:  # called once the JSONL is on disk, before the import starts
        marks["downloaded"], marks["size"] = time.perf_counter(), size

    report = sync_shopify(
        engine,
        settings,
        shop,
        now=datetime.now(UTC),
        poll_s=0.05,
        on_download=downloaded,
        backfill_workers=workers,
    )
    end = time.perf_counter()
    ShopifyClient.graphql = graphql  # type: ignore[method-assign]
    assert report.orders is not None
    engine.dispose()
    seconds, imported = end - t0, end - marks["downloaded"]
    return {
        "orders": report.orders.accepted,
        "rejected": report.orders.rejected,
        "seconds": round(seconds, 2),
        "orders_per_s": round(report.orders.accepted / seconds),
        "bulk_operation_and_download_seconds": round(marks["downloaded"] - t0, 2),
        "sandbox_bulk_build_seconds": round(marks["bulk_run"], 2),
        "poas_orders_per_s": round(report.orders.accepted / (seconds - marks["bulk_run"])),
        "jsonl_mb": round(marks["size"] / 2**20, 1),
        "import_seconds": round(imported, 2),
        "import_orders_per_s": round(report.orders.accepted / imported),
        "workers": "one per CPU" if workers is None else workers,
        "cpu_seconds_this_process_and_workers": round(_cpu_s() - cpu0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None, help="backfill workers (default: one per CPU)")
    args = ap.parse_args()
    info = machine()
    print(json.dumps(info, indent=1))
    ctx = mp.get_context("spawn")
    ready, stop, url = ctx.Event(), ctx.Event(), ctx.Array("c", 200)
    child = ctx.Process(target=serve, args=(args.orders, ready, url, stop), daemon=True)
    child.start()
    if not ready.wait(900):
        raise SystemExit("the sandbox did not start")
    base = url.value.decode()
    targets = {"orders_per_s": TARGET_ORDERS_PER_S, "peak_rss_mb": TARGET_RSS_MB}
    results: dict[str, Any] = {"machine": info, "orders_seeded": args.orders, "targets": targets}
    try:
        runs = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(run(f"sqlite:///{tmp}/bench.db", base, args.workers))
                print("sqlite", runs[-1], flush=True)
        results["sqlite"] = max(runs, key=lambda r: r["orders_per_s"])
        results["runs"] = runs
    finally:
        stop.set()
        child.join(10)
    out = ROOT / "bench" / "results" / "shopify_sync.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
