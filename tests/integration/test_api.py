"""The JSON API, /metrics and /healthz against a migrated store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, update

from poas.domain.costs import CostRow
from poas.domain.order import Order, OrderLine
from poas.services.ingest import ingest_order
from poas.settings import Settings, ShopConfig
from poas.store import outbox as ob
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.tables.delivery import outbox
from poas.web.app import create_app
from poas.web.metrics import render_metrics

ADMIN = {"Authorization": "Bearer admin-token-123456"}
SHOP_A = {"Authorization": "Bearer token-for-shop-a"}
SHOP_B = {"Authorization": "Bearer token-for-shop-b"}


def _settings() -> Settings:
    return Settings(
        session_secret=SecretStr("s" * 32),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[
            ShopConfig(id="a", pixel_id="111", api_token=SecretStr("token-for-shop-a")),
            ShopConfig(id="b", pixel_id="222", api_token=SecretStr("token-for-shop-b")),
        ],
    )


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), engine)) as c:
        yield c


def _event(shop: str, pixel: str, n: int, name: str = "Purchase") -> ob.OutboxEvent:
    return ob.OutboxEvent(
        shop_id=shop,
        pixel_id=pixel,
        event_name=name,
        event_id=f"{shop}-{n}",
        order_id=f"{n}",
        # two days old: inside Meta's 7-day window, so a dead one can still be replayed
        event_time=datetime.now(UTC) - timedelta(days=2),
        payload={"event_name": name, "event_id": f"{shop}-{n}"},
    )


def seed_delivery(engine: Engine, now: datetime) -> dict[str, Any]:
    """Shop a / pixel 111: 10 Purchases two days old, 7 sent, 2 dead, 1 waiting; pixel 222 paused."""
    two_days = now - timedelta(days=2)
    with engine.begin() as conn:
        ids = ob.enqueue(conn, [_event("a", "111", i) for i in range(10)], now=two_days)
        ob.enqueue(conn, [_event("b", "222", i) for i in range(3)], now=now - timedelta(minutes=5))
    claim = ob.claim(engine, "w1", "111", limit=9, lease_s=60, now=now)
    assert claim is not None and len(claim.events) == 9
    claimed = [e.id for e in claim.events]
    with engine.begin() as conn:
        ob.mark_sent(conn, claim.owner, claimed[:7], now=now, meta_response={"events_received": 7})
        ob.mark_dead(conn, claim.owner, claimed[7:], reason="(#100) invalid parameter: user_data")
        ob.pause_pixel(conn, "222", reason="token expired (190)", now=now)
    return {"ids": ids, "dead": claimed[7:], "waiting": [i for i in ids if i not in claimed]}


def test_api_requires_a_valid_bearer_token(client: TestClient) -> None:
    assert client.get("/api/v1/delivery").status_code == 401
    r = client.get("/api/v1/delivery", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "wrong" not in r.text
    assert client.get("/api/v1/delivery", headers=ADMIN).status_code == 200


def test_delivery_view_counts_ages_match_rate_and_pauses(client: TestClient, engine: Engine) -> None:
    now = datetime.now(UTC)
    seeded = seed_delivery(engine, now)
    body = client.get("/api/v1/delivery", headers=ADMIN).json()
    pixels = {p["pixel_id"]: p for p in body["pixels"]}
    a, b = pixels["111"], pixels["222"]
    assert (a["pending"], a["sent"], a["dead"], a["sending"], a["retry"]) == (1, 7, 2, 0, 0)
    assert (a["purchases_eligible"], a["purchases_accepted"]) == (10, 7)
    assert a["match_rate"] == "0.7000" and a["match_alert"] is True
    assert b["pending"] == 3 and b["paused"] is True and b["pause_reason"] == "token expired (190)"
    assert b["paused_until"] is None
    # pixel 222's events are five minutes old: inside the grace period, not yet counted
    assert b["purchases_eligible"] == 0 and b["match_rate"] is None
    assert body["depth"] == 4
    assert 2 * 86400 - 60 <= body["oldest_waiting_age_s"] <= 2 * 86400 + 60
    assert body["match_rate"] == "0.7000" and body["match_alert"] is True
    assert sorted(d["id"] for d in body["dead"]) == sorted(seeded["dead"])
    assert body["dead"][0]["last_error"].startswith("(#100)")
    assert body["dead_total"] == 2 and body["replayable"] == 2 and body["reasons"][0]["count"] == 2
    key = body["reasons"][0]["key"]
    paged = client.get("/api/v1/delivery", params={"reason": key, "offset": 1}, headers=ADMIN).json()
    assert paged["dead_matching"] == 2 and len(paged["dead"]) == 1 and paged["reason"] == key


def test_shop_token_sees_and_replays_only_its_own_events(client: TestClient, engine: Engine) -> None:
    seeded = seed_delivery(engine, datetime.now(UTC))
    body = client.get("/api/v1/delivery", headers=SHOP_B).json()
    assert [p["pixel_id"] for p in body["pixels"]] == ["222"] and body["dead"] == []
    r = client.post("/api/v1/delivery/replay", json={"ids": seeded["dead"]}, headers=SHOP_B)
    assert r.json() == {"replayed": 0}
    r = client.post("/api/v1/delivery/replay", json={"ids": seeded["dead"][:1]}, headers=SHOP_A)
    assert r.json() == {"replayed": 1}
    after = client.get("/api/v1/delivery", headers=ADMIN).json()
    a = next(p for p in after["pixels"] if p["pixel_id"] == "111")
    assert (a["dead"], a["pending"]) == (1, 2)
    assert client.post("/api/v1/delivery/replay", json={"ids": None}, headers=ADMIN).json() == {"replayed": 1}


def test_replay_rejects_out_of_range_ids(client: TestClient) -> None:
    r = client.post("/api/v1/delivery/replay", json={"ids": [2**70]}, headers=ADMIN)
    assert r.status_code == 422


def test_metrics_come_from_the_database(client: TestClient, engine: Engine) -> None:
    now = datetime.now(UTC)
    seed_delivery(engine, now)
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.state == "sent").values(sent_at=now))
    text = client.get("/metrics").text
    assert 'poas_outbox_events{state="sent"} 7.0' in text
    assert 'poas_outbox_events{state="dead"} 2.0' in text
    assert 'poas_outbox_pixel_events{event="Purchase",pixel="222",state="pending"} 3.0' in text
    assert "poas_outbox_depth 4.0" in text
    assert 'poas_pixel_paused{pixel="222"} 1.0' in text
    assert 'poas_purchase_match_rate{pixel="111"} 0.7' in text  # 7 of 10 two-day-old Purchases
    assert 'poas_purchase_match_rate{pixel="222"}' not in text  # only minutes-old events: no rate yet
    # A second app on the same store (another process in production) reports the same numbers.
    again = render_metrics(engine, now).decode()
    assert 'poas_outbox_events{state="sent"} 7.0' in again
    prefix = 'poas_outbox_oldest_pending_age_seconds{pixel="111"}'
    age_line = next(line for line in again.splitlines() if line.startswith(prefix))
    assert float(age_line.split()[-1]) == pytest.approx(2 * 86400, abs=1)


def test_graph_latency_histogram_reads_the_delivery_log(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for ms in (40, 300, 300, 12_000):
            ob.log_attempt(
                conn,
                ob.Attempt(
                    pixel_id="111",
                    worker_id="w",
                    outcome="sent",
                    http_status=200,
                    latency_ms=ms,
                    outbox_ids=[1],
                    claimed_at=now,
                    lease_until=now,
                    finished_at=now - timedelta(minutes=1),
                ),
            )
    text = render_metrics(engine, now).decode()
    assert 'poas_graph_request_seconds_bucket{le="0.05"} 1.0' in text
    assert 'poas_graph_request_seconds_bucket{le="0.5"} 3.0' in text
    assert 'poas_graph_request_seconds_bucket{le="10.0"} 3.0' in text
    assert 'poas_graph_request_seconds_bucket{le="+Inf"} 4.0' in text
    assert "poas_graph_request_seconds_sum 12.64" in text


def test_healthz_reports_the_database(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_gone() -> None:
    from poas.store.db import make_engine

    bad = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    with TestClient(create_app(_settings(), bad)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["database"] == "unreachable"


def seed_order(engine: Engine, shop: ShopConfig, now: datetime) -> None:
    """One paid order of shop a: one line (2 × 400 NOK incl. VAT, cost 150), no rules loaded."""
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        import_costs(conn, shop.id, [CostRow("v1", Decimal("150"), "NOK", now - timedelta(days=9))], now=now)
        order = Order(
            shop_id=shop.id,
            order_id="9001",
            name="#9001",
            created_at=now - timedelta(hours=2),
            updated_at=now - timedelta(hours=2),
            currency="NOK",
            lines=(
                OrderLine(
                    line_id="l1",
                    quantity=2,
                    unit_price=Decimal("400"),
                    tax=Decimal("160"),
                    tax_rate=Decimal("0.25"),
                    variant_id="v1",
                    title="Lamp",
                ),
            ),
        )
        ingest_order(conn, order, shop, now=now, trigger_purchase=False)


def test_orders_list_search_and_breakdown(client: TestClient, engine: Engine) -> None:
    now = datetime.now(UTC)
    seed_order(engine, _settings().shops[0], now)
    listed = client.get("/api/v1/orders", headers=ADMIN).json()
    assert listed["total"] == 1
    row = listed["orders"][0]
    assert (row["order_id"], row["revenue_ex_vat"]) == ("9001", "640.00")
    assert client.get("/api/v1/orders?q=%239001", headers=ADMIN).json()["total"] == 1
    assert client.get("/api/v1/orders?q=nothing", headers=ADMIN).json()["total"] == 0
    assert client.get("/api/v1/orders", headers=SHOP_B).json()["total"] == 0

    detail = client.get("/api/v1/orders/a/9001", headers=SHOP_A).json()
    steps = {s["key"]: s for s in detail["waterfall"]}
    assert steps["revenue"]["amount"] == "800.00"
    assert steps["vat"]["amount"] == "-160.00"
    assert steps["revenue_ex_vat"]["amount"] == "640.00"
    assert steps["cogs"]["amount"] == "-300.00"
    last = detail["waterfall"][-1]
    assert last["key"] == "expected_profit" and last["amount"] == steps["expected_return_cost"]["end"]
    assert detail["lines"][0]["cost_source"].startswith("cost book: 150")
    assert client.get("/api/v1/orders/a/9001", headers=SHOP_B).status_code == 404
    assert client.get("/api/v1/orders/a/nope", headers=ADMIN).status_code == 404


def test_nul_characters_never_reach_the_database(client: TestClient, engine: Engine) -> None:
    # PostgreSQL refuses NUL in text; these must not turn into server errors.
    assert client.get("/api/v1/orders?q=%00", headers=ADMIN).status_code == 200
    assert client.get("/api/v1/orders/a/%00", headers=ADMIN).status_code == 404
    assert client.get("/api/v1/costs?q=%00", headers=ADMIN).status_code == 200


def test_cost_upload_keeps_good_rows_and_names_bad_ones(client: TestClient, engine: Engine) -> None:
    now = datetime.now(UTC)
    seed_order(engine, _settings().shops[0], now)
    before = client.get("/api/v1/report?by=day&shop_id=a", headers=ADMIN).json()["total"]["gross_profit"]
    day = (now - timedelta(days=5)).date()  # after the 150 row, before the order: the order's new cost
    csv_text = f"variant_id,unit_cost,currency,valid_from\nv1,200,NOK,{day}\nv2,,NOK,\nv3,5,XXX,\n"
    r = client.post(
        "/api/v1/costs?shop_id=a", headers=ADMIN, files={"file": ("costs.csv", csv_text, "text/csv")}
    )
    body = r.json()
    assert (body["imported"], body["rejected"]) == (1, 2)
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(3, "unit_cost"), (4, "currency")]
    assert body["recomputed"] == 1 and body["changed"] == 1
    costs = client.get("/api/v1/costs?shop_id=a&q=v1", headers=ADMIN).json()["costs"]
    windows = [(c["unit_cost"], c["current"], c["valid_to"] is None) for c in costs]
    assert windows == [("150.00", False, False), ("200.00", True, True)]
    detail = client.get("/api/v1/orders/a/9001", headers=ADMIN).json()
    assert detail["lines"][0]["cogs"] == "400.00"
    assert [s["reason"] for s in detail["snapshots"]] == ["order inserted", "costs uploaded from costs.csv"]
    # The report (rollups refreshed at most every 30 s) is refreshed after an upload: 2 × 50 NOK more COGS.
    after = client.get("/api/v1/report?by=day&shop_id=a", headers=ADMIN).json()["total"]["gross_profit"]
    assert Decimal(before) - Decimal(after) == Decimal("100")
    assert (
        client.post("/api/v1/costs?shop_id=a", headers=SHOP_B, files={"file": ("c.csv", "x")}).status_code
        == 404
    )


def test_report_endpoint_scopes_and_validates(client: TestClient, engine: Engine) -> None:
    seed_order(engine, _settings().shops[0], datetime.now(UTC))
    body = client.get("/api/v1/report?by=day", headers=SHOP_A).json()
    assert body["shop_id"] == "a" and body["by"] == "day"
    assert body["total"]["revenue"] == "640.00" and body["total"]["spend"] == "0.00"
    assert body["total"]["poas"] is None  # no spend: no ratio, never a division by zero
    assert client.get("/api/v1/report?shop_id=a", headers=SHOP_B).status_code == 404
    bad = client.get("/api/v1/report?from=2026-02-01&to=2026-01-01", headers=ADMIN)
    assert bad.status_code == 422 and "after" in bad.json()["detail"]
