"""Exports: the profit ledger, orders, the delivery log and spend as CSV and JSON Lines, streamed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

from sqlalchemy import Engine
from test_seed_story import NOW, _load

from poas.services.export import iter_export, write_export
from poas.store.outbox import OutboxEvent, enqueue

DAY = date(2026, 3, 10)


def _export(engine: Engine, kind: str, fmt: str, **kw: object) -> str:
    buf = io.StringIO()
    write_export(iter_export(engine, kind, **kw), buf, fmt)  # type: ignore[arg-type]
    return buf.getvalue()


def test_profit_ledger_has_one_row_per_order_with_every_component(engine: Engine) -> None:
    _load(engine)
    rows = list(csv.DictReader(io.StringIO(_export(engine, "profit", "csv", shop="seed"))))
    assert len(rows) == 13
    a0 = next(r for r in rows if r["order_id"] == "A-0")
    assert a0["revenue_ex_vat"] == "500.00" and a0["cogs"] == "400.00" and a0["gross_profit"] == "100.00"
    assert a0["vat"] == "125.00" and a0["currency"] == "NOK" and a0["version"] == "1"
    bd = json.loads(a0["breakdown"])  # the explainable breakdown travels as JSON text, whole (not packed)
    assert "~v" not in bd and bd["order_id"] == "A-0" and bd["currency"] == "NOK"
    assert bd["components"]["cogs"] == {
        "amount": "400.00",
        "basis": "qty × unit cost valid at the order time, per line (see lines)",
    }
    assert bd["fx"] == [] and bd["notes"] is not None and bd["lines"][0]["line_id"]
    lines = _export(engine, "profit", "jsonl", date_from=DAY, date_to=DAY).splitlines()
    assert len(lines) == 13 and isinstance(json.loads(lines[0])["breakdown"], dict)
    assert _export(engine, "profit", "jsonl", date_from=date(2026, 3, 11)) == ""


def test_orders_export_leaves_contact_data_and_click_ids_out(engine: Engine) -> None:
    _load(engine)
    rows = [json.loads(x) for x in _export(engine, "orders", "jsonl").splitlines()]
    assert len(rows) == 13
    assert rows[0]["utm_source"] in ("facebook", "google") and "has_fbclid" in rows[0]
    assert rows[0]["has_google_click"] is False and "gclid" not in rows[0]
    assert not {"user_data", "fbclid", "fbc", "fbp", "email"} & set(rows[0])


def test_spend_and_delivery_log(engine: Engine) -> None:
    _load(engine)
    spend = list(csv.DictReader(io.StringIO(_export(engine, "spend", "csv"))))
    assert [r["spend"] for r in spend] == ["1000.00", "1000.00"] and spend[0][
        "meta_purchase_value"
    ] == "6000.00"
    payload = {
        "event_name": "Purchase",
        "custom_data": {"currency": "NOK", "value": 625.0, "net_revenue": 100.0},
    }
    with engine.begin() as conn:
        enqueue(
            conn,
            [
                OutboxEvent(
                    "seed", "px1", "Purchase", "A-0", datetime(2026, 3, 10, 11, tzinfo=UTC), payload, "A-0"
                )
            ],
            now=NOW,
        )
    events = [json.loads(x) for x in _export(engine, "events", "jsonl").splitlines()]
    assert len(events) == 1
    e = events[0]
    assert (e["event_id"], e["state"], e["value"], e["net_revenue"], e["currency"]) == (
        "A-0",
        "pending",
        625.0,
        100.0,
        "NOK",
    )
    assert "payload" not in e  # hashed user data stays in the outbox
