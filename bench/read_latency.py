"""Benchmark: read latency beside a steady webhook load on SQLite (readers never wait for writers).

poas runs as a uvicorn subprocess (one worker, the default set-up: the web process also processes
what it accepts) on a SQLite store. A client posts signed Shopify `orders/paid` deliveries at a fixed
rate (default 50/s, open loop: each on its own schedule, whatever the answers' latency), first alone
and then while one reader walks dashboard pages and API reads (one at a time, `--reader-pause` apart).
Reported: p50 / p95 / max of the webhook answers without and with the reader, and of the reads (all
and per path). Prints the machine (with the load average) and writes bench/results/read_latency.json.

Targets (issue #15): reads p95 <= 50 ms and max <= 250 ms under that load; webhook answers p95 <=
50 ms with the reader active.

    .venv/bin/python bench/read_latency.py [--rate 50] [--seconds 30] [--seed 500] [--reader-pause 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from machine_info import machine
from webhook_intake import SECRET, bodies, free_port, percentile

from poas.sources.payload import sign_hmac_sha256_base64
from poas.web.auth import hash_password

ROOT = Path(__file__).resolve().parent
PASSWORD = "bench-reader-password"
API_TOKEN = "bench-admin-api-token-0123456789"
CONFIG = f"""
[[shops]]
id = "bench"
platform = "shopify"
currency = "NOK"
default_margin = 0.5
webhook_secrets = ["{SECRET}"]
"""
PAGES = ["/", "/campaigns", "/products", "/orders", "{order}"]
API = ["/api/v1/report?by=campaign", "/api/v1/orders?limit=50", "{api_order}", "/healthz"]


def stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "max_ms": round(max(ms), 1),
    }


class Webhooks:
    """Signed deliveries at a fixed rate; each answer's latency and status kept."""

    def __init__(self, client: httpx.AsyncClient, payloads: list[bytes], prefix: str) -> None:
        self.client, self.payloads, self.prefix = client, payloads, prefix
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    async def one(self, i: int) -> None:
        body = self.payloads[i]
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64(body, SECRET),
            "X-Shopify-Event-Id": f"{self.prefix}-{i}",
        }
        t0 = time.perf_counter()
        try:
            r = await self.client.post("/webhooks/shopify/bench", content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            return
        self.latencies.append(time.perf_counter() - t0)
        if r.status_code != 200:
            self.errors[f"HTTP {r.status_code}"] = self.errors.get(f"HTTP {r.status_code}", 0) + 1

    async def run(self, rate: float, seconds: float) -> None:
        n = min(len(self.payloads), round(rate * seconds))
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(i)))
        await asyncio.gather(*tasks)


async def reader(
    client: httpx.AsyncClient,
    paths: list[str],
    stop: asyncio.Event,
    pause: float,
    out: dict[str, list[float]],
) -> dict[str, int]:
    """Walk `paths` in turn until `stop`; latencies per path in `out`; returns non-200 answers."""
    errors: dict[str, int] = {}
    i = 0
    while not stop.is_set():
        path = paths[i % len(paths)]
        i += 1
        t0 = time.perf_counter()
        r = await client.get(path)
        out.setdefault(path, []).append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors[f"{path} HTTP {r.status_code}"] = errors.get(f"{path} HTTP {r.status_code}", 0) + 1
        await asyncio.sleep(pause)
    return errors


async def login(client: httpx.AsyncClient) -> None:
    page = (await client.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on /login"
    r = await client.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1)})
    assert "/login" not in str(r.url), "login failed"


async def bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    per_phase = round(args.rate * args.seconds)
    payloads = bodies(args.seed + 2 * per_phase)
    seed, alone, beside = (
        payloads[: args.seed],
        payloads[args.seed : args.seed + per_phase],
        payloads[args.seed + per_phase :],
    )
    result: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as hooks,
        httpx.AsyncClient(base_url=url, timeout=60, follow_redirects=True) as pages,
    ):
        await Webhooks(hooks, seed, "seed").run(rate=200, seconds=args.seed / 200)
        await asyncio.sleep(3)  # let the web process finish processing the seed deliveries
        await login(pages)
        orders = (await pages.get("/orders")).text
        first = re.search(r'href="(/orders/bench/[^"]+)"', orders)
        assert first, "no order on /orders after seeding"
        order_path = first.group(1)
        api = {"Authorization": f"Bearer {API_TOKEN}"}
        paths = [order_path if p == "{order}" else p for p in PAGES]
        paths += [order_path.replace("/orders/", "/api/v1/orders/") if p == "{api_order}" else p for p in API]
        pages.headers.update(api)  # the API reads need the token; the pages ignore it (session)
        for p in paths:  # warm-up: the first report rebuilds the rollups (timed apart)
            t0 = time.perf_counter()
            r = await pages.get(p)
            result.setdefault("first_read_ms", {})[p] = round((time.perf_counter() - t0) * 1000, 1)
            assert r.status_code == 200, (p, r.status_code)

        load = {"alone": round(os.getloadavg()[0], 2)}
        w_alone = Webhooks(hooks, alone, "alone")
        await w_alone.run(args.rate, args.seconds)
        await asyncio.sleep(2)

        load["with_reader"] = round(os.getloadavg()[0], 2)
        w_beside = Webhooks(hooks, beside, "beside")
        reads: dict[str, list[float]] = {}
        stop = asyncio.Event()
        read_task = asyncio.create_task(reader(pages, paths, stop, args.reader_pause, reads))
        await w_beside.run(args.rate, args.seconds)
        stop.set()
        read_errors = await read_task

    all_reads = [v for vs in reads.values() for v in vs]
    result.update(
        load_avg_1m_before_phase=load,
        webhooks_alone=stats(w_alone.latencies) | {"errors": w_alone.errors},
        webhooks_with_reader=stats(w_beside.latencies) | {"errors": w_beside.errors},
        reads=stats(all_reads) | {"errors": read_errors},
        reads_per_path={p: stats(v) for p, v in reads.items()},
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=50.0, help="webhooks per second")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    ap.add_argument("--seed", type=int, default=500, help="orders posted before the phases")
    ap.add_argument("--reader-pause", type=float, default=0.05, help="seconds between two reads")
    args = ap.parse_args()
    info = machine()
    print(json.dumps(info, indent=1))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = home / "poas.toml"
        config.write_text(CONFIG)
        env = dict(
            os.environ,
            POAS_CONFIG_FILE=str(config),
            POAS_DATABASE_URL=f"sqlite:///{home / 'poas.db'}",
            POAS_HOME=str(home),
            POAS_ADMIN_PASSWORD_HASH=hash_password(PASSWORD),
            POAS_SESSION_SECRET="bench-session-secret-0123456789abcdef",
            POAS_ADMIN_API_TOKEN=API_TOKEN,
            POAS_COOKIE_SECURE="false",
        )
        port = free_port()
        cmd = [sys.executable, "-m", "uvicorn", "poas.web.server:app_from_env", "--factory"]
        cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
        server = subprocess.Popen(cmd, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            result = asyncio.run(bench(url, args))
        finally:
            server.terminate()
            server.wait(10)
    result = {"machine": info, "rate_per_s": args.rate, "seconds": args.seconds, **result}
    for name in ("webhooks_alone", "webhooks_with_reader", "reads"):
        r = result[name]
        print(
            f"{name:22} n={r['n']:5}  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms"
            f"  max {r['max_ms']:7.1f} ms"
        )
    for path, r in result["reads_per_path"].items():
        print(
            f"  {path:40} n={r['n']:4}  p50 {r['p50_ms']:7.1f}  p95 {r['p95_ms']:7.1f}"
            f"  max {r['max_ms']:7.1f}"
        )
    met = (
        result["reads"]["p95_ms"] <= 50
        and result["reads"]["max_ms"] <= 250
        and result["webhooks_with_reader"]["p95_ms"] <= 50
    )
    result["target_met"] = met
    print(
        "target (reads p95 <= 50 ms, max <= 250 ms; webhooks p95 <= 50 ms with reader):",
        "met" if met else "NOT met",
    )
    out = ROOT / "results" / "read_latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
