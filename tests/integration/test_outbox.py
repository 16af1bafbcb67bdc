"""The outbox on SQLite and PostgreSQL: idempotent enqueue, leases, guarded marks, replay, purge, pauses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from delivery_helpers import events, utc
from sqlalchemy import Engine, select

from poas.store import outbox as ob
from poas.store.tables.delivery import outbox

NOW = utc(2026, 11, 20, 12, 0, 0)


def _enqueue(engine: Engine, rows: list[ob.OutboxEvent]) -> list[int]:
    with engine.begin() as conn:
        return ob.enqueue(conn, rows, now=NOW)


def _states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.event_id: r.state for r in conn.execute(select(outbox.c.event_id, outbox.c.state))}


def test_enqueue_same_key_twice_changes_nothing(engine: Engine) -> None:
    first = events("px1", 3, NOW)
    assert len(_enqueue(engine, first)) == 3
    changed = [
        ob.OutboxEvent(
            e.shop_id, e.pixel_id, e.event_name, e.event_id, e.event_time, '{"changed":1}', e.order_id
        )
        for e in first
    ]
    assert _enqueue(engine, changed + events("px1", 1, NOW, prefix="new")) != []
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_id, outbox.c.payload)).all()
    assert len(rows) == 4
    assert all('"changed"' not in r.payload for r in rows)


def test_enqueue_inside_callers_transaction_rolls_back_with_it(engine: Engine) -> None:
    try:
        with engine.begin() as conn:
            ob.enqueue(conn, events("px1", 2, NOW), now=NOW)
            raise RuntimeError("order insert failed")
    except RuntimeError:
        pass
    assert _states(engine) == {}


def test_claim_leases_one_pixel_and_two_workers_never_share(engine: Engine) -> None:
    _enqueue(engine, events("px1", 5, NOW) + events("px2", 4, NOW))
    a = ob.claim(engine, "w-a", "px1", 3, 60, NOW)
    b = ob.claim(engine, "w-b", "px1", 3, 60, NOW)
    assert a is not None and b is not None
    assert len(a.events) == 3 and len(b.events) == 2
    assert not {e.id for e in a.events} & {e.id for e in b.events}
    assert all(e.attempts == 1 and e.pixel_id == "px1" for e in a.events + b.events)
    assert ob.claim(engine, "w-c", "px1", 3, 60, NOW) is None
    c = ob.claim(engine, "w-c", None, 10, 60, NOW)
    assert c is not None and c.pixel_id == "px2" and len(c.events) == 4
    with engine.connect() as conn:
        owners = {
            r.lease_owner
            for r in conn.execute(select(outbox.c.lease_owner).where(outbox.c.state == "sending"))
        }
    assert owners == {a.owner, b.owner, c.owner} and len(owners) == 3
    assert {ob.worker_of(o) for o in owners} == {"w-a", "w-b", "w-c"}


def test_expired_lease_is_claimable_and_old_owner_cannot_overwrite(engine: Engine) -> None:
    _enqueue(engine, events("px1", 2, NOW))
    a = ob.claim(engine, "w-a", "px1", 10, 30, NOW)
    assert a is not None
    assert ob.claim(engine, "w-b", "px1", 10, 30, NOW + timedelta(seconds=29)) is None
    b = ob.claim(engine, "w-b", "px1", 10, 30, NOW + timedelta(seconds=31))
    assert b is not None and {e.id for e in b.events} == {e.id for e in a.events}
    assert all(e.attempts == 2 for e in b.events)
    ids = [e.id for e in a.events]
    with engine.begin() as conn:
        assert ob.mark_dead(conn, a.owner, ids, reason="late") == 0
        assert (
            ob.mark_sent(conn, b.owner, ids, now=NOW, meta_response={"fbtrace_id": "x", "events_received": 2})
            == 2
        )
    assert set(_states(engine).values()) == {"sent"}


def test_extend_lease_returns_the_ids_still_owned_and_never_shortens(engine: Engine) -> None:
    _enqueue(engine, events("px1", 5, NOW))
    a = ob.claim(engine, "w-a", "px1", 10, 30, NOW)
    assert a is not None and a.held == {e.id for e in a.events}
    ids = [e.id for e in a.events]
    later = NOW + timedelta(seconds=31)
    b = ob.claim(engine, "w-b", "px1", 2, 30, later)  # two rows taken over after the lease ended
    assert b is not None and len(b.events) == 2
    taken = {e.id for e in b.events}
    with engine.begin() as conn:
        ob.mark_sent(conn, a.owner, [i for i in ids if i not in taken][:1], now=NOW, meta_response={})
        still = [i for i in ids if i not in taken][1:]
        assert ob.extend_lease(conn, a.owner, ids, until=later + timedelta(seconds=60)) == still
        # An earlier end leaves each lease as it is, and still names the rows owned.
        assert ob.extend_lease(conn, a.owner, ids, until=later) == still
        assert ob.extend_lease(conn, a.owner, [], until=later) == []
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(outbox).where(outbox.c.state == "sending"))}
    for i in still:
        assert rows[i].lease_owner == a.owner
        assert rows[i].lease_until == rows[i].next_attempt_at == later + timedelta(seconds=60)
    for i in taken:  # the new owner's rows are untouched
        assert rows[i].lease_owner == b.owner and rows[i].lease_until == b.lease_until


def test_a_claim_taken_over_by_the_same_worker_is_fenced_like_any_other(engine: Engine) -> None:
    """Two claims of one worker (two slots of a dispatcher): the expired one matches nothing."""
    _enqueue(engine, events("px1", 3, NOW))
    first = ob.claim(engine, "w", "px1", 10, 30, NOW)
    second = ob.claim(engine, "w", "px1", 10, 30, NOW + timedelta(seconds=31))
    assert first is not None and second is not None
    ids = [e.id for e in first.events]
    assert [e.id for e in second.events] == ids
    assert first.owner != second.owner and ob.worker_of(first.owner) == ob.worker_of(second.owner) == "w"
    later = NOW + timedelta(seconds=120)
    with engine.begin() as conn:
        assert ob.extend_lease(conn, first.owner, ids, until=later) == []
        assert ob.mark_sent(conn, first.owner, ids, now=NOW, meta_response={}) == 0
        assert ob.mark_retry(conn, first.owner, ids, next_at=later, error="late") == 0
        assert ob.mark_dead(conn, first.owner, ids, reason="late") == 0
        assert ob.release(conn, first.owner, ids, now=NOW) == 0
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.state, outbox.c.lease_owner, outbox.c.lease_until)).all()
    assert {tuple(r) for r in rows} == {("sending", second.owner, second.lease_until)}
    with engine.begin() as conn:
        assert ob.mark_sent(conn, second.owner, ids, now=NOW, meta_response={}) == 3


def test_release_of_a_worker_takes_back_all_its_claims_and_only_its(engine: Engine) -> None:
    _enqueue(engine, events("px1", 6, NOW) + events("px2", 2, NOW))
    mine = [ob.claim(engine, "w-1", "px1", 2, 30, NOW) for _ in range(2)]
    others = [
        ob.claim(engine, worker, "px1" if worker != "W-1" else "px2", 1, 30, NOW)
        for worker in ("w-10", "w-1.x", "W-1")  # a longer id, one with a dot, another case
    ]
    assert all(c is not None for c in mine + others)
    with engine.begin() as conn:
        assert ob.release(conn, "w-%", None, now=NOW) == 0
        assert ob.release(conn, "w-1", None, now=NOW) == 4
    with engine.connect() as conn:
        held = {r.lease_owner for r in conn.execute(select(outbox).where(outbox.c.state == "sending"))}
    assert held == {c.owner for c in others if c is not None}


def test_a_worker_id_must_leave_room_for_the_claim_number(engine: Engine) -> None:
    _enqueue(engine, events("px1", 1, NOW))
    with pytest.raises(ValueError, match="at most"):
        ob.claim(engine, "w" * (ob.MAX_WORKER_ID + 1), "px1", 10, 30, NOW)
    longest = ob.claim(engine, "w" * ob.MAX_WORKER_ID, "px1", 10, 30, NOW)
    assert longest is not None and len(longest.owner) <= outbox.c.lease_owner.type.length


def test_retry_waits_until_next_attempt(engine: Engine) -> None:
    _enqueue(engine, events("px1", 1, NOW))
    a = ob.claim(engine, "w", "px1", 10, 30, NOW)
    assert a is not None
    with engine.begin() as conn:
        ob.mark_retry(
            conn, a.owner, [a.events[0].id], next_at=NOW + timedelta(seconds=10), error="retry: http 503"
        )
    assert ob.claim(engine, "w", None, 10, 30, NOW + timedelta(seconds=9)) is None
    again = ob.claim(engine, "w", None, 10, 30, NOW + timedelta(seconds=10))
    assert again is not None and again.events[0].attempts == 2


def test_dead_events_replay_with_the_same_event_id(engine: Engine) -> None:
    _enqueue(engine, events("px1", 3, NOW))
    a = ob.claim(engine, "w", "px1", 10, 30, NOW)
    assert a is not None
    with engine.begin() as conn:
        ob.mark_dead(conn, a.owner, [e.id for e in a.events[:2]], reason="invalid: code 100 bad hash")
        ob.mark_sent(conn, a.owner, [a.events[2].id], now=NOW, meta_response={})
        dead = ob.list_events(conn, state="dead")
    assert [d["last_error"] for d in dead] == ["invalid: code 100 bad hash"] * 2
    with engine.begin() as conn:
        assert ob.replay(conn, ids=[dead[0]["id"]], now=NOW) == 1
        assert ob.replay(conn, now=NOW) == 1
    again = ob.claim(engine, "w2", "px1", 10, 30, NOW)
    assert again is not None
    assert sorted(e.event_id for e in again.events) == sorted(d["event_id"] for d in dead)
    assert all(e.attempts == 1 for e in again.events)


def test_purge_deletes_only_old_sent_rows(engine: Engine) -> None:
    _enqueue(engine, events("px1", 3, NOW))
    a = ob.claim(engine, "w", "px1", 2, 30, NOW)
    assert a is not None
    with engine.begin() as conn:
        ob.mark_sent(conn, a.owner, [a.events[0].id], now=NOW - timedelta(days=40), meta_response={})
        ob.mark_sent(conn, a.owner, [a.events[1].id], now=NOW - timedelta(days=2), meta_response={})
        events_deleted, _ = ob.purge(conn, older_than=NOW - timedelta(days=30))
    assert events_deleted == 1
    assert sorted(_states(engine).values()) == ["pending", "sent"]


def test_paused_and_throttled_pixels_are_not_claimed(engine: Engine) -> None:
    _enqueue(engine, events("px1", 2, NOW) + events("px2", 2, NOW))
    with engine.begin() as conn:
        ob.pause_pixel(conn, "px1", reason="pause: code 190 token expired", now=NOW)
        ob.throttle_pixel(conn, "px2", now=NOW)
        ob.set_throttle_until(conn, "px2", until=NOW + timedelta(seconds=60), now=NOW)
    assert ob.claim(engine, "w", None, 10, 30, NOW) is None
    assert ob.claim(engine, "w", "px1", 10, 30, NOW + timedelta(days=1)) is None  # paused until resumed
    later = ob.claim(engine, "w", None, 10, 30, NOW + timedelta(seconds=61))
    assert later is not None and later.pixel_id == "px2"
    with engine.connect() as conn:
        st = ob.stats(conn, now=NOW)
    assert [(p.pixel_id, p.reason) for p in st.paused] == [("px1", "pause: code 190 token expired")]
    assert st.counts["px1"] == {"pending": 2}
    assert st.counts["px2"] == {"sending": 2}
    assert st.oldest_due["px1"] == NOW
    assert "px2" in st.throttled
    with engine.begin() as conn:
        assert ob.resume_pixel(conn, "px1", now=NOW)
    resumed = ob.claim(engine, "w", None, 10, 30, NOW)
    assert resumed is not None and resumed.pixel_id == "px1"


def test_timed_pause_ends_by_itself(engine: Engine) -> None:
    _enqueue(engine, events("px1", 1, NOW))
    with engine.begin() as conn:
        ob.pause_pixel(conn, "px1", reason="maintenance", now=NOW, until=NOW + timedelta(minutes=5))
    assert ob.claim(engine, "w", None, 10, 30, NOW + timedelta(minutes=4)) is None
    assert ob.claim(engine, "w", None, 10, 30, NOW + timedelta(minutes=6)) is not None


def test_release_returns_claims_and_can_undo_the_attempt(engine: Engine) -> None:
    _enqueue(engine, events("px1", 2, NOW))
    a = ob.claim(engine, "w", "px1", 10, 30, NOW)
    assert a is not None
    with engine.begin() as conn:
        assert ob.release(conn, "other", None, now=NOW) == 0
        assert ob.release(conn, "w", None, now=NOW, undo_attempt=True) == 2
    again = ob.claim(engine, "w2", "px1", 10, 30, NOW)
    assert again is not None and [e.attempts for e in again.events] == [1, 1]
