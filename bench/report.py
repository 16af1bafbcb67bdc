"""Benchmark: campaign × day report over 1,000,000 orders and 100,000 spend rows, and one day's rebuild.

Loads orders, one line each, their profit snapshots and the spend rows in bulk with SQL
(generate_series on PostgreSQL, a recursive CTE on SQLite) — not through ingest — then builds every
day's rollup with `rebuild_all`, times `rebuild_days` for one day and the report read from the
rollups (`build_report(by="campaign", daily=True)` over the whole year, and `by="campaign"`).
Prints the machine and writes bench/results/report.json.

    .venv/bin/python bench/report.py [--orders 1000000] [--engines postgres,sqlite]
"""

# ruff: noqa: E501  (long SQL text reads better unbroken)
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from machine_info import machine
from sqlalchemy import Engine, text

from poas.services.report import build_report
from poas.services.rollups import rebuild_all, rebuild_days
from poas.settings import ShopConfig
from poas.store.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("POAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SHOP = ShopConfig(id="bench", currency="NOK", timezone="Europe/Oslo")
NOW = datetime(2026, 1, 2, tzinfo=UTC)
DAYS = 365
ADS = 274  # × 365 days ≈ 100,000 spend rows; ad a is in ad set a // 3, campaign a // 9


def _ids(dialect: str, expr: str) -> dict[str, str]:
    """SQL for the Meta ids of ad `expr` (an integer expression)."""
    if dialect == "postgresql":
        pad = lambda e: f"lpad(({e})::text, 6, '0')"  # noqa: E731
    else:
        pad = lambda e: f"substr('000000' || ({e}), -6, 6)"  # noqa: E731
    return {
        "campaign": f"'1201' || {pad(f'({expr}) / 9')}",
        "adset": f"'1202' || {pad(f'({expr}) / 3')}",
        "ad": f"'1203' || {pad(expr)}",
    }


def _load_sql(dialect: str, orders: int) -> list[str]:
    pg = dialect == "postgresql"
    ids = _ids(dialect, f"n % {ADS}")
    if pg:
        seq = f"generate_series(1, {orders}) AS g(n)"
        created = "timestamptz '2025-01-01 00:00+00' + make_interval(days => n % 365, secs => (n::bigint * 7919) % 86400)"
        now = "now()"
        prefix = ""
        from_seq = f"FROM {seq}"
        spend_src = f"FROM generate_series(0, {DAYS - 1}) AS d(d), generate_series(0, {ADS - 1}) AS a(a)"
        day = "date '2025-01-01' + d"
        json_empty = "'{}'::json"
    else:
        prefix = f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {orders}) "
        created = (
            "datetime('2025-01-01', '+' || (n % 365) || ' days', '+' || ((n * 7919) % 86400) || ' seconds')"
            " || '.000000'"
        )
        now = "'2026-01-01 00:00:00.000000'"
        from_seq = "FROM seq"
        spend_src = (
            f"FROM (WITH RECURSIVE d(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM d WHERE d < {DAYS - 1}) "
            "SELECT d FROM d), "
            f"(WITH RECURSIVE a(a) AS (SELECT 0 UNION ALL SELECT a + 1 FROM a WHERE a < {ADS - 1}) SELECT a FROM a)"
        )
        day = "date('2025-01-01', '+' || d || ' days')"
        json_empty = "'{}'"
    ads = _ids(dialect, "a")
    rev = "(50000 + (n % 100) * 1000)"
    return [
        f"INSERT INTO shops (id, currency, prices_include_vat, created_at) VALUES ('bench', 'NOK', true, {now})",
        prefix + "INSERT INTO orders (shop_id, order_id, name, currency, prices_include_vat, created_at, "
        "financial_status, test, utm_source, utm_medium, utm_campaign, utm_term, utm_content, source, ingested_at) "
        f"SELECT 'bench', 'o' || n, '#' || n, 'NOK', true, {created}, 'paid', false, "
        f"CASE WHEN n % 10 = 0 THEN 'google' ELSE 'facebook' END, 'paid_social', "
        f"{ids['campaign']}, {ids['adset']}, {ids['ad']}, 'bench', {now} {from_seq}",
        prefix
        + "INSERT INTO order_lines (shop_id, order_id, line_id, position, quantity, unit_price, discount, tax, "
        "sku, product_id, title, gift_card, grams) "
        f"SELECT 'bench', 'o' || n, 'l1', 0, 1, {rev} * 5 / 4, 0, {rev} / 4, 'sku' || (n % 500), "
        f"'p' || (n % 500), 'Product ' || (n % 500), false, 0 {from_seq}",
        prefix
        + "INSERT INTO profit_snapshots (shop_id, order_id, version, created_at, reason, currency, revenue_ex_vat, "
        "vat, cogs, shipping_cost, payment_fee, handling_cost, gross_profit, expected_return_cost, "
        "expected_profit, realized_profit, sendable, breakdown) "
        f"SELECT 'bench', 'o' || n, 1, {now}, 'bench', 'NOK', {rev}, {rev} / 4, {rev} * (40 + n % 40) / 100, "
        f"0, 0, 0, {rev} * (60 - n % 40) / 100, {rev} / 20, {rev} * (60 - n % 40) / 100 - {rev} / 20, "
        f"{rev} * (60 - n % 40) / 100, true, {json_empty} {from_seq}",
        "INSERT INTO ad_spend (shop_id, account_id, row_key, day, campaign_id, campaign_name, adset_id, adset_name, "
        "ad_id, ad_name, currency, spend_minor, impressions, clicks, meta_purchases, meta_purchase_value_minor, "
        "source, fetched_at) "
        f"SELECT 'bench', '777', {ads['ad']}, {day}, {ads['campaign']}, 'Campaign ' || (a / 9), {ads['adset']}, "
        f"'Ad set ' || (a / 3), {ads['ad']}, 'Ad ' || a, 'NOK', 50000 + ((a * 37 + d * 11) % 5000) * 10, 10000, "
        f"150, 4, 400000, 'bench', {now} {spend_src}",
    ]


def _timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"min_s": min(times), "median_s": statistics.median(times), "max_s": max(times), "runs": runs}


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def run(engine: Engine, orders: int) -> dict[str, Any]:
    dialect = engine.dialect.name
    upgrade(engine)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for stmt in _load_sql(dialect, orders):
            conn.execute(text(stmt))
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    load_s = time.perf_counter() - t0
    print(
        f"  [{dialect}] loaded {orders:,} orders and {_count(engine, 'ad_spend'):,} spend rows in {load_s:.1f} s"
    )

    t0 = time.perf_counter()
    rollup_rows = rebuild_all(engine, SHOP, now=NOW)
    rebuild_all_s = time.perf_counter() - t0
    print(f"  [{dialect}] rebuild_all: {rollup_rows:,} rollup rows in {rebuild_all_s:.1f} s")

    one_day = _timed(lambda: rebuild_days(engine, SHOP, [date(2025, 6, 15)]), 5)
    print(f"  [{dialect}] rebuild one day: median {one_day['median_s'] * 1000:.0f} ms")

    def campaign_day() -> int:
        r = build_report(
            engine,
            SHOP,
            by="campaign",
            now=NOW,
            date_from=date(2025, 1, 1),
            date_to=date(2025, 12, 31),
            refresh_first=False,
            daily=True,
        )
        return len(r.rows)

    lines = campaign_day()
    report = _timed(campaign_day, 5)
    print(f"  [{dialect}] campaign × day report ({lines:,} lines): median {report['median_s'] * 1000:.0f} ms")

    def campaign_year() -> None:
        build_report(
            engine,
            SHOP,
            by="campaign",
            now=NOW,
            date_from=date(2025, 1, 1),
            date_to=date(2025, 12, 31),
            refresh_first=False,
        )

    year = _timed(campaign_year, 5)
    print(f"  [{dialect}] campaign report over the year: median {year['median_s'] * 1000:.0f} ms")
    return {
        "engine": dialect,
        "orders": orders,
        "spend_rows": _count(engine, "ad_spend"),
        "rollup_rows": rollup_rows,
        "bulk_load_s": round(load_s, 2),
        "rebuild_all_s": round(rebuild_all_s, 2),
        "rebuild_all_orders_per_s": round(orders / rebuild_all_s),
        "rebuild_one_day": one_day,
        "campaign_day_report": {**report, "lines": lines},
        "campaign_year_report": year,
        "target_report_under_s": 1.0,
        "target_met": report["median_s"] < 1.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--engines", default="postgres,sqlite")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "report.json")
    args = ap.parse_args()
    results, versions = [], {}
    for name in args.engines.split(","):
        if name == "postgres":
            db = f"poas_bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{db}"'))
                versions["postgresql"] = str(conn.execute(text("SHOW server_version")).scalar_one())
            engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + "/" + db)
            try:
                results.append(run(engine, args.orders))
            finally:
                engine.dispose()
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                admin.dispose()
        else:
            import sqlite3

            versions["sqlite"] = sqlite3.sqlite_version
            with tempfile.TemporaryDirectory() as tmp:
                engine = make_engine(f"sqlite:///{tmp}/bench.db")
                try:
                    results.append(run(engine, args.orders))
                finally:
                    engine.dispose()
    doc = {"benchmark": "report", "machine": machine(**versions), "results": results}
    print(json.dumps(doc["machine"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
