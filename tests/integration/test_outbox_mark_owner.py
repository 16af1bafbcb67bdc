"""`mark_sent` belongs to the claim that holds the lease (both engines): a second, independent check
beside test_outbox.py's same-worker case. Another worker took over rows after the first one's lease
ran out; the first worker's late "sent" must change none of them, so the new owner's own answer
(here: Meta refused the event) is the one that stands, and only the rows still held are marked."""

from __future__ import annotations

from datetime import timedelta

from delivery_helpers import events, utc
from sqlalchemy import Engine, select

from poas.store import outbox as ob
from poas.store.tables.delivery import outbox

NOW = utc(2026, 11, 20, 12, 0, 0)
LEASE_S = 30


def _rows(engine: Engine) -> dict[int, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {
            r.id: (r.state, r.lease_owner)
            for r in conn.execute(select(outbox.c.id, outbox.c.state, outbox.c.lease_owner))
        }


def test_a_late_sent_from_another_worker_changes_nothing_the_new_owner_holds(engine: Engine) -> None:
    with engine.begin() as conn:
        ob.enqueue(conn, events("px9", 4, NOW), now=NOW)
    stale = ob.claim(engine, "worker-a", "px9", 10, LEASE_S, NOW)
    assert stale is not None and len(stale.events) == 4
    ids = [e.id for e in stale.events]
    # worker-a stalls past its lease; worker-b takes two of the rows over.
    fresh = ob.claim(engine, "worker-b", "px9", 2, LEASE_S, NOW + timedelta(seconds=LEASE_S + 1))
    assert fresh is not None and ob.worker_of(fresh.owner) == "worker-b"
    taken = [e.id for e in fresh.events]
    kept = [i for i in ids if i not in taken]
    assert len(taken) == 2 and len(kept) == 2

    with engine.begin() as conn:  # worker-a comes back: Meta accepted its (old) request for all four
        marked = ob.mark_sent(conn, stale.owner, ids, now=NOW + timedelta(seconds=40), meta_response={})
    assert marked == 2  # only the rows its lease still covers (nobody claimed them since)
    rows = _rows(engine)
    assert all(rows[i] == ("sent", None) for i in kept)
    assert all(rows[i] == ("sending", fresh.owner) for i in taken), "the new owner's rows were overwritten"

    with engine.begin() as conn:  # worker-b's own answer for its rows: refused by Meta
        assert ob.mark_dead(conn, fresh.owner, taken, reason="invalid: http 400 code 100") == 2
    rows = _rows(engine)
    assert [rows[i][0] for i in taken] == ["dead", "dead"]


def test_a_finished_row_cannot_be_marked_sent_by_anyone(engine: Engine) -> None:
    with engine.begin() as conn:
        ob.enqueue(conn, events("px8", 1, NOW), now=NOW)
    claim = ob.claim(engine, "worker-a", "px8", 1, LEASE_S, NOW)
    assert claim is not None
    (row_id,) = [e.id for e in claim.events]
    with engine.begin() as conn:
        assert (
            ob.mark_retry(conn, claim.owner, [row_id], next_at=NOW + timedelta(minutes=5), error="http 500")
            == 1
        )
        # the same claim again, and a claim that never held the row: neither turns a retry into "sent"
        assert ob.mark_sent(conn, claim.owner, [row_id], now=NOW, meta_response={}) == 0
        assert ob.mark_sent(conn, "worker-z.1", [row_id], now=NOW, meta_response={}) == 0
    assert _rows(engine)[row_id] == ("retry", None)
