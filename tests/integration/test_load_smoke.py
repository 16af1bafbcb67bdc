"""Load smoke test: web processes, workers and the sandbox under mixed traffic and kills lose nothing."""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from loadtest import READS, LoadConfig, deliveries, run_load, signed_headers

from poas.sources.payload import parse_timestamp, verify_hmac_sha256_base64

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_the_plan_has_unique_paid_orders_exact_repeats_and_later_updates() -> None:
    plan = deliveries(LoadConfig(db_url="sqlite://", engine_name="sqlite", orders=600), NOW)
    paid = {d.order_id: d for d in plan if d.kind == "webhook_paid"}
    assert len(paid) == 600 == len([d for d in plan if d.kind == "webhook_paid"])
    repeats = [d for d in plan if d.kind == "webhook_duplicate"]
    assert 30 <= len(repeats) <= 90  # ~10 %
    for d in repeats:  # the same delivery again: body, topic and event id
        p = paid[d.order_id]
        assert (d.body, d.topic, d.event_id) == (p.body, p.topic, p.event_id)
    updates = [d for d in plan if d.kind == "webhook_updated"]
    assert 120 <= len(updates) <= 240  # ~30 %
    position = {id(d): i for i, d in enumerate(plan)}
    overtaking = 0
    for d in updates:
        p = paid[d.order_id]
        assert d.topic == "orders/updated" and d.event_id != p.event_id
        newer, older = (parse_timestamp(json.loads(x.body)["updated_at"], "t") for x in (d, p))
        assert newer > older
        overtaking += position[id(d)] < position[id(p)]
    assert overtaking > 0  # some updates arrive before their paid delivery, as Shopify's can
    for d in paid.values():
        created = parse_timestamp(json.loads(d.body)["created_at"], "t")
        assert NOW - timedelta(hours=1) < created < NOW  # well inside Meta's 7-day window
        sig = signed_headers(d, "s3cret")["X-Shopify-Hmac-Sha256"]
        assert verify_hmac_sha256_base64(d.body, sig, ["s3cret"])


@pytest.mark.slow
def test_mixed_load_with_killed_and_stopped_workers_keeps_each_order_and_purchase_once(
    db_url: str, tmp_path: Path
) -> None:
    postgres = db_url.startswith("postgresql")
    cfg = LoadConfig(
        db_url=db_url,
        engine_name="postgresql" if postgres else "sqlite",
        orders=130,
        web=2 if postgres else 1,
        workers=2,
        concurrency=8,
        readers=2,
        duration_s=40,
        drain_timeout_s=60,
        fast_forward_inbox_lease=True,
        log_dir=tmp_path / "logs",
    )
    summary, seen = run_load(cfg)

    assert summary["failures"] == [], f"{summary['failures']} {summary['chaos']} (logs in {cfg.log_dir})"
    # The traffic was the mix asked for, and every answer was a 200.
    kinds = Counter(s.kind for s in seen.samples)
    assert kinds["webhook_paid"] > 0 and kinds["webhook_duplicate"] > 0 and kinds["webhook_updated"] > 0
    assert all(kinds[k] > 0 for k in READS), kinds
    assert sum(kinds.values()) >= 150
    assert {s.status for s in seen.samples} == {200}
    # Each accepted order is stored once and has one Purchase, sent.
    accepted = {(shop, o) for shop, ids in seen.accepted.items() for o in ids}
    assert len(accepted) >= cfg.orders // 2
    for shop, ids in seen.touched.items():
        assert sorted(seen.stored[shop]) == sorted(ids)
    purchases = Counter((p["shop_id"], p["order_id"]) for p in seen.purchases)
    assert set(purchases) == accepted and set(purchases.values()) == {1}
    assert {p["state"] for p in seen.purchases} == {"sent"}
    # Meta accepted each Purchase once by event_id; a repeat only for what the killed worker held
    # (or a request whose answer the sandbox withheld to catch a worker mid-request).
    firsts = Counter(r["event"]["event_id"] for r in seen.sandbox_records if not r["duplicate"])
    assert set(firsts) == {p["event_id"] for p in seen.purchases} and set(firsts.values()) == {1}
    repeats = {r["event"]["event_id"] for r in seen.sandbox_records if r["duplicate"]}
    assert seen.killed_in_flight, "the SIGKILL did not land while the worker held a claim"
    assert repeats <= seen.killed_in_flight | seen.answer_lost
    # One worker was killed mid-request, one stopped with SIGTERM and exited cleanly.
    assert seen.exit_codes[seen.killed_worker] == -signal.SIGKILL
    stopped = [line for line in seen.chaos_log if line.startswith("SIGTERM")]
    assert len(stopped) == 1 and stopped[0].endswith("exit 0")
    assert all(seen.graceful.values()) and len(seen.graceful) >= 4
