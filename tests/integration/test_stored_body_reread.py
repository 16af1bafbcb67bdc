"""Bodies accepted before an upgrade stay readable: an installation upgraded from 0.1.0 holds API
bodies that version accepted and today's format refuses (an unknown field, a text over its column).
They are re-read leniently when a refund needs its order rebuilt, a refund kept alone meets its
order, or a delivery still waits in the inbox; the same body sent fresh is still refused.
(SQLite and PostgreSQL.)"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, insert, select
from structlog.testing import capture_logs

from poas.domain.costs import CostRow
from poas.domain.order import Attribution, Customer, Order, OrderLine
from poas.services import intake
from poas.services.ingest import ingest_order
from poas.services.returns import finalize_due
from poas.settings import Settings, ShopConfig
from poas.sources import canonical_json
from poas.store import outbox as ob
from poas.store.costs import import_costs
from poas.store.inbox import Delivery
from poas.store.orders import load_order
from poas.store.snapshots import history
from poas.store.tables.delivery import outbox
from poas.store.tables.intake import inbox, intake_orders
from poas.web.app import create_app

SHOP = ShopConfig(id="a", pixel_id="111", api_token=SecretStr("token-for-shop-a"))
TOKEN = {"Authorization": "Bearer token-for-shop-a"}
NOW = datetime.now(UTC).replace(microsecond=0)
PLACED = NOW - timedelta(days=2)
SKU = "TEE-" + "x" * 296  # 300 characters; 0.1.0 cut it to 200 when reading, the stored body keeps all


def _settings() -> Settings:
    return Settings(
        session_secret=SecretStr("s" * 32),
        admin_api_token=SecretStr("admin-token-123456"),
        intake_process_in_web=False,  # processed below, at a known moment
        shops=[SHOP],
    )


def old_body() -> dict[str, Any]:
    """What a client posted to 0.1.0's POST /api/v1/orders, answered 202."""
    return {
        "order_id": "1001",
        "name": "#1001",
        "currency": "NOK",
        "created_at": PLACED.isoformat(),
        "updated_at": PLACED.isoformat(),
        "financial_status": "paid",
        "gateway": "vipps",
        "channel": "pos-terminal-3",  # not a field of the format: 0.1.0 ignored it
        "customer": {"email": "kari@example.com"},
        "attribution": {"fbclid": "AbC", "client_ip": "203.0.113.7"},
        "lines": [
            {
                "line_id": "1",
                "quantity": 2,
                "unit_price": "499.00",
                "tax": "199.60",
                "variant_id": "4711",
                "sku": SKU,
                "title": "Tee",
            }
        ],
    }


def old_order() -> Order:
    """The order 0.1.0 built from `old_body` and stored."""
    line = OrderLine(
        "1", 2, Decimal("499.00"), sku=SKU[:200], variant_id="4711", title="Tee", tax=Decimal("199.60")
    )
    return Order(
        "a",
        "1001",
        PLACED,
        "NOK",
        (line,),
        name="#1001",
        updated_at=PLACED,
        gateway="vipps",
        customer=Customer(email="kari@example.com"),
        attribution=Attribution(fbclid="AbC"),
        source="api",
    )


@pytest.fixture
def upgraded(engine: Engine) -> Engine:
    """A store as 0.1.0 left it: order 1001 ingested, its Purchase sent to Meta, its body kept."""
    with engine.begin() as conn:
        import_costs(
            conn, "a", [CostRow.of("4711", Decimal("150"), "NOK", PLACED - timedelta(days=30))], now=NOW
        )
        out = ingest_order(conn, old_order(), SHOP, now=PLACED, trigger_purchase=True)
        assert out.events is not None and out.events.queued, out.events_skipped
        conn.execute(
            insert(intake_orders).values(
                shop_id="a",
                order_id="1001",
                source="api",
                updated_at=PLACED,
                payload=canonical_json.scrub(old_body()),
                refunds={},
                stored_at=PLACED,
            )
        )
    claim = ob.claim(engine, "w1", "111", limit=10, lease_s=60, now=NOW)
    assert claim is not None
    with engine.begin() as conn:
        ob.mark_sent(
            conn, claim.owner, [e.id for e in claim.events], now=NOW, meta_response={"events_received": 1}
        )
    return engine


@pytest.fixture
def client(upgraded: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), upgraded)) as c:
        yield c


def _process(engine: Engine) -> intake.ProcessStats:
    return intake.process_pending(engine, datetime.now(UTC), settings=_settings())


def _inbox_row(engine: Engine, row_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(inbox).where(inbox.c.id == row_id)).one()._mapping)


def test_a_refund_for_an_order_0_1_0_accepted_is_applied_and_corrects_meta(
    client: TestClient, upgraded: Engine
) -> None:
    refund = {
        "order_id": "1001",
        "refund_id": "R1",
        "processed_at": (NOW - timedelta(days=1)).isoformat(),
        "lines": [
            {"line_id": "1", "quantity": 2, "restock_type": "return", "amount": "998.00", "tax": "199.60"}
        ],
    }
    posted = client.post("/api/v1/refunds", json=refund, headers=TOKEN)
    assert posted.status_code == 202, posted.text
    with capture_logs() as logs:
        stats = _process(upgraded)
    row = _inbox_row(upgraded, posted.json()["inbox_id"])
    assert (row["status"], row["error"]) == ("done", None)
    assert row["outcome"].startswith("refund R1 merged; order updated; profit snapshot v2")
    assert row["outcome"].endswith("(stored bodies re-read leniently: 2 adjustments)")
    assert (stats.done, stats.reread_leniently, stats.adjustments) == (1, 1, 2)
    [logged] = [e for e in logs if e["event"] == "stored API bodies re-read leniently"]
    assert logged["adjusted"] == [
        "channel: ignored (not a known field)",
        "lines[0].sku: cut to 200 characters",
    ]
    assert "pos-terminal" not in repr(logged) and "xxxx" not in repr(logged)  # paths and actions, no values
    with upgraded.connect() as conn:
        order = load_order(conn, "a", "1001")
        versions = history(conn, "a", "1001")
    assert order is not None and [r.refund_id for r in order.refunds] == ["R1"]
    assert order.lines[0].sku == SKU[:200]  # cut as 0.1.0 cut it
    assert [v.version for v in versions] == [1, 2]
    before, after = versions[0].amounts, versions[1].amounts
    assert before["realized_profit"] > 0 and after["realized_profit"] < before["realized_profit"]

    report = finalize_due(upgraded, SHOP, now=datetime.now(UTC))
    assert (report.queued, report.errors) == (1, [])
    with upgraded.connect() as conn:
        appended = conn.execute(
            select(func.count()).where(outbox.c.order_id == "1001", outbox.c.event_name == "AppendValue")
        ).scalar_one()
    assert appended == 1


def test_the_same_body_sent_fresh_is_still_refused(client: TestClient) -> None:
    body = old_body()
    r = client.post("/api/v1/orders", json=body, headers=TOKEN)
    assert (r.status_code, r.json()["field"]) == (422, "channel")
    del body["channel"]
    r = client.post("/api/v1/orders", json=body, headers=TOKEN)
    assert (r.status_code, r.json()["field"]) == (422, "lines[0].sku")
    assert "longer than 200 characters" in r.json()["detail"]


def test_a_refund_0_1_0_kept_alone_does_not_block_its_order(engine: Engine) -> None:
    """0.1.0 kept a refund that arrived before its order; the order now arrives (valid) and is built."""
    kept = {"order_id": "2002", "refund_id": "R9", "processed_at": NOW.isoformat(), "reason_code": "size"}
    kept["lines"] = [{"line_id": "1", "quantity": 1, "restock_type": "return", "sku": "TEE"}]
    with engine.begin() as conn:
        conn.execute(
            insert(intake_orders).values(
                shop_id="a",
                order_id="2002",
                source="api",
                payload=None,
                refunds={"R9": kept},
                stored_at=PLACED,
            )
        )
    body = copy.deepcopy(old_body())
    del body["channel"]
    body["order_id"], body["lines"][0]["sku"] = "2002", "TEE"
    with TestClient(create_app(_settings(), engine)) as c:
        posted = c.post("/api/v1/orders", json=body, headers=TOKEN)
    assert posted.status_code == 202, posted.text
    assert _process(engine).done == 1
    row = _inbox_row(engine, posted.json()["inbox_id"])
    assert row["outcome"].endswith("(stored bodies re-read leniently: 2 adjustments)")
    with engine.connect() as conn:
        order = load_order(conn, "a", "2002")
    assert order is not None and [r.refund_id for r in order.refunds] == ["R9"]


def test_a_delivery_0_1_0_accepted_and_left_in_the_inbox_is_processed(engine: Engine) -> None:
    """Answered 202 by 0.1.0 and still pending (or failed) at the upgrade: its client will not send it
    again, so processing it re-reads it leniently instead of failing it for good."""
    body = old_body() | {"order_id": "3003"}
    raw = json.dumps(body).encode()
    row_id, new = intake.accept(
        engine,
        Delivery(shop_id="a", source="api", topic="orders", dedup_key="k:3003", body=raw, received_at=PLACED),
        now=PLACED,
    )
    assert new
    assert _process(engine).done == 1
    row = _inbox_row(engine, row_id)
    assert (row["status"], row["error"]) == ("done", None)
    assert "re-read leniently: 2 adjustments" in row["outcome"]
    with engine.connect() as conn:
        order = load_order(conn, "a", "3003")
    assert order is not None and order.lines[0].sku == SKU[:200]
