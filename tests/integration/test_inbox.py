"""The inbox: failures kept with PII-free reasons and retried with backoff, safe parallel processing."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from test_webhooks import fixture_bytes, fixture_json, make_settings

from poas.services import intake
from poas.settings import Settings
from poas.store import inbox as inbox_store
from poas.store.inbox import Delivery
from poas.store.orders import load_order
from poas.store.tables.foundation import orders
from poas.store.tables.intake import inbox

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # after the fixtures' order (11-20) and refund (11-24)


def deliver(engine: Engine, body: bytes, topic: str, key: str, shop: str = "nordlys") -> int:
    row_id, new = intake.accept(
        engine,
        Delivery(shop_id=shop, source="shopify", topic=topic, dedup_key=key, body=body, received_at=NOW),
        now=NOW,
    )
    assert new
    return row_id


def row(engine: Engine, row_id: int) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(inbox).where(inbox.c.id == row_id)).one()._mapping)


def test_failures_are_kept_retried_with_backoff_then_parked(engine: Engine, tmp_path: Path) -> None:
    body = fixture_bytes("shopify/order_paid.json")
    row_id = deliver(engine, body, "orders/paid", "f1", shop="gone")  # a shop removed from the config
    settings = make_settings(tmp_path)
    stats = intake.process_pending(engine, NOW, settings=settings)
    assert (stats.claimed, stats.retrying) == (1, 1)
    r = row(engine, row_id)
    assert (r["status"], r["attempts"]) == ("pending", 1)
    assert r["next_attempt_at"] == NOW + timedelta(seconds=30)
    assert r["error"] == "LookupError: shop 'gone' is not configured"
    kept = json.loads(bytes(r["body"]))  # kept until processed, as its private form (no raw contact data)
    assert kept["_poas"]["form"] == "hashed" and kept["_poas"]["user_data"]["em"]
    assert b"@" in body and b"@" not in bytes(r["body"])
    assert intake.process_pending(engine, NOW, settings=settings).claimed == 0  # not due yet
    at = NOW
    for _ in range(intake.MAX_ATTEMPTS - 1):
        at = at + intake.MAX_DELAY
        intake.process_pending(engine, at, settings=settings)
    r = row(engine, row_id)
    assert (r["status"], r["attempts"]) == ("failed", intake.MAX_ATTEMPTS)
    with engine.connect() as conn:
        listed = inbox_store.rows(conn, statuses=["failed"])
    assert [x["id"] for x in listed] == [row_id] and "body" not in listed[0]
    # The shop comes back: a retry processes the parked delivery.
    fixed = Settings(home=tmp_path, shops=[s.model_copy(update={"id": "gone"}) for s in settings.shops[:1]])
    with engine.begin() as conn:
        assert inbox_store.retry(conn, now=at) == 1
    assert intake.process_pending(engine, at, settings=fixed).done == 1
    assert row(engine, row_id)["status"] == "done"


def test_backoff_grows_and_is_capped() -> None:
    assert [intake.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert intake.backoff(30) == intake.MAX_DELAY


def test_error_descriptions_hold_no_personal_data() -> None:
    exc = RuntimeError("duplicate key for kari.nordmann@example.com phone +47 912 34 567 [SQL: INSERT x]")
    text = intake.describe_error(exc)
    assert "kari" not in text and "912" not in text and "SQL" not in text
    assert text.startswith("RuntimeError: duplicate key for <email> phone <number>")


def test_refund_before_its_order_is_kept_and_applied(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    deliver(engine, fixture_bytes("shopify/refund_create.json"), "refunds/create", "r1")
    intake.process_pending(engine, NOW, settings=settings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == 0
        outcome = conn.execute(select(inbox.c.outcome)).scalar_one()
    assert outcome == "refund 1020304050 kept until its order arrives"
    deliver(engine, fixture_bytes("shopify/order_paid.json"), "orders/paid", "o1")
    intake.process_pending(engine, NOW, settings=settings)
    with engine.connect() as conn:
        order = load_order(conn, "nordlys", "5830120800456")
    assert order is not None and [r.refund_id for r in order.refunds] == ["1020304050"]


def test_orders_edited_and_unknown_rows_are_noted(engine: Engine, tmp_path: Path) -> None:
    edit = json.dumps({"order_edit": {"id": 1, "order_id": 5830120800456, "line_items": {}}}).encode()
    row_id = deliver(engine, edit, "orders/edited", "ed1")
    intake.process_pending(engine, NOW, settings=make_settings(tmp_path))
    assert row(engine, row_id)["status"] == "skipped"


def test_parallel_workers_process_each_delivery_once(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    base = fixture_json("shopify/order_paid.json")
    n = 40
    for i in range(n):
        data = dict(base, id=9000 + i, name=f"#{9000 + i}")
        deliver(engine, json.dumps(data).encode(), "orders/paid", f"p{i}")
    results: list[intake.ProcessStats] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results.append(intake.process_pending(engine, NOW, settings=settings, batch=5, worker=f"w{k}"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.claimed for r in results) == n
    assert sum(r.done for r in results) == n
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == n
        assert inbox_store.counts(conn) == {"done": n}


def test_expired_lease_is_claimable_again(engine: Engine) -> None:
    deliver(engine, b"{}", "orders/paid", "l1")
    with engine.begin() as conn:
        (first,) = inbox_store.claim(conn, worker="a", now=NOW, lease=timedelta(minutes=5))
    with engine.begin() as conn:
        assert inbox_store.claim(conn, worker="b", now=NOW + timedelta(minutes=1)) == []
    with engine.begin() as conn:
        (again,) = inbox_store.claim(conn, worker="b", now=NOW + timedelta(minutes=6))
        assert again.id == first.id
        # the first worker's late result is not written over the second's claim
        assert not inbox_store.finish(conn, first.id, "a", status="done", outcome="x", order_id=None, now=NOW)
