"""Load test of the running server: web processes, workers and the Meta sandbox, with invariants checked.

Starts `poas sandbox`, N `poas web` processes (same database, different ports) and K `poas worker`
processes, then sends a bounded mix of signed Shopify `orders/paid` webhooks (unique orders), exact
duplicate deliveries (~10 %), `orders/updated` for the same orders, and admin dashboard/API reads,
while one worker is stopped with SIGTERM and restarted and another is killed with SIGKILL. It reports
throughput and p50/p99 latency per request kind and checks, at the end: every accepted order is
stored once, has one Purchase in the outbox, and the sandbox accepted that Purchase once (a repeat
only for an event the killed worker held, or one whose answer the sandbox withheld to catch a worker
mid-request); no answer was a 5xx, no process logged a traceback, a token, a secret or a customer's
contact data.
Prints the machine and writes bench/results/loadtest.json.

    .venv/bin/python bench/loadtest.py [--orders 4000] [--duration 90] [--pg-url URL]
                                       [--only sqlite-serve|sqlite|postgresql]

Runs: `sqlite-serve` (one `poas serve`: web + worker in one process, the embedded default; no worker
to kill), `sqlite` (one `poas web` + two `poas worker`) and `postgresql` (--web × `poas web --workers
--web-workers` + --workers `poas worker`).

`run_load(LoadConfig(...))` is what tests/integration/test_load_smoke.py runs on a small scale.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from machine_info import machine
from sqlalchemy import Engine, func, select, text, update

from poas.sources.payload import sign_hmac_sha256_base64
from poas.store.db import make_engine, upgrade
from poas.store.tables.delivery import delivery_log, outbox
from poas.store.tables.foundation import orders
from poas.store.tables.intake import inbox
from poas.web.auth import hash_password

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
FIXTURE = REPO / "tests" / "fixtures" / "shopify" / "order_paid.json"
POAS = str(Path(sys.executable).parent / "poas")
OSLO = ZoneInfo("Europe/Oslo")
TOKEN = "EAAB-loadtest-token-0000000000"
PASSWORD = "load-test-admin-password"
SHOPS = [("load-a", "200000000000001"), ("load-b", "200000000000002")]
READS = {
    "dashboard_overview": "/",
    "dashboard_orders": "/orders",
    "dashboard_delivery": "/delivery",
    "api_report": "/api/v1/report?by=campaign",
}


@dataclass
class LoadConfig:
    db_url: str
    engine_name: str  # "sqlite" | "postgresql": labels the result
    orders: int = 2000  # unique orders (each one signed orders/paid delivery)
    serve: bool = False  # one `poas serve` (web + worker in one process) instead of web + workers
    web: int = 2  # `poas web` processes
    web_workers: int = 1  # uvicorn worker processes in each (`poas web --workers`)
    workers: int = 3  # `poas worker` processes
    duplicate_share: float = 0.10  # exact repeats of a paid delivery (same body, same event id)
    update_share: float = 0.30  # orders that also get an orders/updated delivery
    concurrency: int = 32  # webhook requests in flight
    readers: int = 2  # concurrent dashboard readers (logged-in admin)
    duration_s: float = 120.0  # stop sending new requests after this long
    drain_timeout_s: float = 420.0  # then wait at most this long for every Purchase to be sent
    lease_s: float = 5.0  # worker claim lease: how soon a killed worker's events are taken over
    chaos: bool = True  # SIGTERM + restart one worker, SIGKILL another, during the run
    # The inbox lease is 5 minutes: rows the killed worker had claimed wait that long. True moves
    # their lease end to "now" after the traffic (a clock jump) instead of waiting it out.
    fast_forward_inbox_lease: bool = False
    seed: int = 7
    log_dir: Path | None = None  # where process logs go (a temp dir when None)


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float


@dataclass
class Observed:
    """Everything the run saw; `verify` turns it into failures."""

    samples: list[Sample] = field(default_factory=list)
    accepted: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # shop -> paid orders
    touched: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # shop -> any delivery
    accepted_at: dict[str, float] = field(default_factory=dict)  # event id -> first 200 (wall time)
    transport_errors: list[str] = field(default_factory=list)
    stored: dict[str, list[str]] = field(default_factory=dict)  # shop -> order ids in the store
    purchases: list[dict[str, Any]] = field(default_factory=list)  # outbox Purchase rows
    inbox_status: dict[str, int] = field(default_factory=dict)
    inbox_errors: list[str] = field(default_factory=list)
    sandbox_records: list[dict[str, Any]] = field(default_factory=list)
    killed_in_flight: set[str] = field(default_factory=set)  # event ids the SIGKILLed worker held
    killed_worker: str = ""
    killed_pid: int = 0
    killed_inbox: int = 0  # inbox rows the killed worker held when the traffic ended
    inbox_recovered_s: float | None = None  # how long after the kill its inbox rows were processed
    killed_at: float = 0.0
    answer_lost: set[str] = field(default_factory=set)  # event ids of requests answered 504 (the fault)
    resend_audit: list[str] = field(default_factory=list)  # delivery-log rows of unexplained repeats
    graceful: dict[str, bool] = field(default_factory=dict)  # process -> logged its orderly stop
    chaos_log: list[str] = field(default_factory=list)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    log_problems: list[str] = field(default_factory=list)
    traffic_s: float = 0.0
    drain_s: float = 0.0
    drained: bool = False


# ----------------------------------------------------------------------------------- the machine


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ----------------------------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class Delivery:
    kind: str  # webhook_paid | webhook_duplicate | webhook_updated
    shop_id: str
    order_id: str
    topic: str
    event_id: str  # X-Shopify-Event-Id (the inbox's dedup key)
    body: bytes


def _stamp(dt: datetime) -> str:
    return dt.astimezone(OSLO).isoformat(timespec="seconds")


def deliveries(cfg: LoadConfig, now: datetime) -> list[Delivery]:
    """Unique paid orders, exact repeats of some, and an update for others, in a shuffled order.

    Repeats and updates are placed after the first delivery of their order most of the time, but
    not always: an update may overtake its paid delivery, as Shopify's can.
    """
    rng = random.Random(cfg.seed)
    base = json.loads(FIXTURE.read_text())
    run = uuid.uuid4().int % 10**6
    out: list[Delivery] = []
    extra: list[tuple[int, Delivery]] = []
    for i in range(cfg.orders):
        shop_id = SHOPS[i % len(SHOPS)][0]
        order_id = str(9_000_000_000_000 + run * 100_000 + i)
        created = now - timedelta(minutes=30, seconds=rng.randrange(600))
        doc = copy.deepcopy(base)
        doc.update(
            id=int(order_id),
            admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
            name=f"#L{i}",
            order_number=100_000 + i,
            number=99_000 + i,
            created_at=_stamp(created),
            processed_at=_stamp(created),
            updated_at=_stamp(created + timedelta(seconds=4)),
            token=uuid.uuid4().hex,
        )
        body = json.dumps(doc).encode()
        paid = Delivery("webhook_paid", shop_id, order_id, "orders/paid", f"paid-{order_id}", body)
        out.append(paid)
        if rng.random() < cfg.duplicate_share:
            extra.append((len(out) + rng.randrange(1, 40), replace(paid, kind="webhook_duplicate")))
        if rng.random() < cfg.update_share:
            doc["updated_at"] = _stamp(created + timedelta(minutes=2))
            doc["tags"] = "load-test, updated"
            doc["note"] = "gift wrap"
            upd = Delivery(
                "webhook_updated",
                shop_id,
                order_id,
                "orders/updated",
                f"upd-{order_id}",
                json.dumps(doc).encode(),
            )
            extra.append((len(out) + rng.randrange(-3, 40), upd))
    for position, d in sorted(extra, key=lambda x: x[0], reverse=True):
        out.insert(max(0, min(position, len(out))), d)
    return out


def signed_headers(d: Delivery, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": d.topic,
        "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64(d.body, secret),
        "X-Shopify-Event-Id": d.event_id,
        "X-Shopify-Shop-Domain": f"{d.shop_id}.myshopify.com",
    }


# ----------------------------------------------------------------------------------- processes


class Cluster:
    """The sandbox, the web processes and the workers, each a subprocess with its own log file."""

    def __init__(self, cfg: LoadConfig, home: Path, logs: Path) -> None:
        self.cfg = cfg
        self.home = home
        self.logs = logs
        self.secrets = {shop: f"shpss_{shop}_{secrets.token_hex(8)}" for shop, _ in SHOPS}
        self.sandbox_url = ""
        self.web_urls: list[str] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.exit_codes: dict[str, int | None] = {}
        self.env: dict[str, str] = {}
        self._n = 0

    def secret_values(self) -> list[str]:
        keys = ("POAS_ADMIN_PASSWORD_HASH", "POAS_SESSION_SECRET")
        return [TOKEN, PASSWORD, *self.secrets.values(), *(self.env[k] for k in keys if k in self.env)]

    def config_toml(self) -> str:
        parts = []
        for shop, pixel in SHOPS:
            parts.append(
                f'[[shops]]\nid = "{shop}"\nplatform = "shopify"\ncurrency = "NOK"\n'
                f'domain = "{shop}.example.no"\npixel_id = "{pixel}"\naccess_token = "{TOKEN}"\n'
                f'webhook_secrets = ["{self.secrets[shop]}"]\nconsent_policy = "always"\n'
                'missing_cost = "fallback_margin"\ndefault_margin = 0.4\n'
            )
        return "\n".join(parts)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen([POAS, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        return proc

    def start(self) -> None:
        (self.home / "poas.toml").write_text(self.config_toml())
        sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.env = {
            **os.environ,
            "POAS_HOME": str(self.home),
            "POAS_CONFIG_FILE": str(self.home / "poas.toml"),
            "POAS_DATABASE_URL": self.cfg.db_url,
            "POAS_GRAPH_BASE_URL": self.sandbox_url,
            "POAS_GRAPH_TIMEOUT_S": "30",
            "POAS_LOG_FORMAT": "json",
            "POAS_ADMIN_PASSWORD_HASH": hash_password(PASSWORD),
            "POAS_SESSION_SECRET": secrets.token_urlsafe(32),  # shared: a login works on every web process
        }
        self._spawn("sandbox", ["sandbox", "--port", str(sandbox_port)])
        _wait_http(f"{self.sandbox_url}/_sandbox/stats", "the sandbox")
        engine = make_engine(self.cfg.db_url)
        upgrade(engine)  # `poas db upgrade` before any web process starts, as the README says
        engine.dispose()
        if self.cfg.serve:  # the embedded default: one process serves and delivers
            port = free_port()
            self._spawn("serve0", ["serve", "--port", str(port)])
            self.web_urls.append(f"http://127.0.0.1:{port}")
        for i in range(0 if self.cfg.serve else self.cfg.web):
            port = free_port()
            self._spawn(f"web{i}", ["web", "--port", str(port), "--workers", str(self.cfg.web_workers)])
            self.web_urls.append(f"http://127.0.0.1:{port}")
        for url in self.web_urls:
            _wait_http(f"{url}/healthz", "a web process", timeout_s=60)
        names = [self.start_worker() for _ in range(0 if self.cfg.serve else self.cfg.workers)]
        for name in names:
            self.wait_worker(name)

    def start_worker(self) -> str:
        name = f"worker{self._n}"
        self._n += 1
        args = ["worker", "--concurrency", "4", "--batch-size", "200", "--poll-s", "0.2"]
        self._spawn(name, [*args, "--lease-s", str(self.cfg.lease_s), "--retry-base-s", "0.2"])
        return name

    def wait_worker(self, name: str, timeout_s: float = 60) -> None:
        """Until the worker logged that it runs (its signal handlers are installed by then)."""
        log = self.logs / f"{name}.log"
        deadline = time.monotonic() + timeout_s
        while "worker started" not in log.read_text(errors="replace"):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start (see {log})")
            time.sleep(0.05)

    def workers(self) -> list[str]:
        return [n for n, p in self.procs.items() if n.startswith("worker") and p.poll() is None]

    def stop(self, name: str, sig: int | None = signal.SIGTERM, timeout_s: float = 30) -> int | None:
        """Send `sig` (None: it was sent already) and wait; killed after `timeout_s`."""
        proc = self.procs[name]
        if proc.poll() is None:
            if sig is not None:
                proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.exit_codes[name] = proc.returncode
        return proc.returncode

    def stop_all(self) -> None:
        """SIGTERM the workers together, then the web processes, then the sandbox."""
        for group in ("worker", "web", "serve", "sandbox"):
            names = [n for n, p in self.procs.items() if n.startswith(group) and p.poll() is None]
            for name in names:
                self.procs[name].send_signal(signal.SIGTERM)
            for name in names:
                self.stop(name, None)


def _wait_http(url: str, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout_s:.0f}s")


def held_by(engine: Engine, pid: int) -> set[str]:
    """Event ids still claimed by the worker with this pid (a dead worker's claims last a lease)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.event_id, outbox.c.lease_owner).where(outbox.c.state == "sending")
        ).all()
    return {r.event_id for r in rows if _pid_of(r.lease_owner or "") == pid}


def _pid_of(lease_owner: str) -> int | None:
    match = re.search(r"-(\d+)-[0-9a-f]+\.\d+$", lease_owner)  # host-pid-random.claim
    return int(match.group(1)) if match else None


def hang_and_find(cluster: Cluster, engine: Engine, timeout_s: float = 60) -> tuple[str, int]:
    """Make the sandbox keep the next request's events but hold its answer; return the worker that
    sent it (mid-request now) and its pid."""
    sb = cluster.sandbox_url
    spec = {"kind": "timeout", "count": 1, "delay_s": 20, "record": True}
    httpx.post(f"{sb}/_sandbox/faults", json=spec, timeout=10).raise_for_status()
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{sb}/_sandbox/stats", timeout=10).json()["faults_injected"].get("timeout", 0) < 1:
        if time.monotonic() > deadline:
            raise RuntimeError("no Purchase was sent within the chaos timeout: nothing to kill mid-batch")
        time.sleep(0.05)
    # Other workers' requests of that moment are answered within a few seconds; the hung one stays.
    owners: Counter[int | None] = Counter()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        records = httpx.get(f"{sb}/_sandbox/events", timeout=30).json()["data"]
        recorded = {r["event"]["event_id"] for r in records}
        with engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.event_id, outbox.c.lease_owner).where(outbox.c.state == "sending")
            ).all()
        owners = Counter(_pid_of(r.lease_owner or "") for r in rows if r.event_id in recorded)
        if len(owners) == 1:
            break
    pid = next(iter(owners)) if len(owners) == 1 else None
    for name in cluster.workers():
        if cluster.procs[name].pid == pid:
            return name, pid
    raise RuntimeError(f"the hung request's worker was not found (lease owners {dict(owners)})")


# ----------------------------------------------------------------------------------- traffic


async def _login(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or match is None:
        raise RuntimeError(f"login page: HTTP {page.status_code}, no CSRF token")
    form = {"password": PASSWORD, "csrf_token": match.group(1), "next": "/"}
    answer = await client.post("/login", data=form)
    if answer.status_code != 303:
        raise RuntimeError(f"login refused: HTTP {answer.status_code}")


async def traffic(cluster: Cluster, plan: list[Delivery], engine: Engine, seen: Observed) -> None:
    cfg = cluster.cfg
    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    hooks = [httpx.AsyncClient(base_url=u, limits=limits, timeout=60) for u in cluster.web_urls]
    readers = [httpx.AsyncClient(base_url=u, timeout=60) for u in cluster.web_urls]
    await _login(readers[0])
    for r in readers[1:]:  # the session cookie of web0 must be honoured by every web process
        r.cookies = readers[0].cookies
    queue: asyncio.Queue[tuple[int, Delivery]] = asyncio.Queue()
    for item in enumerate(plan):
        queue.put_nowait(item)
    started = time.monotonic()
    done = asyncio.Event()
    sent = 0

    def record(kind: str, status: int, t0: float) -> None:
        seen.samples.append(Sample(kind, status, time.perf_counter() - t0))

    async def post(i: int, d: Delivery) -> None:
        client = hooks[i % len(hooks)]
        t0 = time.perf_counter()
        try:
            r = await client.post(
                f"/webhooks/shopify/{d.shop_id}",
                content=d.body,
                headers=signed_headers(d, cluster.secrets[d.shop_id]),
            )
        except httpx.HTTPError as exc:
            seen.transport_errors.append(f"{d.kind} {d.event_id}: {type(exc).__name__}")
            return
        record(d.kind, r.status_code, t0)
        if r.status_code == 200 and r.json().get("status") in ("accepted", "duplicate"):
            seen.accepted_at.setdefault(d.event_id, time.time())
            seen.touched[d.shop_id].add(d.order_id)
            if d.topic == "orders/paid":
                seen.accepted[d.shop_id].add(d.order_id)

    async def sender() -> None:
        nonlocal sent
        while not queue.empty() and time.monotonic() - started < cfg.duration_s:
            i, d = queue.get_nowait()
            await post(i, d)
            sent += 1

    async def reader(n: int) -> None:
        kinds = list(READS)
        i = n
        # Every reader asks for each kind of page at least once, however slow the pages are on a
        # loaded machine (a dashboard read can wait seconds for SQLite's write lock).
        while not done.is_set() or i < n + len(kinds):
            kind = kinds[i % len(kinds)]
            client = readers[i % len(readers)]
            i += 1
            t0 = time.perf_counter()
            try:
                r = await client.get(READS[kind], follow_redirects=False)
            except httpx.HTTPError as exc:
                seen.transport_errors.append(f"{kind}: {type(exc).__name__}")
                continue
            record(kind, r.status_code, t0)

    async def reach(share: float) -> None:
        """Until this share of the plan is sent, or of the time is used (whichever comes first)."""
        while sent < share * len(plan) and time.monotonic() - started < share * cfg.duration_s:
            if done.is_set():
                return
            await asyncio.sleep(0.05)

    async def chaos() -> None:
        """At 25 % of the run SIGKILL a worker mid-batch; at 60 % SIGTERM another; restart both."""
        if not cfg.chaos or cfg.serve or cfg.workers < 2:
            return
        await reach(0.25)
        victim, pid = await asyncio.to_thread(hang_and_find, cluster, engine)
        os.kill(pid, signal.SIGKILL)
        cluster.procs[victim].wait(timeout=10)
        cluster.exit_codes[victim] = cluster.procs[victim].returncode
        # Looked up after the kill: what it claimed in its last moments counts too.
        held = await asyncio.to_thread(held_by, engine, pid)
        seen.killed_worker, seen.killed_pid, seen.killed_in_flight = victim, pid, held
        seen.killed_at = time.monotonic()
        seen.chaos_log.append(f"SIGKILL {victim} at {sent} requests, mid-request holding {len(held)} events")
        fresh = cluster.start_worker()
        await asyncio.to_thread(cluster.wait_worker, fresh)
        seen.chaos_log.append(f"started {fresh} at {sent} requests")
        await reach(0.60)
        victim = cluster.workers()[0]
        code = await asyncio.to_thread(cluster.stop, victim, signal.SIGTERM)
        seen.chaos_log.append(f"SIGTERM {victim} at {sent} requests: exit {code}")
        fresh = cluster.start_worker()
        await asyncio.to_thread(cluster.wait_worker, fresh)
        seen.chaos_log.append(f"started {fresh} at {sent} requests")

    t_start = time.perf_counter()
    chaos_task = asyncio.create_task(chaos())
    read_tasks = [asyncio.create_task(reader(n)) for n in range(cfg.readers)]
    await asyncio.gather(*(sender() for _ in range(cfg.concurrency)))
    seen.traffic_s = time.perf_counter() - t_start
    done.set()
    await asyncio.gather(*read_tasks)
    await chaos_task
    for c in hooks + readers:
        await c.aclose()


# ----------------------------------------------------------------------------------- after the run


def killed_inbox_rows(engine: Engine, seen: Observed) -> list[int]:
    """Inbox rows still claimed by the SIGKILLed worker (intake names claims host:pid)."""
    if not seen.killed_pid:
        return []
    with engine.connect() as conn:
        rows = conn.execute(select(inbox.c.id, inbox.c.worker).where(inbox.c.status == "processing")).all()
    return [r.id for r in rows if (r.worker or "").endswith(f":{seen.killed_pid}")]


def wait_drained(engine: Engine, cfg: LoadConfig, seen: Observed) -> None:
    """Until the inbox is processed and every Purchase is sent (or the drain timeout passes)."""
    t0 = time.perf_counter()
    held = killed_inbox_rows(engine, seen)
    seen.killed_inbox = len(held)
    if held and cfg.fast_forward_inbox_lease:
        with engine.begin() as conn:
            conn.execute(update(inbox).where(inbox.c.id.in_(held)).values(lease_until=datetime.now(UTC)))
        seen.chaos_log.append(f"moved the lease end of {len(held)} inbox rows of the killed worker to now")
    deadline = time.monotonic() + cfg.drain_timeout_s
    expected = sum(len(v) for v in seen.accepted.values())
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            open_rows = conn.execute(
                select(func.count()).where(inbox.c.status.in_(("pending", "processing")))
            ).scalar_one()
            unsent, sent = conn.execute(
                select(
                    func.count().filter(outbox.c.state != "sent"),
                    func.count().filter(outbox.c.state == "sent"),
                ).where(outbox.c.event_name == "Purchase")
            ).one()
        if held and seen.inbox_recovered_s is None and not killed_inbox_rows(engine, seen):
            seen.inbox_recovered_s = time.monotonic() - seen.killed_at
        if open_rows == 0 and unsent == 0 and sent >= expected:
            seen.drained = True
            break
        time.sleep(0.1)
    seen.drain_s = time.perf_counter() - t0


def collect(engine: Engine, sandbox_url: str, seen: Observed) -> None:
    with engine.connect() as conn:
        for shop, _ in SHOPS:
            seen.stored[shop] = list(
                conn.execute(select(orders.c.order_id).where(orders.c.shop_id == shop)).scalars()
            )
        seen.purchases = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    outbox.c.shop_id,
                    outbox.c.pixel_id,
                    outbox.c.order_id,
                    outbox.c.event_id,
                    outbox.c.state,
                    outbox.c.attempts,
                    outbox.c.last_error,
                ).where(outbox.c.event_name == "Purchase")
            )
        ]
        seen.inbox_status = {
            s: int(n) for s, n in conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status))
        }
        seen.inbox_errors = [
            f"inbox {r.id} ({r.topic}, order {r.order_id}): {r.status}: {r.error}"
            for r in conn.execute(
                select(inbox.c.id, inbox.c.topic, inbox.c.order_id, inbox.c.status, inbox.c.error).where(
                    inbox.c.error.is_not(None)
                )
            )
        ]
    answer = httpx.get(f"{sandbox_url}/_sandbox/events", params={"event_name": "Purchase"}, timeout=60)
    answer.raise_for_status()
    seen.sandbox_records = answer.json()["data"]
    repeated = {r["event"]["event_id"] for r in seen.sandbox_records if r["duplicate"]}
    with engine.connect() as conn:
        lost = conn.execute(select(delivery_log.c.outbox_ids).where(delivery_log.c.http_status == 504))
        lost_ids = {i for (ids,) in lost for i in ids}
        seen.answer_lost = set(
            conn.execute(select(outbox.c.event_id).where(outbox.c.id.in_(lost_ids))).scalars()
        )
    if repeated - seen.killed_in_flight - seen.answer_lost:  # who sent them: the requests' audit trail
        with engine.connect() as conn:
            ids = {
                r.id: r.event_id
                for r in conn.execute(select(outbox.c.id, outbox.c.event_id))
                if r.event_id in repeated - seen.killed_in_flight - seen.answer_lost
            }
            for r in conn.execute(select(delivery_log).order_by(delivery_log.c.id)):
                hits = [ids[i] for i in r.outbox_ids if i in ids]
                if hits:
                    seen.resend_audit.append(
                        f"{r.worker_id} {r.outcome} http={r.http_status} claimed={r.claimed_at:%H:%M:%S.%f} "
                        f"lease_until={r.lease_until:%H:%M:%S.%f} finished={r.finished_at:%H:%M:%S.%f} "
                        f"{len(hits)} of them"
                    )


PERSONAL = ("kari.nordmann@example.com", "Nordmann", "84.212.10.20", "Storgata")  # in the fixture


def scan_logs(logs: Path, secret_values: list[str]) -> list[str]:
    """Tracebacks, 5xx access lines, and any secret or personal value in any process's output."""
    problems = []
    for path in sorted(logs.glob("*.log")):
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if "Traceback" in line or re.search(r'HTTP/1\.[01]" 5\d\d', line):
                problems.append(f"{path.name}:{n}: {line.strip()[:300]}")
            leaked = [v for v in (*secret_values, *PERSONAL) if v in line]
            if leaked:  # name the kind of value, never the value
                problems.append(f"{path.name}:{n}: a secret or personal value is logged")
    return problems


def graceful_stops(logs: Path, killed: str) -> dict[str, bool]:
    """Whether each web process and each worker (but the killed one) logged its orderly end."""
    marks = {"web": "Application shutdown complete", "worker": "worker done:", "serve": "stopped:"}
    out = {}
    for path in sorted(logs.glob("*.log")):
        kind = re.sub(r"\d+$", "", path.stem)
        if kind in marks and path.stem != killed:
            out[path.stem] = marks[kind] in path.read_text(errors="replace")
    return out


def verify(seen: Observed) -> list[str]:
    """The invariants; each broken one is a line naming what and how many."""
    fails: list[str] = []
    five = Counter(s.kind for s in seen.samples if s.status >= 500)
    if five:
        fails.append(f"5xx answers: {dict(five)}")
    other = Counter(f"{s.kind} {s.status}" for s in seen.samples if s.status != 200 and s.status < 500)
    if other:
        fails.append(f"unexpected answers: {dict(other)}")
    if seen.transport_errors:
        fails.append(f"{len(seen.transport_errors)} transport errors, first: {seen.transport_errors[:3]}")
    if not seen.drained:
        fails.append(f"not drained within the timeout ({seen.drain_s:.0f}s)")
    for shop, wanted in seen.touched.items():
        stored = seen.stored.get(shop, [])
        dupes = [o for o, n in Counter(stored).items() if n > 1]
        missing = wanted - set(stored)
        extra = set(stored) - wanted
        if dupes or missing or extra:
            fails.append(f"{shop}: store has {len(missing)} missing, {len(extra)} extra, {len(dupes)} twice")
    expected = {(shop, o) for shop, ids in seen.accepted.items() for o in ids}
    per_order = Counter((p["shop_id"], p["order_id"]) for p in seen.purchases)
    not_one = {k: n for k, n in per_order.items() if n != 1}
    missing_p = expected - set(per_order)
    if not_one or missing_p or set(per_order) - expected:
        fails.append(
            f"outbox Purchases: {len(missing_p)} orders without one, {len(not_one)} with more than one, "
            f"{len(set(per_order) - expected)} for unknown orders"
        )
    unsent = [p for p in seen.purchases if p["state"] != "sent"]
    if unsent:
        fails.append(f"{len(unsent)} Purchases not sent, e.g. {unsent[:2]}")
    want_ids = Counter((p["pixel_id"], p["event_id"]) for p in seen.purchases)
    firsts = Counter(
        (r["pixel_id"], r["event"]["event_id"]) for r in seen.sandbox_records if not r["duplicate"]
    )
    repeats = Counter((r["pixel_id"], r["event"]["event_id"]) for r in seen.sandbox_records if r["duplicate"])
    lost = set(want_ids) - set(firsts)
    twice = {k for k, n in firsts.items() if n > 1}
    unknown = set(firsts) - set(want_ids)
    if lost or twice or unknown:
        fails.append(
            f"sandbox: {len(lost)} Purchases never accepted, {len(twice)} twice, {len(unknown)} unknown"
        )
    resent = {eid for _, eid in repeats}
    unexplained = resent - seen.killed_in_flight - seen.answer_lost
    if unexplained:
        fails.append(
            f"sandbox: {len(unexplained)} Purchases sent again that neither the killed worker held nor a "
            f"lost answer explains, e.g. {sorted(unexplained)[:3]}; requests: {seen.resend_audit}"
        )
    if seen.inbox_errors:
        fails.append(f"{len(seen.inbox_errors)} inbox rows failed at least once: {seen.inbox_errors[:3]}")
    for name, code in seen.exit_codes.items():
        if code == 0 or (name == seen.killed_worker and code == -signal.SIGKILL):
            continue
        if not name.startswith("worker") and code == -signal.SIGTERM:
            continue  # uvicorn re-raises the signal after its graceful shutdown (checked below)
        fails.append(f"{name} exited with {code}")
    for name, graceful in seen.graceful.items():
        if not graceful:
            fails.append(f"{name} did not log a graceful shutdown")
    if seen.log_problems:
        fails.append(f"{len(seen.log_problems)} log lines with a traceback or 5xx: {seen.log_problems[:3]}")
    return fails


def summarize(cfg: LoadConfig, seen: Observed, fails: list[str]) -> dict[str, Any]:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in seen.samples:
        by_kind[s.kind].append(s)
    kinds = {}
    for kind, samples in sorted(by_kind.items()):
        secs = [s.seconds for s in samples]
        kinds[kind] = {
            "requests": len(samples),
            "per_s": round(len(samples) / seen.traffic_s, 1) if seen.traffic_s else None,
            "p50_ms": round(percentile(secs, 50) * 1000, 1),
            "p99_ms": round(percentile(secs, 99) * 1000, 1),
            "max_ms": round(max(secs) * 1000, 1),
            "statuses": dict(Counter(str(s.status) for s in samples)),
        }
    first_at = {
        (r["pixel_id"], r["event"]["event_id"]): r["received_at"] for r in reversed(seen.sandbox_records)
    }
    lags = []
    for (_, event_id), received in first_at.items():
        accepted = seen.accepted_at.get(f"paid-{event_id}")
        if accepted is not None:
            lags.append(datetime.fromisoformat(received).timestamp() - accepted)
    cfg_out = {k: v for k, v in asdict(cfg).items() if k not in ("db_url", "log_dir")}
    accepted = sum(len(v) for v in seen.accepted.values())
    return {
        "engine": cfg.engine_name,
        "config": cfg_out,
        "orders_accepted": accepted,
        "requests": len(seen.samples),
        "traffic_s": round(seen.traffic_s, 2),
        "requests_per_s": round(len(seen.samples) / seen.traffic_s, 1) if seen.traffic_s else None,
        "drain_after_traffic_s": round(seen.drain_s, 2),
        "purchases_sent_per_s": round(accepted / (seen.traffic_s + seen.drain_s), 1) if accepted else 0,
        "webhook_to_meta_lag_s": {
            "p50": round(percentile(lags, 50), 2) if lags else None,
            "p99": round(percentile(lags, 99), 2) if lags else None,
        },
        "by_kind": kinds,
        "inbox": seen.inbox_status,
        "sandbox_purchase_records": len(seen.sandbox_records),
        "resent_after_sigkill": sum(1 for r in seen.sandbox_records if r["duplicate"]),
        "killed_worker_held": len(seen.killed_in_flight),
        "answer_lost_events": len(seen.answer_lost),
        "killed_worker_inbox_rows": seen.killed_inbox,
        "inbox_rows_recovered_after_kill_s": (
            round(seen.inbox_recovered_s, 1) if seen.inbox_recovered_s is not None else None
        ),
        "chaos": seen.chaos_log,
        "exit_codes": seen.exit_codes,
        "failures": fails,
    }


@contextmanager
def _dirs(cfg: LoadConfig) -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="poas-load-") as tmp:
        home = Path(tmp)
        logs = cfg.log_dir or home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        yield home, logs


def run_load(cfg: LoadConfig) -> tuple[dict[str, Any], Observed]:
    """Run one load test; returns the summary (with `failures`) and the raw observations."""
    seen = Observed()
    with _dirs(cfg) as (home, logs):
        cluster = Cluster(cfg, home, logs)
        engine = make_engine(cfg.db_url)
        try:
            cluster.start()
            plan = deliveries(cfg, datetime.now(UTC))
            asyncio.run(traffic(cluster, plan, engine, seen))
            wait_drained(engine, cfg, seen)
            collect(engine, cluster.sandbox_url, seen)
        finally:
            cluster.stop_all()
            engine.dispose()
            seen.exit_codes = dict(cluster.exit_codes)
            seen.graceful = graceful_stops(logs, seen.killed_worker)
            seen.log_problems = scan_logs(logs, cluster.secret_values())
    fails = verify(seen)
    return summarize(cfg, seen, fails), seen


# ----------------------------------------------------------------------------------- main


@contextmanager
def _database(mode: str, pg_url: str, tmp: str) -> Iterator[str]:
    if mode == "postgresql":
        with _pg_database(pg_url) as url:
            yield url
    else:
        yield f"sqlite:///{tmp}/load.db"


@contextmanager
def _pg_database(admin_url: str) -> Iterator[str]:
    name = f"poas_load_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=4000)
    ap.add_argument("--duration", type=float, default=90.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--web", type=int, default=2, help="web processes on PostgreSQL")
    ap.add_argument("--web-workers", type=int, default=2, help="uvicorn processes per web process (PG)")
    ap.add_argument("--workers", type=int, default=3, help="worker processes on PostgreSQL (SQLite: 2)")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--only", choices=["sqlite-serve", "sqlite", "postgresql"])
    args = ap.parse_args()
    info = machine(load_avg_at_start=[round(x, 2) for x in os.getloadavg()])
    print(json.dumps(info), flush=True)
    results = []
    common = {"orders": args.orders, "duration_s": args.duration, "concurrency": args.concurrency}
    for mode in ("sqlite-serve", "sqlite", "postgresql"):
        if args.only not in (None, mode):
            continue
        with tempfile.TemporaryDirectory() as tmp, _database(mode, args.pg_url, tmp) as url:
            if mode == "sqlite-serve":  # the embedded default: `poas serve`, one process
                cfg = LoadConfig(db_url=url, engine_name=mode, serve=True, workers=0, **common)
            elif mode == "sqlite":
                cfg = LoadConfig(db_url=url, engine_name=mode, web=1, workers=2, **common)
            else:
                cfg = LoadConfig(
                    db_url=url,
                    engine_name=mode,
                    web=args.web,
                    web_workers=args.web_workers,
                    workers=args.workers,
                    **common,
                )
            results.append(run_load(cfg)[0])
        print(json.dumps(results[-1]), flush=True)
    info["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = ROOT / "results" / "loadtest.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"benchmark": "loadtest", "date": datetime.now(UTC).isoformat(), "machine": info, "runs": results}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out}")
    for r in results:
        print(f"{r['engine']}: {'OK' if not r['failures'] else 'FAILED: ' + '; '.join(r['failures'])}")
    if any(r["failures"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
