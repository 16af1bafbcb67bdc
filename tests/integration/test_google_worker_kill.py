"""#18 acceptance: a real `poas worker` SIGKILLed while the Google sandbox has recorded a batch of
conversions but is holding the answer, then restarted: every order ends as exactly one conversion per
transaction id, the resends are restatements with the same value, nothing is lost; on both engines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from test_google_delivery import PROFIT_ACTION, PROFIT_DEST, _order, _setup

from poas.google.sandbox import DEFAULT_CLIENT, DEFAULT_REFRESH_TOKEN, run_google_sandbox
from poas.services.ingest import ingest_order
from poas.settings import load_settings
from poas.store.tables.delivery import outbox

POAS = str(Path(sys.executable).parent / "poas")
ORDERS = 300
BATCH = 100
CONFIG = f"""
[[shops]]
id = "nordic"
domain = "nordic.example.no"
currency = "NOK"
consent_policy = "always"

[shops.google]
client_id = "{DEFAULT_CLIENT[0]}"
client_secret = "{DEFAULT_CLIENT[1]}"
refresh_token = "{DEFAULT_REFRESH_TOKEN}"

[[shops.google.conversion_actions]]
customer_id = "123-456-7890"
conversion_action_id = "{PROFIT_ACTION}"
"""


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _worker(db_url: str, sandbox_url: str, tmp_path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "POAS_DATABASE_URL": db_url,
        "POAS_HOME": str(tmp_path),
        "POAS_CONFIG_FILE": str(tmp_path / "poas.toml"),
        "POAS_GOOGLE_DATAMANAGER_URL": sandbox_url,
        "POAS_GOOGLE_TOKEN_URL": f"{sandbox_url}/token",
        "POAS_GOOGLE_TIMEOUT_S": "5",  # the lease is held for the timeout + a margin,
        "POAS_LOG_FORMAT": "json",
    }
    args = [POAS, "worker", "--concurrency", "2", "--batch-size", str(BATCH), "--lease-s", "3"]
    return subprocess.Popen(
        [*args, "--poll-s", "0.1", "--no-housekeeping"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _sandbox(url: str, what: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = httpx.get(f"{url}/_sandbox/{what}").json()["data"]
    return data


def _sent(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(outbox.c.pixel_id == PROFIT_DEST, outbox.c.state == "sent")
        return int(conn.execute(query).scalar_one())


@pytest.mark.slow
def test_sigkilled_worker_mid_google_batch_never_makes_a_second_conversion(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "poas.toml"
    config.write_text(CONFIG)
    shop = load_settings(config).shops[0]
    now = datetime.now(UTC).replace(microsecond=0)
    _setup(engine, now)
    ids = [f"K{i}" for i in range(ORDERS)]
    with engine.begin() as conn:
        for oid in ids:
            queued = ingest_order(
                conn, _order(oid, now - timedelta(hours=2)), shop, now=now, trigger_purchase=True
            )
            assert queued.events.google.queued == [(PROFIT_DEST, oid)]
    log = tmp_path / "worker.log"
    with run_google_sandbox() as google:
        # The first ingest request is recorded by "Google", then its answer is held: the worker is mid-batch.
        fault = {"status": "UNAVAILABLE", "count": 1, "record": True, "delay_s": 10}
        assert httpx.post(f"{google.url}/_sandbox/faults", json=fault).status_code == 200
        first = _worker(db_url, google.url, tmp_path, log)
        try:
            _wait("the held request", lambda: len(_sandbox(google.url, "events")) >= 1)
            time.sleep(0.3)
            os.kill(first.pid, signal.SIGKILL)
            assert first.wait(timeout=10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
        # Read after the kill: the other slot may claim and send a batch between a read and the kill.
        with engine.connect() as conn:
            query = select(outbox.c.event_id).where(
                outbox.c.pixel_id == PROFIT_DEST, outbox.c.state == "sending"
            )
            in_flight = {r[0] for r in conn.execute(query)}
        assert in_flight, "the worker held no claim when it was killed"
        recorded_before = {e["transaction_id"] for e in _sandbox(google.url, "events")}
        hung = in_flight & recorded_before  # Google has these; the worker never heard back
        assert len(hung) >= BATCH  # the held batch, maybe also one whose answer was on its way

        second = _worker(db_url, google.url, tmp_path, log)
        try:
            _wait("every conversion sent", lambda: _sent(engine) == ORDERS)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        finally:
            if second.poll() is None:
                second.kill()
        events = _sandbox(google.url, "events")
        conversions = _sandbox(google.url, "conversions")

    # Exactly one conversion per transaction id, none lost; a resend is a restatement, never a conversion.
    assert sorted(c["transaction_id"] for c in conversions) == sorted(ids)
    assert {c["destination"] for c in conversions} == {PROFIT_DEST}
    firsts = Counter(e["transaction_id"] for e in events if e["kind"] == "conversion")
    assert set(firsts) == set(ids) and set(firsts.values()) == {1}
    restated = {e["transaction_id"] for e in events if e["kind"] == "restatement"}
    assert hung <= restated <= in_flight  # only what the dead worker held was sent twice
    assert all(c["restatements"] == (c["transaction_id"] in restated) for c in conversions)
    assert all(c["value"] == c["first_value"] for c in conversions)  # the same value again
    with engine.connect() as conn:
        query = select(outbox.c.event_id, outbox.c.attempts).where(outbox.c.pixel_id == PROFIT_DEST)
        attempts = dict(conn.execute(query).all())
    assert all(attempts[t] >= 2 for t in hung)
    text = log.read_text()
    assert "worker started" in text
    assert DEFAULT_REFRESH_TOKEN not in text and DEFAULT_CLIENT[1] not in text
