"""The delivery view by reason (both engines): expected conditions apart from failures, paging, and a
replay that re-queues only what can still succeed, with the count it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from poas.services import views
from poas.services.views.delivery_reasons import TOO_OLD, reason_words
from poas.store import outbox as ob
from poas.store.orders import ensure_shop
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import orders

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOO_OLD_TEXT = (
    "too old: event_time is more than 6 days, 23:59:00 before the send time "
    "(Meta's limit is 7 days and it rejects the whole request)"
)


def _event(n: int, age: timedelta) -> ob.OutboxEvent:
    return ob.OutboxEvent(
        shop_id="a",
        pixel_id="111",
        event_name="Purchase",
        event_id=f"ev-{n}",
        order_id=f"o-{n}",
        event_time=NOW - age,
        payload={"event_name": "Purchase", "event_id": f"ev-{n}"},
    )


def _dead(engine: Engine, events: list[ob.OutboxEvent], reasons: list[str]) -> list[int]:
    with engine.begin() as conn:
        ob.enqueue(conn, events, now=NOW - timedelta(days=1))
    claim = ob.claim(engine, "w", "111", limit=len(events), lease_s=60, now=NOW)
    assert claim is not None and len(claim.events) == len(events)
    ids = [e.id for e in claim.events]
    with engine.begin() as conn:
        for i, reason in zip(ids, reasons, strict=True):
            ob.mark_dead(conn, claim.owner, [i], reason=reason)
    return ids


def seed(engine: Engine) -> dict[str, list[int]]:
    """12 too old (history), 3 invalid (two inside Meta's window, one 8 days old), 1 retrying; two
    orders never queued: one declined consent, one a test order."""
    old = _dead(engine, [_event(i, timedelta(days=20)) for i in range(12)], [TOO_OLD_TEXT] * 12)
    bad = _dead(
        engine,
        [_event(100, timedelta(days=2)), _event(101, timedelta(days=3)), _event(102, timedelta(days=8))],
        [f"invalid: http 400 code 100 Invalid parameter (fbtrace_id T{i})" for i in range(3)],
    )
    with engine.begin() as conn:
        ob.enqueue(conn, [_event(200, timedelta(hours=2))], now=NOW)
    claim = ob.claim(engine, "w2", "111", limit=1, lease_s=60, now=NOW)
    assert claim is not None
    with engine.begin() as conn:
        ob.mark_retry(conn, claim.owner, [claim.events[0].id], next_at=NOW + timedelta(minutes=5), error="x")
        ensure_shop(conn, "a", "NOK", True, NOW)
        for oid, test, consent in (("n-1", False, False), ("n-2", True, None)):
            conn.execute(
                orders.insert().values(
                    shop_id="a", order_id=oid, name=f"#{oid}", currency="NOK", prices_include_vat=True,
                    created_at=NOW, financial_status="paid", test=test, consent_ads_tracking=consent,
                    source="test", ingested_at=NOW,
                )
            )  # fmt: skip
    return {"old": old, "bad": bad}


def test_reasons_are_grouped_and_expected_ones_kept_apart(engine: Engine) -> None:
    seed(engine)
    view = views.delivery_view(engine, now=NOW, shops=None)
    assert (view.dead_total, view.dead_expected, view.replayable) == (15, 12, 2)
    dead = [g for g in view.reasons if g.state == "dead"]
    assert [(g.expected, g.count, g.replayable) for g in dead] == [(False, 3, 2), (True, 12, 0)]
    assert dead[0].reason == "invalid: http 400 code 100 Invalid parameter"  # one row despite 3 trace ids
    assert dead[1].reason == TOO_OLD
    retry = [g for g in view.reasons if g.state == "retry"]
    assert [(g.count, g.reason) for g in retry] == [(1, "x")]
    assert {(n.kind, n.count, n.expected) for n in view.not_queued} == {
        ("no_consent", 1, True),
        ("test", 1, True),
    }


def test_dead_list_pages_and_filters_by_reason(engine: Engine) -> None:
    seeded = seed(engine)
    first = views.delivery_view(engine, now=NOW, shops=None, limit=5)
    assert first.dead_matching == 15 and len(first.dead) == 5
    rest = views.delivery_view(engine, now=NOW, shops=None, limit=5, offset=10)
    assert len(rest.dead) == 5 and not {d.id for d in rest.dead} & {d.id for d in first.dead}
    too_old = next(g for g in first.reasons if g.expected)
    only = views.delivery_view(engine, now=NOW, shops=None, reason=too_old.key, limit=50)
    assert only.reason == too_old.key and only.dead_matching == 12
    assert {d.id for d in only.dead} == set(seeded["old"]) and not any(d.replayable for d in only.dead)
    assert {d.reason for d in only.dead} == {TOO_OLD}  # in words, as the group says it
    unknown = views.delivery_view(engine, now=NOW, shops=None, reason="nope")
    assert unknown.reason is None and unknown.dead_matching == 15


def test_replay_requeues_only_what_can_succeed_and_says_how_many(engine: Engine) -> None:
    seeded = seed(engine)
    view = views.delivery_view(engine, now=NOW, shops=None)
    too_old = next(g for g in view.reasons if g.expected)
    assert views.replay_dead(engine, ids=None, shops=None, now=NOW, reason=too_old.key) == 0
    assert views.replay_dead(engine, ids=seeded["old"][:1], shops=None, now=NOW) == 0
    assert views.replay_dead(engine, ids=None, shops=["b"], now=NOW) == 0  # another shop's caller
    n = views.replay_dead(engine, ids=None, shops=None, now=NOW)
    assert n == view.replayable == 2
    with engine.connect() as conn:
        states = dict(
            conn.execute(select(outbox.c.id, outbox.c.state).where(outbox.c.id.in_(seeded["bad"]))).all()
        )
    assert [states[i] for i in seeded["bad"]] == ["pending", "pending", "dead"]
    after = views.delivery_view(engine, now=NOW, shops=None)
    assert (after.dead_total, after.dead_expected, after.replayable) == (13, 12, 0)


def test_reason_words() -> None:
    assert reason_words(TOO_OLD_TEXT) == (TOO_OLD, True)
    assert reason_words(None)[1] is False
    words, expected = reason_words("gave up after 8 attempts: retry: http 500 boom (fbtrace_id Z)")
    assert words == "Meta kept failing: gave up after 8 attempts (retry: http 500 boom)" and not expected
