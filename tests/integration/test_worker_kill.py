"""A `poas worker` killed with SIGKILL mid-batch and restarted: nothing lost, resends keep event_id."""

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

import pytest
from delivery_helpers import TOKEN, enqueue_all, events
from sqlalchemy import Engine, func, select

from poas.meta.sandbox import run_sandbox
from poas.store.tables.delivery import outbox

POAS = str(Path(sys.executable).parent / "poas")


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _worker(db_url: str, sandbox_url: str, tmp_path: Path, log: Path) -> subprocess.Popen[bytes]:
    config = tmp_path / "poas.toml"
    config.write_text(f'[[shops]]\nid = "shop-a"\npixel_id = "px1"\naccess_token = "{TOKEN}"\n')
    env = {
        **os.environ,
        "POAS_DATABASE_URL": db_url,
        "POAS_HOME": str(tmp_path),
        "POAS_CONFIG_FILE": str(config),
        "POAS_GRAPH_BASE_URL": sandbox_url,
        "POAS_GRAPH_TIMEOUT_S": "30",
        "POAS_LOG_FORMAT": "json",
    }
    args = [POAS, "worker", "--concurrency", "2", "--batch-size", "200", "--lease-s", "3", "--poll-s", "0.1"]
    return subprocess.Popen(
        [*args, "--retry-base-s", "0.01"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def _count(engine: Engine, state: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(outbox.c.state == state)).scalar_one())


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_delivers_everything_with_the_same_event_ids(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    enqueue_all(engine, events("px1", 2000, now - timedelta(minutes=5)), now)
    log = tmp_path / "worker.log"
    with run_sandbox() as sb:
        # The first request is recorded by "Meta" but its answer hangs: the worker is mid-batch.
        sb.add_fault(kind="timeout", count=1, delay_s=20, record=True)
        first = _worker(db_url, sb.url, tmp_path, log)
        try:
            _wait("the hanging request", lambda: sb.state.stats()["faults_injected"].get("timeout", 0) == 1)
            time.sleep(0.3)
            os.kill(first.pid, signal.SIGKILL)
            assert first.wait(timeout=10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
        # Read after the kill: the other slot may claim and send a batch between a read and the kill.
        with engine.connect() as conn:
            in_flight = {
                r.event_id: r.lease_owner
                for r in conn.execute(
                    select(outbox.c.event_id, outbox.c.lease_owner).where(outbox.c.state == "sending")
                )
            }
        assert in_flight, "the worker held no claim when it was killed"
        recorded_before = {r["event"]["event_id"] for r in sb.events()}
        hung = in_flight.keys() & recorded_before  # Meta got these but the worker never heard back
        assert len(hung) >= 200  # the hanging batch, maybe also one whose answer was still on its way

        second = _worker(db_url, sb.url, tmp_path, log)
        try:
            _wait("every event sent", lambda: _count(engine, "sent") == 2000)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        finally:
            if second.poll() is None:
                second.kill()
        records = sb.events()

    counts = Counter(r["event"]["event_id"] for r in records)
    assert set(counts) == {f"opx1-{i}" for i in range(2000)}
    resent = {eid for eid, n in counts.items() if n > 1}
    assert hung <= resent <= set(in_flight)  # only what the dead worker held was sent twice
    assert all(n <= 2 for n in counts.values())
    assert {r["event"]["event_id"] for r in records if r["duplicate"]} == resent
    with engine.connect() as conn:
        attempts = dict(conn.execute(select(outbox.c.event_id, outbox.c.attempts)).all())
    assert all(attempts[eid] >= 2 for eid in hung)
    text = log.read_text()
    assert "worker started" in text and TOKEN not in text
