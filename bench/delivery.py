"""Benchmark: events/s from the outbox to the Meta sandbox (batches of 1,000) vs the facebook-business SDK.

The sandbox runs in its own process (`poas sandbox`), reached over real HTTP on localhost. Our side:
events are enqueued first (not timed), then one dispatcher drains them (timed: claim, send, mark).
SDK side: `BatchProcessor.process_events` with `EventRequestAsync`, `FacebookSession.GRAPH` pointed at
the same sandbox; the Event objects are built before timing. Prints the machine and writes
bench/results/delivery.json.

    .venv/bin/python bench/delivery.py [--events 50000] [--sdk-events 5000] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from machine_info import machine
from sqlalchemy import text

from poas.meta.capi import CapiClient, Credentials
from poas.services.deliver import DeliveryConfig, Dispatcher
from poas.store import outbox as ob
from poas.store.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parent
TOKEN = "EAAB-bench-token-0000000000"
EMAIL_HASH = hashlib.sha256(b"kari@example.no").hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    poas = str(Path(sys.executable).parent / "poas")
    proc = subprocess.Popen([poas, "sandbox", "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_sandbox/stats", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def event(event_id: str, t: int) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": t,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example.no/checkout",
        "user_data": {"em": [EMAIL_HASH], "client_user_agent": "Mozilla/5.0 (bench)"},
        "custom_data": {"currency": "NOK", "value": 499.0, "net_revenue": 120.5, "order_id": event_id},
    }


def fill(engine: Any, n: int, prefix: str) -> None:
    now = datetime.now(UTC)
    t = int((now - timedelta(minutes=10)).timestamp())
    for start in range(0, n, 5000):
        rows = [
            ob.OutboxEvent(
                shop_id="bench",
                pixel_id="px-bench",
                event_name="Purchase",
                event_id=f"{prefix}-{i}",
                order_id=f"{prefix}-{i}",
                event_time=now - timedelta(minutes=10),
                payload=json.dumps(event(f"{prefix}-{i}", t), separators=(",", ":")),
            )
            for i in range(start, min(n, start + 5000))
        ]
        with engine.begin() as conn:
            ob.enqueue(conn, rows, now=now)


def sandbox_unique(url: str) -> int:
    return int(httpx.get(f"{url}/_sandbox/stats", timeout=30).json()["events_unique"])


def cpu_s(proc: psutil.Process) -> float:
    """CPU seconds (user + system) a process has used: a measure other load on the machine cannot skew."""
    t = proc.cpu_times()
    return float(t.user + t.system)


SANDBOX: psutil.Process | None = None


async def drain(engine: Any, url: str, concurrency: int, body_format: str) -> dict[str, Any]:
    client = CapiClient(url, "v25.0", timeout_s=60, max_connections=concurrency * 2, body_format=body_format)  # type: ignore[arg-type]
    creds = Credentials(access_token=TOKEN)
    d = Dispatcher(engine, client, lambda s, p: creds, config=DeliveryConfig(concurrency=concurrency))
    me = psutil.Process()
    cpu0, sb0 = cpu_s(me), cpu_s(SANDBOX) if SANDBOX else 0.0
    started = time.perf_counter()
    report = await d.drain()
    seconds = time.perf_counter() - started
    cpu, sb_cpu = cpu_s(me) - cpu0, (cpu_s(SANDBOX) - sb0) if SANDBOX else 0.0
    await client.aclose()
    return {
        "sent": report.sent,
        "requests": report.requests,
        "seconds": round(seconds, 3),
        "client_cpu_s": round(cpu, 3),
        "sandbox_cpu_s": round(sb_cpu, 3),
    }


def bench_ours(
    name: str, url: str, sandbox: str, n: int, concurrency: int, body_format: str
) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox"))
        conn.execute(text("DELETE FROM delivery_log"))
    prefix = f"{name}-{uuid.uuid4().hex[:6]}"
    fill(engine, n, prefix)
    before = sandbox_unique(sandbox)
    result = asyncio.run(drain(engine, url=sandbox, concurrency=concurrency, body_format=body_format))
    accepted = sandbox_unique(sandbox) - before
    engine.dispose()
    assert result["sent"] == n and accepted == n, (result, accepted)
    rate = n / result["seconds"]
    per_cpu = n / result["client_cpu_s"] if result["client_cpu_s"] else 0.0
    print(
        f"poas {name:10s} {body_format:4s} c={concurrency}: {n} events "
        f"in {result['seconds']:.2f}s = {rate:,.0f}/s; {per_cpu:,.0f} events per client CPU-second "
        f"(sandbox used {result['sandbox_cpu_s']:.1f} CPU-s)"
    )
    return {
        **result,
        "engine": name,
        "events": n,
        "concurrency": concurrency,
        "body": body_format,
        "batch_size": 1000,
        "events_per_s": round(rate),
        "events_per_client_cpu_s": round(per_cpu),
    }


def bench_sdk(sandbox: str, n: int, batch_size: int, concurrent: int) -> dict[str, Any]:
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.batch_processor import BatchProcessor
    from facebook_business.adobjects.serverside.custom_data import CustomData
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request_async import EventRequestAsync
    from facebook_business.adobjects.serverside.user_data import UserData
    from facebook_business.api import FacebookAdsApi
    from facebook_business.session import FacebookSession

    FacebookSession.GRAPH = sandbox  # the SDK's base URL, pointed at the sandbox
    FacebookAdsApi.init(access_token=TOKEN)
    t = int(time.time()) - 600
    tag = uuid.uuid4().hex[:6]
    events = [
        Event(
            event_name="Purchase",
            event_time=t,
            event_id=f"sdk-{tag}-{i}",
            action_source=ActionSource.WEBSITE,
            event_source_url="https://shop.example.no/checkout",
            user_data=UserData(emails=[EMAIL_HASH], client_user_agent="Mozilla/5.0 (bench)"),
            custom_data=CustomData(currency="NOK", value=499.0, net_revenue=120.5, order_id=f"sdk-{tag}-{i}"),
        )
        for i in range(n)
    ]
    template = EventRequestAsync(pixel_id="px-sdk", events=[])
    before = sandbox_unique(sandbox)
    me = psutil.Process()
    cpu0, sb0 = cpu_s(me), cpu_s(SANDBOX) if SANDBOX else 0.0
    started = time.perf_counter()
    BatchProcessor(batch_size=batch_size, concurrent_requests=concurrent).process_events(template, events)
    seconds = time.perf_counter() - started
    cpu, sb_cpu = cpu_s(me) - cpu0, (cpu_s(SANDBOX) - sb0) if SANDBOX else 0.0
    accepted = sandbox_unique(sandbox) - before
    assert accepted == n, f"the SDK got {accepted} of {n} events accepted"
    rate = n / seconds
    per_cpu = n / cpu if cpu else 0.0
    print(
        f"SDK  batch={batch_size:4d} concurrent={concurrent}: {n} events in {seconds:.2f}s = {rate:,.0f}/s; "
        f"{per_cpu:,.0f} events per client CPU-second (sandbox used {sb_cpu:.1f} CPU-s)"
    )
    return {
        "events": n,
        "batch_size": batch_size,
        "concurrent_requests": concurrent,
        "seconds": round(seconds, 3),
        "events_per_s": round(rate),
        "events_per_client_cpu_s": round(per_cpu),
        "client_cpu_s": round(cpu, 3),
        "sandbox_cpu_s": round(sb_cpu, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--sdk-events", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("POAS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()

    info = machine()
    print("machine:", json.dumps(info))
    global SANDBOX
    proc, sandbox = start_sandbox()
    SANDBOX = psutil.Process(proc.pid)
    results: dict[str, Any] = {
        "benchmark": "delivery",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "sandbox": "poas sandbox, separate process, localhost HTTP",
    }
    try:
        ours: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(
                bench_ours(
                    "sqlite", f"sqlite:///{tmp}/bench.db", sandbox, args.events, args.concurrency, "form"
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
                ours.append(bench_ours("postgresql", pg_url, sandbox, args.events, args.concurrency, "form"))
                ours.append(bench_ours("postgresql", pg_url, sandbox, args.events, args.concurrency, "json"))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
        sdk = [
            bench_sdk(sandbox, args.sdk_events, 50, 4),  # the SDK's defaults
            bench_sdk(sandbox, args.sdk_events, 1000, 4),
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    best_sdk = max(s["events_per_s"] for s in sdk)
    default_sdk = sdk[0]["events_per_s"]
    results.update(
        {
            "poas": ours,
            "sdk": sdk,
            "target_events_per_s": 20_000,
            "ratio_vs_sdk_default": {
                f"{o['engine']}/{o['body']}": round(o["events_per_s"] / default_sdk, 1) for o in ours
            },
            "ratio_vs_sdk_best": {
                f"{o['engine']}/{o['body']}": round(o["events_per_s"] / best_sdk, 1) for o in ours
            },
            # Events per CPU-second of the sending process: not skewed by other load on the machine.
            "cpu_ratio_vs_sdk_default": {
                f"{o['engine']}/{o['body']}": round(
                    o["events_per_client_cpu_s"] / sdk[0]["events_per_client_cpu_s"], 1
                )
                for o in ours
            },
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        }
    )
    out = ROOT / "results" / "delivery.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        json.dumps(
            {k: results[k] for k in ("ratio_vs_sdk_default", "ratio_vs_sdk_best", "cpu_ratio_vs_sdk_default")}
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
