"""Lease fencing of the dispatcher, on both engines against the sandbox: a worker never starts sending
an event whose lease it lost, and the lease it holds when a request starts outlasts the request."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from delivery_helpers import TOKEN, enqueue_all, events
from sqlalchemy import Engine, select

from poas.meta.capi import CapiClient, Credentials
from poas.meta.sandbox import RunningSandbox, run_sandbox
from poas.services.deliver import LEASE_MARGIN, DeliveryConfig, Dispatcher
from poas.store import outbox as ob
from poas.store.tables.delivery import delivery_log, outbox

# A lease far shorter than the client timeout: every request has to extend it first.
CONFIG = DeliveryConfig(concurrency=1, lease_s=1.0, retry_base_s=0.01, retry_cap_s=0.05, idle_poll_s=0.05)
TIMEOUT_S = 10.0


class ManualClock:
    """A worker's clock that only moves when told: a starved worker sees time jump."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _dispatcher(sb: RunningSandbox, engine: Engine, worker: str, clock: Any = None) -> Dispatcher:
    """A worker whose requests the sandbox records with its name as the test event code."""
    creds = Credentials(access_token=TOKEN, test_event_code=worker.upper())
    client = CapiClient(sb.url, "v25.0", timeout_s=TIMEOUT_S)
    kwargs = {"clock": clock} if clock is not None else {}
    return Dispatcher(engine, client, lambda s, p: creds, config=CONFIG, worker_id=worker, **kwargs)


def _senders(sb: RunningSandbox) -> dict[str, list[str]]:
    """event_id -> the workers that sent it, in order."""
    out: dict[str, list[str]] = {}
    for r in sb.events():
        out.setdefault(r["event"]["event_id"], []).append(r["test_event_code"])
    return out


def _event_ids(params: dict[str, Any]) -> list[str]:
    data = params["data"]
    return [str(e["event_id"]) for e in (json.loads(data) if isinstance(data, str) else data)]


@pytest.fixture
def stalled_claim(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Worker w1's first claim stalls (a starved process) until `resume` is set; `claimed` tells when."""
    real_claim = ob.claim
    claimed, resume = threading.Event(), threading.Event()

    def claim(engine: Engine, worker_id: str, *args: Any) -> ob.Claim | None:
        got = real_claim(engine, worker_id, *args)
        if worker_id == "w1" and got is not None and not claimed.is_set():
            claimed.set()
            resume.wait(60)
        return got

    monkeypatch.setattr(ob, "claim", claim)
    yield claimed, resume
    resume.set()


@pytest.mark.parametrize("taker_state", ["in_flight", "sent"])
async def test_a_worker_stalled_past_its_lease_sends_nothing_another_worker_took(
    engine: Engine, stalled_claim: tuple[threading.Event, threading.Event], taker_state: str
) -> None:
    claimed, resume = stalled_claim
    t0 = datetime.now(UTC)
    enqueue_all(engine, events("px1", 6, t0), t0)
    w1_done = threading.Event()
    with run_sandbox() as sb:
        if taker_state == "in_flight":
            # w1 wakes while w2's request for the same events is in flight.
            handle = sb.state.handle

            def hooked(pixel_id: str, params: dict[str, Any]) -> Any:
                if params.get("test_event_code") == "W2":
                    resume.set()
                    w1_done.wait(30)
                return handle(pixel_id, params)

            sb.state.handle = hooked  # type: ignore[method-assign]
        clock1 = ManualClock(t0)
        d1 = _dispatcher(sb, engine, "w1", clock1)
        first = asyncio.create_task(d1.drain())
        assert await asyncio.to_thread(claimed.wait, 30)
        clock1.advance(30)  # w1 was starved far beyond its 1 s lease
        d2 = _dispatcher(sb, engine, "w2", ManualClock(t0 + timedelta(seconds=30)))
        second = asyncio.create_task(d2.drain())
        if taker_state == "sent":
            await second
            resume.set()
        r1 = await asyncio.wait_for(first, 30)
        w1_done.set()
        r2 = await asyncio.wait_for(second, 30)
        for d in (d1, d2):
            await d.client.aclose()
        senders = _senders(sb)
    assert senders == {f"opx1-{i}": ["W2"] for i in range(6)}  # each once, from the worker holding it
    assert r1.requests == 0 and r1.sent == 0 and r1.lost_leases == 6
    assert r2.sent == 6 and r2.lost_leases == 0
    with engine.connect() as conn:
        workers = {w for (w,) in conn.execute(select(delivery_log.c.worker_id))}
        states = {s for (s,) in conn.execute(select(outbox.c.state))}
    assert workers == {"w2"} and states == {"sent"}


async def test_a_partly_lost_claim_sends_only_the_events_still_held(
    engine: Engine, stalled_claim: tuple[threading.Event, threading.Event]
) -> None:
    claimed, resume = stalled_claim
    t0 = datetime.now(UTC)
    enqueue_all(engine, events("px1", 6, t0), t0)
    with run_sandbox() as sb:
        clock1 = ManualClock(t0)
        d1 = _dispatcher(sb, engine, "w1", clock1)
        first = asyncio.create_task(d1.drain())
        assert await asyncio.to_thread(claimed.wait, 30)
        clock1.advance(30)
        # Meanwhile w2 took three of w1's expired rows and holds them (its request not yet sent).
        taken = ob.claim(engine, "w2", "px1", 3, 60, t0 + timedelta(seconds=30))
        assert taken is not None and len(taken.events) == 3
        resume.set()
        r1 = await asyncio.wait_for(first, 30)
        sent_by_w1 = _senders(sb)
        with engine.connect() as conn:
            w2_rows = conn.execute(
                select(outbox.c.state, outbox.c.lease_owner, outbox.c.lease_until).where(
                    outbox.c.id.in_(list(taken.held))
                )
            ).all()
        # w2 picks its claim up again once its own lease has run out, and sends it.
        d2 = _dispatcher(sb, engine, "w2", ManualClock(t0 + timedelta(seconds=100)))
        r2 = await d2.drain()
        for d in (d1, d2):
            await d.client.aclose()
        senders = _senders(sb)
    w2_ids = {e.event_id for e in taken.events}
    assert sent_by_w1 == {f"opx1-{i}": ["W1"] for i in range(6) if f"opx1-{i}" not in w2_ids}
    assert r1.requests == 1 and r1.sent == 3 and r1.lost_leases == 3
    assert {tuple(r) for r in w2_rows} == {("sending", taken.owner, taken.lease_until)}  # left untouched
    assert r2.sent == 3 and r2.lost_leases == 0
    assert senders == {eid: ["W1"] if eid not in w2_ids else ["W2"] for eid in senders}
    assert len(senders) == 6


async def test_each_half_of_a_bisection_sends_only_what_is_still_held(engine: Engine) -> None:
    t0 = datetime.now(UTC)
    enqueue_all(engine, events("px1", 8, t0), t0)
    clock1 = ManualClock(t0)
    taken: list[ob.Claim] = []
    with run_sandbox() as sb:
        sb.add_fault(kind="invalid_event", event_ids=["opx1-5"])
        handle = sb.state.handle

        def hooked(pixel_id: str, params: dict[str, Any]) -> Any:
            if not taken:  # w1's first request: it stalls past its lease, w2 takes half its rows
                clock1.advance(30)
                got = ob.claim(engine, "w2", "px1", 4, 60, t0 + timedelta(seconds=30))
                assert got is not None
                taken.append(got)
            return handle(pixel_id, params)

        sb.state.handle = hooked  # type: ignore[method-assign]
        d1 = _dispatcher(sb, engine, "w1", clock1)
        r1 = await d1.drain()
        await d1.client.aclose()
        senders = _senders(sb)
    w2_ids = {e.event_id for e in taken[0].events}
    assert set(senders) == {f"opx1-{i}" for i in range(8)} - w2_ids - {"opx1-5"}
    assert all(s == ["W1"] for s in senders.values())
    assert r1.lost_leases == 4 and r1.sent == len(senders)
    with engine.connect() as conn:
        owners = {
            r.lease_owner
            for r in conn.execute(select(outbox.c.lease_owner).where(outbox.c.state == "sending"))
        }
    assert owners == {taken[0].owner}


async def test_a_lease_shorter_than_the_timeout_is_extended_to_cover_each_request(engine: Engine) -> None:
    t0 = datetime.now(UTC)
    enqueue_all(engine, events("px1", 8, t0), t0)
    seen: list[tuple[float, float]] = []  # (lease left when the request arrived, request's timeout)
    with run_sandbox() as sb:
        sb.add_fault(kind="invalid_event", event_ids=["opx1-2"])  # several requests: a bisection
        handle = sb.state.handle

        def hooked(pixel_id: str, params: dict[str, Any]) -> Any:
            with engine.connect() as conn:
                ends = list(
                    conn.execute(
                        select(outbox.c.lease_until).where(outbox.c.event_id.in_(_event_ids(params)))
                    ).scalars()
                )
            # The time is taken after the read: the other half of a bisection may extend the lease
            # while this read waits, and that extension must not count as more than the margin.
            arrived = datetime.now(UTC)
            left = min((end - arrived).total_seconds() for end in ends)
            seen.append((left, TIMEOUT_S))
            return handle(pixel_id, params)

        sb.state.handle = hooked  # type: ignore[method-assign]
        d = _dispatcher(sb, engine, "w1")  # the real clock
        report = await d.drain()
        await d.client.aclose()
    assert report.sent == 7 and report.dead == 1 and report.lost_leases == 0
    assert len(seen) >= 6  # the first request and the bisection's halves
    margin = LEASE_MARGIN.total_seconds()
    for left, timeout in seen:
        assert timeout < left <= timeout + margin  # covers the request (CONFIG's lease is only 1 s)


async def test_a_request_is_cut_off_at_the_client_timeout_in_total(engine: Engine) -> None:
    """httpx's timeout is per phase; the dispatcher bounds the whole request so the lease covers it."""
    t0 = datetime.now(UTC)
    enqueue_all(engine, events("px1", 2, t0), t0)

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)  # a mock transport applies no timeout of its own
        return httpx.Response(200, json={"events_received": 2, "messages": [], "fbtrace_id": "F"})

    client = CapiClient("https://graph.example", "v25.0", timeout_s=0.3, transport=httpx.MockTransport(slow))
    config = DeliveryConfig(**{**CONFIG.__dict__, "retry_base_s": 60.0, "retry_cap_s": 60.0})
    d = Dispatcher(engine, client, lambda s, p: Credentials(access_token=TOKEN), config=config, worker_id="w")
    started = time.monotonic()
    report = await d.drain()
    elapsed = time.monotonic() - started
    await client.aclose()
    assert elapsed < 4.5 and report.outcomes == {"retry": 1} and report.retried == 2  # uncut: >= 5 s
    with engine.connect() as conn:
        message = conn.execute(select(delivery_log.c.message)).scalar_one()
        states = Counter(s for (s,) in conn.execute(select(outbox.c.state)))
    assert "TimeoutError" in message and "0.3 s" in message
    assert states == {"retry": 2}


async def test_a_stalled_slot_sends_nothing_a_sibling_slot_of_the_same_worker_took(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One dispatcher, two slots: the first claim stalls past its lease, the other slot claims the
    rows again and its request is in flight when the stalled slot wakes: same worker id, other claim."""
    t0 = datetime.now(UTC)
    enqueue_all(engine, events("px1", 6, t0), t0)
    real_claim = ob.claim
    stalled: list[ob.Claim] = []
    claimed, resume, stale_done = threading.Event(), threading.Event(), threading.Event()

    one_at_a_time = threading.Lock()  # so the first claim takes all six rows

    def claim(*args: Any) -> ob.Claim | None:
        with one_at_a_time:
            got = real_claim(*args)
            first = got is not None and not stalled
            if first:
                stalled.append(got)
                claimed.set()
        if first:
            resume.wait(60)
        return got

    monkeypatch.setattr(ob, "claim", claim)
    clock = ManualClock(t0)
    config = DeliveryConfig(**{**CONFIG.__dict__, "concurrency": 2})
    with run_sandbox() as sb:
        client = CapiClient(sb.url, "v25.0", timeout_s=TIMEOUT_S)
        creds = Credentials(access_token=TOKEN, test_event_code="W1")
        d = Dispatcher(engine, client, lambda s, p: creds, config=config, worker_id="w1", clock=clock)
        real_send, real_process = client.send, d._process
        sends = 0

        async def send(pixel_id: str, payloads: Any, creds: Credentials) -> Any:
            nonlocal sends
            sends += 1
            if sends == 1:  # the sibling's request: the stalled slot wakes while it is in flight
                resume.set()
                await asyncio.to_thread(stale_done.wait, 10)
            return await real_send(pixel_id, payloads, creds)

        async def process(c: ob.Claim) -> None:
            try:
                await real_process(c)
            finally:
                if c is stalled[0]:
                    stale_done.set()

        monkeypatch.setattr(client, "send", send)
        monkeypatch.setattr(d, "_process", process)
        drained = asyncio.create_task(d.drain(wait_for_retries=True))
        assert await asyncio.to_thread(claimed.wait, 30) and len(stalled[0].events) == 6
        clock.advance(30)  # the stalled slot's 1 s lease is long gone; its sibling claims the rows
        report = await asyncio.wait_for(drained, 30)
        await client.aclose()
        senders = _senders(sb)
    assert senders == {f"opx1-{i}": ["W1"] for i in range(6)}  # each event once
    assert report.requests == 1 and report.sent == 6 and report.lost_leases == 6
    with engine.connect() as conn:
        states = Counter(s for (s,) in conn.execute(select(outbox.c.state)))
        logged = conn.execute(select(delivery_log.c.outcome)).scalars().all()
    assert states == {"sent": 6} and logged == ["sent"]


async def test_shutdown_releases_every_claim_of_the_worker(engine: Engine) -> None:
    t0 = datetime.now(UTC)
    enqueue_all(engine, events("px1", 6, t0), t0)
    config = DeliveryConfig(**{**CONFIG.__dict__, "concurrency": 3, "batch_size": 2, "shutdown_grace_s": 0.2})
    with run_sandbox() as sb:
        sb.add_fault(kind="timeout", count=3, delay_s=5)  # three requests in flight, none answered
        client = CapiClient(sb.url, "v25.0", timeout_s=TIMEOUT_S)
        d = Dispatcher(
            engine, client, lambda s, p: Credentials(access_token=TOKEN), config=config, worker_id="w"
        )
        stop = asyncio.Event()
        task = asyncio.create_task(d.run(stop))
        deadline = time.monotonic() + 30
        while sb.state.stats()["faults_injected"].get("timeout", 0) < 3:
            assert time.monotonic() < deadline, "three requests were not in flight"
            await asyncio.sleep(0.02)
        with engine.connect() as conn:
            owners = set(
                conn.execute(select(outbox.c.lease_owner).where(outbox.c.state == "sending")).scalars()
            )
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await client.aclose()
    assert len(owners) == 3 and {ob.worker_of(o) for o in owners} == {"w"}  # one owner per claim
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.state, outbox.c.lease_owner, outbox.c.attempts)).all()
    assert {tuple(r) for r in rows} == {("retry", None, 1)}
