"""The CAPI client and the dispatcher against the Meta sandbox over real HTTP, on both engines."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from delivery_helpers import CREDS, TOKEN, enqueue_all, events
from facebook_business.adobjects.serverside.util import Util
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from poas.meta.capi import CapiClient, Credentials, appsecret_proof, form_encode
from poas.meta.errors import CapiError, Disposition, disposition_for, from_response
from poas.meta.sandbox import run_sandbox
from poas.services.deliver import DeliveryConfig, Dispatcher, backoff_delay
from poas.store import outbox as ob
from poas.store.tables.delivery import delivery_log, outbox

FAST = DeliveryConfig(
    concurrency=1,
    retry_base_s=0.01,
    retry_cap_s=0.05,
    throttle_base_s=0.02,
    throttle_cap_s=0.1,
    idle_poll_s=0.05,
)


# ------------------------------------------------------------ pure parts


def test_backoff_grows_is_capped_and_jitter_stays_in_the_upper_half() -> None:
    assert backoff_delay(1, base_s=2, cap_s=100, jitter=0.0) == 1.0
    assert backoff_delay(3, base_s=2, cap_s=100, jitter=0.0) == 4.0
    assert backoff_delay(3, base_s=2, cap_s=100, jitter=0.999) == pytest.approx(7.996)
    assert backoff_delay(30, base_s=2, cap_s=100, jitter=0.5) == 75.0
    assert backoff_delay(10_000, base_s=2, cap_s=100, jitter=0.0) == 50.0
    for attempt in range(1, 40):
        for jitter in (0.0, 0.3, 0.9999):
            d = backoff_delay(attempt, base_s=1, cap_s=60, jitter=jitter)
            ceiling = min(60, 2 ** (attempt - 1))
            assert ceiling / 2 <= d < ceiling or d == ceiling / 2
    with pytest.raises(ValueError):
        backoff_delay(0, base_s=1, cap_s=1, jitter=0)
    with pytest.raises(ValueError):
        backoff_delay(1, base_s=1, cap_s=1, jitter=1.0)


@pytest.mark.parametrize(
    ("status", "code", "transient", "expected"),
    [
        (500, None, False, Disposition.RETRY),
        (503, 2, True, Disposition.RETRY),
        (400, 1, False, Disposition.RETRY),
        (400, 999, True, Disposition.RETRY),
        (400, 4, True, Disposition.THROTTLE),
        (400, 17, False, Disposition.THROTTLE),
        (400, 341, False, Disposition.THROTTLE),
        (400, 613, False, Disposition.THROTTLE),
        (400, 190, False, Disposition.PAUSE),
        (400, 102, False, Disposition.PAUSE),
        (403, 10, False, Disposition.PAUSE),
        (403, 200, False, Disposition.PAUSE),
        (403, 299, False, Disposition.PAUSE),
        (400, 100, False, Disposition.INVALID),
        (400, 368, False, Disposition.DEAD),
        (404, None, False, Disposition.DEAD),
    ],
)
def test_errors_are_classified_once(
    status: int, code: int | None, transient: bool, expected: Disposition
) -> None:
    assert disposition_for(status, code, transient) is expected


def test_error_messages_never_carry_the_token() -> None:
    body = json.dumps({"error": {"message": f"bad token {TOKEN}", "code": 190, "fbtrace_id": "AbC"}}).encode()
    err = from_response(400, body, CREDS.secrets())
    assert TOKEN not in err.describe() and "[redacted]" in err.describe()
    assert err.disposition is Disposition.PAUSE and err.fbtrace_id == "AbC"
    assert TOKEN not in repr(CREDS)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=200), min_size=1, max_size=4))
def test_form_encoding_matches_urlencode(params: dict[str, str]) -> None:
    assert form_encode(params) == urlencode(params).encode()


def test_appsecret_proof_matches_the_official_sdk() -> None:
    assert appsecret_proof("appsecret-123", "access-token-234") == Util.appsecret_proof(
        "appsecret-123", "access-token-234"
    )
    expected = hmac.new(b"appsecret-123", b"access-token-234", hashlib.sha256).hexdigest()
    assert appsecret_proof("appsecret-123", "access-token-234") == expected


async def test_body_carries_data_token_proof_and_test_code_in_the_post_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"events_received": 2, "messages": [], "fbtrace_id": "T1"})

    creds = Credentials(access_token="tok-1", app_secret="sec-1", test_event_code="TEST123")
    async with CapiClient("https://graph.example", "v25.0", transport=httpx.MockTransport(handler)) as client:
        answer = await client.send("px9", ['{"a":1}', '{"b":2}'], creds)
    assert answer.events_received == 2 and answer.fbtrace_id == "T1"
    request = seen[0]
    assert str(request.url) == "https://graph.example/v25.0/px9/events"
    assert "tok-1" not in str(request.url)
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert json.loads(form["data"]) == [{"a": 1}, {"b": 2}]
    assert form["access_token"] == "tok-1"
    assert form["appsecret_proof"] == appsecret_proof("sec-1", "tok-1")
    assert form["test_event_code"] == "TEST123"


async def test_timeouts_are_retryable_transport_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with CapiClient("https://graph.example", "v25.0", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(CapiError) as info:
            await client.send("px9", ['{"a":1}'], CREDS)
    assert info.value.disposition is Disposition.RETRY and "ReadTimeout" in info.value.message


# ------------------------------------------------------------ against the sandbox


def _now() -> datetime:
    return datetime.now(UTC)


def _state_counts(engine: Engine) -> dict[str, int]:
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for (state,) in conn.execute(select(outbox.c.state)):
            out[state] = out.get(state, 0) + 1
    return out


def _dispatcher(
    engine: Engine, url: str, *, config: DeliveryConfig = FAST, creds: Credentials = CREDS
) -> Dispatcher:
    client = CapiClient(url, "v25.0", timeout_s=2.0)
    return Dispatcher(engine, client, lambda shop, pixel: creds, config=config, worker_id="test-worker")


async def test_drain_sends_every_event_once_in_batches(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 1200, now - timedelta(hours=1)) + events("px2", 30, now), now)
    with run_sandbox(app_secret="shh") as sb:
        d = _dispatcher(engine, sb.url, creds=Credentials(access_token=TOKEN, app_secret="shh"))
        report = await d.drain()
        await d.client.aclose()
        got = sb.events()
    assert report.sent == 1230
    assert _state_counts(engine) == {"sent": 1230}
    ids = [r["event"]["event_id"] for r in got]
    assert len(ids) == len(set(ids)) == 1230
    assert not any(r["duplicate"] for r in got)
    with engine.connect() as conn:
        sizes = sorted(r.batch_size for r in conn.execute(select(delivery_log.c.batch_size)))
        meta = conn.execute(select(outbox.c.meta_response).limit(1)).scalar_one()
    assert sizes == [30, 200, 1000]
    assert meta["events_received"] in (30, 200, 1000) and meta["fbtrace_id"]


@pytest.mark.parametrize("body_format", ["form", "json"])
async def test_both_body_formats_are_accepted_with_appsecret_proof(body_format: str) -> None:
    now = _now()
    creds = Credentials(access_token=TOKEN, app_secret="s3cret", test_event_code="TEST42")
    payloads = [
        json.dumps(e.payload) if not isinstance(e.payload, str) else e.payload for e in events("px1", 3, now)
    ]
    with run_sandbox(app_secret="s3cret") as sb:
        async with CapiClient(sb.url, "v25.0", body_format=body_format) as client:  # type: ignore[arg-type]
            answer = await client.send("px1", payloads, creds)
            with pytest.raises(CapiError) as wrong:
                await client.send("px1", payloads, Credentials(access_token=TOKEN, app_secret="other"))
        got = sb.events()
    assert answer.events_received == 3
    assert [r["test_event_code"] for r in got] == ["TEST42"] * 3
    assert wrong.value.disposition is Disposition.INVALID and "appsecret_proof" in wrong.value.message


async def test_too_old_events_are_dead_lettered_before_sending(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 3, now - timedelta(days=8), prefix="old") + events("px1", 2, now), now)
    with run_sandbox() as sb:
        d = _dispatcher(engine, sb.url)
        await d.drain()
        await d.client.aclose()
        got = sb.events()
    assert sorted(r["event"]["event_id"] for r in got) == ["opx1-0", "opx1-1"]
    with engine.connect() as conn:
        dead = conn.execute(
            select(outbox.c.event_id, outbox.c.last_error).where(outbox.c.state == "dead")
        ).all()
    assert sorted(r.event_id for r in dead) == ["oldpx1-0", "oldpx1-1", "oldpx1-2"]
    assert all(r.last_error.startswith("too old") for r in dead)


async def test_invalid_event_is_bisected_out_and_the_rest_is_sent(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 100, now), now)
    with run_sandbox() as sb:
        sb.add_fault(kind="invalid_event", event_ids=["opx1-37", "opx1-80"])
        d = _dispatcher(engine, sb.url)
        await d.drain()
        await d.client.aclose()
        got = sb.events()
    assert len(got) == 98
    assert {r["event"]["event_id"] for r in got} == {f"opx1-{i}" for i in range(100)} - {"opx1-37", "opx1-80"}
    with engine.connect() as conn:
        dead = conn.execute(
            select(outbox.c.event_id, outbox.c.last_error).where(outbox.c.state == "dead")
        ).all()
    assert sorted(r.event_id for r in dead) == ["opx1-37", "opx1-80"]
    assert all("invalid: http 400 code 100" in r.last_error and "rejected" in r.last_error for r in dead)


async def test_5xx_and_throttle_are_retried_until_accepted(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 50, now), now)
    with run_sandbox() as sb:
        sb.add_fault(kind="5xx", count=2, code=503)
        sb.add_fault(kind="throttle", count=1, code=17)
        d = _dispatcher(engine, sb.url, config=DeliveryConfig(**{**FAST.__dict__, "batch_size": 10}))
        report = await d.drain(wait_for_retries=True)
        await d.client.aclose()
        got = sb.events()
        injected = sb.state.stats()["faults_injected"]
    assert injected == {"5xx": 2, "throttle": 1}
    assert sorted(r["event"]["event_id"] for r in got) == sorted(f"opx1-{i}" for i in range(50))
    assert report.throttled == 1 and report.outcomes["retry"] == 2
    with engine.connect() as conn:
        outcomes = [r.outcome for r in conn.execute(select(delivery_log.c.outcome))]
        codes = {
            r.meta_code
            for r in conn.execute(select(delivery_log.c.meta_code).where(delivery_log.c.outcome != "sent"))
        }
    assert outcomes.count("sent") == 5 and outcomes.count("retry") == 2 and outcomes.count("throttle") == 1
    assert codes == {2, 17}


async def test_events_received_mismatch_is_an_error_for_the_batch(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 4, now), now)
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        received = 3 if calls["n"] == 1 else 4
        return httpx.Response(200, json={"events_received": received, "messages": [], "fbtrace_id": "F"})

    client = CapiClient("https://graph.example", "v25.0", transport=httpx.MockTransport(handler))
    d = Dispatcher(engine, client, lambda s, p: CREDS, config=FAST, worker_id="w")
    report = await d.drain(wait_for_retries=True)
    assert calls["n"] == 2 and report.outcomes == {"mismatch": 1, "sent": 1}
    assert _state_counts(engine) == {"sent": 4}
    with engine.connect() as conn:
        first = conn.execute(select(delivery_log).order_by(delivery_log.c.id).limit(1)).mappings().one()
    assert first["outcome"] == "mismatch" and first["events_received"] == 3
    assert "events_received 3 != batch size 4" in first["message"]


async def test_missing_credentials_pause_the_pixel(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 2, now), now)
    client = CapiClient("https://graph.invalid", "v25.0")
    d = Dispatcher(engine, client, lambda s, p: None, config=FAST, worker_id="w")
    report = await d.drain()
    assert report.paused == {"px1"} and report.requests == 0
    assert _state_counts(engine) == {"retry": 2}


async def test_shutdown_releases_claims_whose_requests_outlive_the_grace_period(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 5, now), now)
    with run_sandbox() as sb:
        sb.add_fault(kind="timeout", count=1, delay_s=5)
        config = DeliveryConfig(**{**FAST.__dict__, "shutdown_grace_s": 0.2})
        client = CapiClient(sb.url, "v25.0", timeout_s=10)
        d = Dispatcher(engine, client, lambda s, p: CREDS, config=config, worker_id="leaving")
        stop = asyncio.Event()
        task = asyncio.create_task(d.run(stop))
        while sb.state.stats()["faults_injected"].get("timeout", 0) == 0:
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        await client.aclose()
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.state, outbox.c.lease_owner)).all()
    assert {(r.state, r.lease_owner) for r in rows} == {("retry", None)}  # due again for any worker


async def test_a_database_error_in_a_slot_is_logged_and_the_worker_keeps_going(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 3, now), now)
    real_claim = ob.claim
    calls = {"n": 0}

    def flaky_claim(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("connection reset by peer")
        return real_claim(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ob, "claim", flaky_claim)
    with run_sandbox() as sb:
        client = CapiClient(sb.url, "v25.0")
        d = Dispatcher(engine, client, lambda s, p: CREDS, config=FAST, worker_id="w")
        stop = asyncio.Event()
        task = asyncio.create_task(d.run(stop))
        while len(sb.events()) < 3:
            await asyncio.sleep(0.02)
        stop.set()
        report = await asyncio.wait_for(task, timeout=5)
        await client.aclose()
    assert report.outcomes.get("error") == 1 and report.sent == 3


async def test_long_bisection_extends_the_lease_instead_of_losing_it(engine: Engine) -> None:
    now = _now()
    enqueue_all(engine, events("px1", 16, now), now)
    with run_sandbox() as sb:
        sb.add_fault(kind="invalid_event", event_ids=["opx1-5"])
        # A lease shorter than two client timeouts: every request must first extend it.
        config = DeliveryConfig(**{**FAST.__dict__, "lease_s": 1.0})
        client = CapiClient(sb.url, "v25.0", timeout_s=2.0)
        d = Dispatcher(engine, client, lambda s, p: CREDS, config=config, worker_id="slow")
        report = await d.drain()
        await client.aclose()
        assert len(sb.events()) == 15
    assert report.lost_leases == 0 and report.sent == 15 and report.dead == 1
    with engine.connect() as conn:
        owners = conn.execute(
            select(outbox.c.lease_owner, outbox.c.lease_until).where(outbox.c.state != "sent")
        ).all()
        spans = conn.execute(select(delivery_log.c.claimed_at, delivery_log.c.lease_until)).all()
    assert owners == [(None, None)]
    assert len(spans) >= 8  # the bisection's requests
    assert all(until > claimed + timedelta(seconds=1) for claimed, until in spans)  # each one extended


async def test_append_value_waits_until_its_purchase_is_sent(engine: Engine) -> None:
    now = _now()
    purchase = events("px1", 1, now)[0]
    original = json.loads(str(purchase.payload))
    append = {
        "event_name": "AppendValue",
        "event_time": int(now.timestamp()),
        "event_id": "opx1-0.append.final",
        "action_source": "website",
        "event_source_url": original["event_source_url"],
        "user_data": original["user_data"],
        "original_event_data": {
            "event_name": "Purchase",
            "event_time": original["event_time"],
            "event_id": "opx1-0",
        },
        "custom_data": {"currency": "NOK", "net_revenue": 80.0},
    }
    row = ob.OutboxEvent("shop-a", "px1", "AppendValue", append["event_id"], now, append, purchase.order_id)
    enqueue_all(engine, [purchase, row], now)
    with run_sandbox() as sb:
        sb.add_fault(kind="5xx", count=1, code=500)  # the Purchase's first request fails
        config = DeliveryConfig(**{**FAST.__dict__, "batch_size": 1})
        client = CapiClient(sb.url, "v25.0")
        d = Dispatcher(engine, client, lambda s, p: CREDS, config=config, worker_id="w")
        first = ob.claim(engine, "probe", None, 10, 30, now)
        assert first is not None and [e.event_name for e in first.events] == ["Purchase"]
        with engine.begin() as conn:
            ob.release(conn, "probe", None, now=now, undo_attempt=True)
        report = await d.drain(wait_for_retries=True)
        await client.aclose()
        got = [r["event"]["event_name"] for r in sb.events()]
    assert got == ["Purchase", "AppendValue"]
    assert report.dead == 0 and report.sent == 2 and report.outcomes["retry"] == 1
