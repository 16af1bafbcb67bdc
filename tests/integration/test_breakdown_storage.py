"""The profit_snapshots.breakdown column holds the packed breakdown; every reader gets the whole one,
and rows written before packing still read (both engines)."""

from __future__ import annotations

import json
from dataclasses import replace

import orjson
from sqlalchemy import Engine, select
from test_ingest import NOW, RULES, SHOP, cost, order

from poas.services.ingest import ingest_order
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.rules import save_rules
from poas.store.snapshots import add_snapshot_values, history, latest_snapshot, snapshot_values
from poas.store.tables.foundation import profit_snapshots


def _raw(engine: Engine) -> list[dict[str, object]]:
    ps = profit_snapshots.c
    with engine.connect() as conn:
        rows = conn.execute(select(ps.breakdown).where(ps.shop_id == "s1").order_by(ps.version)).all()
    return [r.breakdown if isinstance(r.breakdown, dict) else json.loads(r.breakdown) for r in rows]


def test_stored_packed_and_read_whole_next_to_a_row_stored_whole(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(conn, "s1", [cost("300")], now=NOW)
        save_rules(conn, "s1", RULES, source="test", now=NOW)
        out = ingest_order(conn, order(), SHOP, now=NOW, trigger_purchase=False)
    assert out.profit is not None
    (stored,) = _raw(engine)
    assert stored["~v"] == 1 and "cogs" in stored["components"]
    assert "basis" not in stored["components"]["cogs"]  # the template's text is not repeated
    with engine.connect() as conn:
        snap = latest_snapshot(conn, "s1", "1001")
    assert snap is not None and snap.breakdown == out.profit.to_dict()
    assert snap.breakdown["components"]["cogs"]["basis"].startswith("qty × unit cost")

    # a row written by an earlier poas holds the whole breakdown: it reads as it is
    changed = replace(out.profit, sendable=False, reason="written before packing")
    old = replace(snapshot_values(changed), breakdown_json=orjson.dumps(changed.to_dict()).decode())
    with engine.begin() as conn:
        add_snapshot_values(conn, [("s1", "1001", old)], reason="legacy", now=NOW)
    assert "~v" not in _raw(engine)[1]
    with engine.connect() as conn:
        versions = history(conn, "s1", "1001")
    assert [s.version for s in versions] == [1, 2]
    assert versions[0].breakdown == out.profit.to_dict()
    assert (
        versions[1].breakdown == changed.to_dict()
        and versions[1].breakdown["reason"] == "written before packing"
    )
