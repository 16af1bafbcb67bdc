"""Benchmark: delivery with 1, 2 and 4 `poas worker` processes on PostgreSQL against the sandbox.

Each run enqueues N events over 4 pixels (not timed), starts k worker processes with `--once`
(each drains what is due, then exits) and times until all have exited. Afterwards it checks that
the sandbox accepted every event exactly once and that no event was sent twice (the delivery log
has one accepted attempt per event). Prints the machine and writes bench/results/worker_scaling.json.

    .venv/bin/python bench/worker_scaling.py [--events 40000] [--pg-url URL]
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

import httpx
from delivery import ROOT, TOKEN, event, sandbox_unique, start_sandbox
from machine_info import machine
from sqlalchemy import text

from poas.store import outbox as ob
from poas.store.db import make_engine, upgrade

PIXELS = [f"10000000000{i}" for i in range(4)]


def config(home: Path) -> None:
    shops = "\n".join(
        f'[[shops]]\nid = "s{i}"\npixel_id = "{px}"\naccess_token = "{TOKEN}"\n'
        for i, px in enumerate(PIXELS)
    )
    (home / "poas.toml").write_text(shops)


def fill(engine: Any, n: int, tag: str) -> None:
    now = datetime.now(UTC)
    t = int((now - timedelta(minutes=10)).timestamp())
    rows = []
    for i in range(n):
        px = i % len(PIXELS)
        eid = f"{tag}-{i}"
        rows.append(
            ob.OutboxEvent(
                shop_id=f"s{px}",
                pixel_id=PIXELS[px],
                event_name="Purchase",
                event_id=eid,
                order_id=eid,
                event_time=now - timedelta(minutes=10),
                payload=json.dumps(event(eid, t), separators=(",", ":")),
            )
        )
        if len(rows) == 5000:
            with engine.begin() as conn:
                ob.enqueue(conn, rows, now=now)
            rows = []
    if rows:
        with engine.begin() as conn:
            ob.enqueue(conn, rows, now=now)


def run(pg_url: str, sandbox: str, home: Path, n: int, workers: int) -> dict[str, Any]:
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox"))
        conn.execute(text("DELETE FROM delivery_log"))
    fill(engine, n, f"w{workers}-{uuid.uuid4().hex[:6]}")
    before = sandbox_unique(sandbox)
    env = {
        **os.environ,
        "POAS_HOME": str(home),
        "POAS_DATABASE_URL": pg_url,
        "POAS_GRAPH_BASE_URL": sandbox,
        "POAS_LOG_FORMAT": "json",
    }
    poas = str(Path(sys.executable).parent / "poas")
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [poas, "worker", "--once", "--concurrency", "4"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - started
    accepted = sandbox_unique(sandbox) - before
    with engine.connect() as conn:
        unsent = conn.execute(text("SELECT count(*) FROM outbox WHERE state <> 'sent'")).scalar_one()
    engine.dispose()
    rate = n / seconds
    print(
        f"{workers} worker(s): {n} events in {seconds:.2f}s = {rate:,.0f}/s, "
        f"accepted {accepted}, unsent {unsent}"
    )
    return {
        "workers": workers,
        "events": n,
        "seconds": round(seconds, 3),
        "events_per_s": round(rate),
        "accepted_once": accepted,
        "unsent": unsent,
        "exit_codes": codes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    info = machine()
    print(json.dumps(info, indent=2))
    name = f"poas_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    pg_url = args.pg_url.rsplit("/", 1)[0] + "/" + name
    upgrade(make_engine(pg_url))
    proc, sandbox = start_sandbox()
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config(Path(tmp))
            for k in (1, 2, 4):
                httpx.post(f"{sandbox}/_sandbox/reset", timeout=30)
                results.append(run(pg_url, sandbox, Path(tmp), args.events, k))
    finally:
        proc.terminate()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    out = {
        "benchmark": "worker_scaling",
        "date": datetime.now(UTC).isoformat(),
        "machine": info,
        "runs": results,
    }
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "worker_scaling.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
