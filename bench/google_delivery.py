"""Benchmark: events/s from the outbox to the Google sandbox (Data Manager events:ingest, batches of
1,000) beside the same figure for the Meta sandbox, on SQLite and PostgreSQL.

Both sandboxes run in their own processes (`poas sandbox google`, `poas sandbox`), reached over real
HTTP on localhost. Events are enqueued first (not timed), then one dispatcher drains them (timed:
claim, OAuth token once, send, mark). The `google-ads-datamanager` client library is not used by poas
(REST over httpx), so it has no figure here. Writes bench/results/google_delivery.json.

    .venv/bin/python bench/google_delivery.py [--events 20000] [--concurrency 8] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
from delivery import event as meta_event
from delivery import free_port
from machine_info import machine
from sqlalchemy import text

from poas.domain.destinations import GOOGLE_ADS, google_destination_id
from poas.google.datamanager import DataManagerClient, GoogleCredentials
from poas.meta.capi import CapiClient, Credentials
from poas.services.deliver import DeliveryConfig, Dispatcher
from poas.store import outbox as ob
from poas.store.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parent
DEST = google_destination_id("1234567890", "111111111")
GOOGLE_CREDS = GoogleCredentials("sandbox-client", "sandbox-secret", "sandbox-refresh-token")
META_CREDS = Credentials(access_token="EAAB-bench-token-0000000000")
EMAIL_HASH = hashlib.sha256(b"kari@example.no").hexdigest()


def start(args: list[str], probe: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    poas = str(Path(sys.executable).parent / "poas")
    proc = subprocess.Popen([poas, *args, "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url + probe, timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"poas {' '.join(args)} did not start")


def google_event(txid: str, at: datetime) -> dict[str, Any]:
    return {
        "transactionId": txid,
        "eventTimestamp": at.isoformat().replace("+00:00", "Z"),
        "conversionValue": 120.5,
        "currency": "NOK",
        "eventSource": "WEB",
        "adIdentifiers": {"gclid": f"Cj0KCQ{txid}"},
        "userData": {"userIdentifiers": [{"emailAddress": EMAIL_HASH}]},
        "consent": {"adUserData": "CONSENT_GRANTED"},
    }


def fill(engine: Any, n: int, prefix: str, kind: str) -> None:
    now = datetime.now(UTC)
    at = now - timedelta(minutes=10)
    for start_at in range(0, n, 5000):
        rows = []
        for i in range(start_at, min(n, start_at + 5000)):
            eid = f"{prefix}-{i}"
            if kind == "google":
                payload, dest, name = google_event(eid, at), DEST, "conversion"
            else:
                payload, dest, name = meta_event(eid, int(at.timestamp())), "px-bench", "Purchase"
            rows.append(
                ob.OutboxEvent(
                    shop_id="bench",
                    pixel_id=dest,
                    event_name=name,
                    event_id=eid,
                    order_id=eid,
                    event_time=at,
                    payload=json.dumps(payload, separators=(",", ":")),
                )
            )
        with engine.begin() as conn:
            ob.enqueue(conn, rows, now=now)


async def drain(engine: Any, meta_url: str, google_url: str, concurrency: int) -> tuple[int, float]:
    capi = CapiClient(meta_url, "v25.0", timeout_s=60, max_connections=concurrency * 2)
    google = DataManagerClient(
        google_url, f"{google_url}/token", timeout_s=60, max_connections=concurrency * 2
    )
    d = Dispatcher(
        engine,
        capi,
        lambda shop, dest: GOOGLE_CREDS if dest == DEST else META_CREDS,
        clients={GOOGLE_ADS: google},
        config=DeliveryConfig(concurrency=concurrency),
    )
    started = time.perf_counter()
    report = await d.drain()
    seconds = time.perf_counter() - started
    await capi.aclose()
    await google.aclose()
    return report.sent, seconds


def run(
    name: str, url: str, kind: str, sandboxes: dict[str, str], n: int, concurrency: int
) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox"))
        conn.execute(text("DELETE FROM delivery_log"))
    fill(engine, n, f"{name}-{kind}-{uuid.uuid4().hex[:6]}", kind)
    sent, seconds = asyncio.run(drain(engine, sandboxes["meta"], sandboxes["google"], concurrency))
    engine.dispose()
    assert sent == n, (sent, n)
    rate = n / seconds
    print(f"{kind:6s} {name:10s} c={concurrency}: {n} events in {seconds:.2f}s = {rate:,.0f}/s")
    return {
        "engine": name,
        "destination": kind,
        "events": n,
        "seconds": round(seconds, 3),
        "events_per_s": round(rate),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("POAS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine()}
    meta_proc, meta_url = start(["sandbox"], "/_sandbox/stats")
    google_proc, google_url = start(["sandbox", "google"], "/_sandbox/conversions")
    sandboxes = {"meta": meta_url, "google": google_url}
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ("meta", "google"):
                rows.append(
                    run(
                        "sqlite", f"sqlite:///{tmp}/{kind}.db", kind, sandboxes, args.events, args.concurrency
                    )
                )
        pg_db = f"poas_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{pg_db}"'))
        except Exception as exc:  # no PostgreSQL here: report SQLite only
            print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
        else:
            pg_url = args.pg_url.rsplit("/", 1)[0] + "/" + pg_db
            try:
                for kind in ("meta", "google"):
                    rows.append(run("postgresql", pg_url, kind, sandboxes, args.events, args.concurrency))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
    finally:
        for proc in (meta_proc, google_proc):
            proc.terminate()
            proc.wait(timeout=10)
    by = {(r["engine"], r["destination"]): r["events_per_s"] for r in rows}
    results["runs"] = rows
    results["google_vs_meta"] = {
        engine: round(by[(engine, "google")] / by[(engine, "meta")], 2)
        for engine in ("sqlite", "postgresql")
        if (engine, "google") in by and (engine, "meta") in by
    }
    out = ROOT / "results" / "google_delivery.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["google_vs_meta"]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
