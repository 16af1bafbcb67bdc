"""Four `poas worker` processes drain 100,000 events on PostgreSQL: no event is ever held by two at once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from delivery_helpers import TOKEN, enqueue_all, events
from sqlalchemy import delete, func, select

from poas.meta.sandbox import run_sandbox
from poas.store.db import make_engine
from poas.store.tables.delivery import delivery_log, outbox, pixel_state

POAS = str(Path(sys.executable).parent / "poas")
WORKERS = 4
PER_PIXEL = 50_000


@pytest.mark.postgres
@pytest.mark.slow
def test_four_workers_100k_events_no_overlapping_claims_and_no_resends(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        for table in (outbox, delivery_log, pixel_state):
            conn.execute(delete(table))
    now = datetime.now(UTC)
    rows = events("px1", PER_PIXEL, now - timedelta(minutes=5)) + events(
        "px2", PER_PIXEL, now - timedelta(minutes=5)
    )
    assert enqueue_all(engine, rows, now, chunk=10_000) == 2 * PER_PIXEL
    expected = {e.event_id for e in rows}
    del rows

    config = tmp_path / "poas.toml"
    config.write_text(f'[[shops]]\nid = "shop-a"\npixel_id = "px1"\naccess_token = "{TOKEN}"\n')
    logs = [tmp_path / f"worker{i}.log" for i in range(WORKERS)]
    with run_sandbox() as sb:
        env = {
            **os.environ,
            "POAS_DATABASE_URL": pg_url,
            "POAS_HOME": str(tmp_path),
            "POAS_CONFIG_FILE": str(config),
            "POAS_GRAPH_BASE_URL": sb.url,
            "POAS_GRAPH_TIMEOUT_S": "60",
            "POAS_LOG_FORMAT": "json",
        }
        args = [
            POAS,
            "worker",
            "--concurrency",
            "2",
            "--batch-size",
            "1000",
            "--lease-s",
            "120",
            "--poll-s",
            "0.1",
        ]
        procs = [
            subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT) for log in logs
        ]
        try:
            deadline = time.monotonic() + 600
            while True:
                with engine.connect() as conn:
                    sent = conn.execute(select(func.count()).where(outbox.c.state == "sent")).scalar_one()
                if sent == 2 * PER_PIXEL:
                    break
                assert time.monotonic() < deadline, f"only {sent} sent after 10 minutes"
                assert all(p.poll() is None for p in procs), "a worker died"
                time.sleep(0.5)
            for p in procs:
                p.send_signal(signal.SIGTERM)
            assert [p.wait(timeout=60) for p in procs] == [0] * WORKERS
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        records = sb.events()

    # Meta got every event exactly once.
    counts = Counter(r["event"]["event_id"] for r in records)
    assert set(counts) == expected and set(counts.values()) == {1}
    assert not any(r["duplicate"] for r in records)

    with engine.connect() as conn:
        attempts = Counter(a for (a,) in conn.execute(select(outbox.c.attempts)))
        log_rows = conn.execute(
            select(
                delivery_log.c.worker_id,
                delivery_log.c.outcome,
                delivery_log.c.outbox_ids,
                delivery_log.c.claimed_at,
                delivery_log.c.finished_at,
            )
        ).all()
    # Every event was claimed exactly once: no lease expired and no event was resent.
    assert attempts == {1: 2 * PER_PIXEL}
    assert {r.outcome for r in log_rows} == {"sent"}
    # No event appears in two requests whose claims overlap in time under different workers.
    held: dict[int, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for r in log_rows:
        for oid in r.outbox_ids:
            held[oid].append((r.claimed_at, r.finished_at, r.worker_id))
    assert len(held) == 2 * PER_PIXEL
    for spans in held.values():
        spans.sort()
        for (_, end_a, worker_a), (start_b, _, worker_b) in itertools.pairwise(spans):
            assert worker_a == worker_b or start_b >= end_a
    assert max(len(s) for s in held.values()) == 1
    # All four processes shared the work.
    per_worker = Counter(r.worker_id for r in log_rows)
    assert len(per_worker) == WORKERS, per_worker
    for log in logs:
        text = log.read_text()
        assert "lease lost" not in text and TOKEN not in text
    engine.dispose()
