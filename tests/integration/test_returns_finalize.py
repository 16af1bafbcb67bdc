"""Finalization end to end against the sandbox (real HTTP, both engines): AppendValue inside the
append window, ledger entries outside it, nothing for orders whose profit is not final yet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, select

from poas.domain.costs import CostRow
from poas.domain.order import Customer, Order, OrderLine, Refund, RefundLine, RestockType
from poas.meta.capi import CapiClient
from poas.meta.sandbox import run_sandbox
from poas.services.deliver import DeliveryConfig, Dispatcher, settings_credentials
from poas.services.ingest import ingest_order
from poas.services.returns import finalize_due
from poas.settings import EventSettings, ShopConfig
from poas.store import corrections
from poas.store.costs import import_costs
from poas.store.rules import save_rules
from poas.store.tables.delivery import outbox

D = Decimal
RULES = """
currency = "NOK"
[[payment_fees]]
id = "vipps"
gateway = "vipps"
percent = 2.5
fixed = 1
[[handling]]
id = "pick-pack"
per = "order"
cost = 25
"""
FAST = DeliveryConfig(retry_base_s=0.01, retry_cap_s=0.05, idle_poll_s=0.02)


def _shop(**events: Any) -> ShopConfig:
    return ShopConfig(
        id="nordic",
        platform="api",
        domain="nordic.example.no",
        currency="NOK",
        pixel_id="1234567890",
        access_token=SecretStr("sandbox-token-0123456789"),
        consent_policy="always",
        events=EventSettings(append_window_days=3, return_window_days=30, **events),
    )


def _order(oid: str, placed: datetime, *, refunds: tuple[Refund, ...] = (), cancelled: bool = False) -> Order:
    line = OrderLine(
        line_id=f"{oid}-1",
        quantity=2,
        unit_price=D("500.00"),
        tax=D("200.00"),
        tax_rate=D("0.25"),
        sku="JACKET",
        category="fashion",
    )
    updated = max([placed, *(r.processed_at for r in refunds)])
    return Order(
        shop_id="nordic",
        order_id=oid,
        created_at=placed,
        updated_at=updated,
        currency="NOK",
        lines=(line,),
        gateway="vipps",
        customer=Customer(email=f"kunde{oid}@example.no", country="NO"),
        refunds=refunds,
        cancelled_at=updated if cancelled else None,
    )


def _setup(engine: Engine, now: datetime) -> None:
    with engine.begin() as conn:
        import_costs(
            conn, "nordic", [CostRow.of("JACKET", D("150"), "NOK", now - timedelta(days=90))], now=now
        )
        save_rules(conn, "nordic", RULES, source="test", now=now)


def _full_refund(oid: str, at: datetime) -> tuple[Refund, ...]:
    return (Refund(f"{oid}-r", at, (RefundLine(f"{oid}-1", 2, RestockType.RETURN),)),)


async def _deliver(engine: Engine, url: str, shop: ShopConfig) -> None:
    client = CapiClient(url, "v25.0", timeout_s=2.0)
    await Dispatcher(engine, client, settings_credentials([shop]), config=FAST).drain(wait_for_retries=True)
    await client.aclose()


async def test_append_value_only_inside_the_window(engine: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop()
    _setup(engine, now)
    placed = {
        "A": now - timedelta(days=2),  # fully refunded, Purchase 2 days old: inside the 3-day window
        "B": now - timedelta(days=5),  # fully refunded, Purchase 5 days old: outside the window
        "C": now - timedelta(days=1),  # cancelled: final, inside the window
        "D": now - timedelta(days=1),  # partly refunded, window still open: not final
        "E": now - timedelta(days=1),  # no refund, window open: not final
    }
    # At purchase time: the paid orders arrive and their Purchases are delivered.
    with engine.begin() as conn:
        for oid, at in placed.items():
            ingest_order(conn, _order(oid, at), shop, now=at, trigger_purchase=True)
    with run_sandbox() as sb:
        await _deliver(engine, sb.url, shop)
        assert sorted(e["event"]["event_id"] for e in sb.events(event_name="Purchase")) == list("ABCDE")
        # Later: refunds and a cancellation arrive.
        later = now - timedelta(hours=1)
        updates = [
            _order("A", placed["A"], refunds=_full_refund("A", later)),
            _order("B", placed["B"], refunds=_full_refund("B", later)),
            _order("C", placed["C"], refunds=_full_refund("C", later), cancelled=True),
            _order(
                "D",
                placed["D"],
                refunds=(Refund("D-r", later, (RefundLine("D-1", 1, RestockType.RETURN),)),),
            ),
        ]
        with engine.begin() as conn:
            for order in updates:
                ingest_order(conn, order, shop, now=later, trigger_purchase=True)
        report = finalize_due(engine, shop, now=now)
        again = finalize_due(engine, shop, now=now)  # idempotent: nothing new
        await _deliver(engine, sb.url, shop)
        appended = {
            e["event"]["original_event_data"]["event_id"]: e["event"]
            for e in sb.events(event_name="AppendValue")
        }
        purchases = {e["event"]["event_id"]: e["event"] for e in sb.events(event_name="Purchase")}

    assert (report.queued, report.unsent, report.unchanged) == (2, 1, 0)
    assert (again.queued, again.unsent) == (0, 0)
    assert sorted(appended) == ["A", "C"]
    for oid, event in appended.items():
        original = purchases[oid]
        assert event["original_event_data"] == {
            "event_name": "Purchase",
            "event_time": original["event_time"],
            "order_id": oid,
            "event_id": oid,
        }
        # Fully refunded and restocked: the final profit is the kept costs, negative -> sent as 0.
        assert event["custom_data"] == {"currency": "NOK", "net_revenue": 0}
        assert event["user_data"] == original["user_data"]

    with engine.connect() as conn:
        ledger = {r["order_id"]: r for r in corrections.all_for_shop(conn, "nordic")}
        assert set(ledger) == {"A", "B", "C"}
        assert ledger["A"]["trigger"] == "fully_refunded" and ledger["A"]["state"] == "queued"
        assert ledger["C"]["trigger"] == "cancelled"
        assert ledger["B"]["state"] == "unsent"
        assert "outside the append window" in ledger["B"]["reason"]
        # Kept costs: Vipps 2.5 % of 1000 + 1 = 26, handling 25, return handling 0 -> -51 NOK.
        assert ledger["A"]["final_profit"] == -5100  # the true value is kept although 0 was sent
        sent_a = json.loads(
            conn.execute(
                select(outbox.c.payload).where(outbox.c.order_id == "A", outbox.c.event_name == "Purchase")
            ).scalar_one()
        )
        assert ledger["A"]["sent_net_revenue"] == round(D(str(sent_a["custom_data"]["net_revenue"])) * 100)
        states = {
            r.order_id: r.state
            for r in conn.execute(select(outbox).where(outbox.c.event_name == "AppendValue"))
        }
        assert states == {"A": "sent", "C": "sent"}


async def test_finalize_on_each_refund_when_the_shop_chooses(engine: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop(finalize_on_refund=True)
    placed = now - timedelta(days=1)
    _setup(engine, now)
    with engine.begin() as conn:
        ingest_order(conn, _order("D", placed), shop, now=placed, trigger_purchase=True)
    with run_sandbox() as sb:
        await _deliver(engine, sb.url, shop)
        refund = (Refund("D-r1", now, (RefundLine("D-1", 1, RestockType.RETURN),)),)
        with engine.begin() as conn:
            ingest_order(conn, _order("D", placed, refunds=refund), shop, now=now, trigger_purchase=True)
        report = finalize_due(engine, shop, now=now)
        await _deliver(engine, sb.url, shop)
        appended = sb.events(event_name="AppendValue")
    assert report.queued == 1
    assert len(appended) == 1
    event = appended[0]["event"]
    assert event["event_id"] == "D.append.refund:D-r1"
    # One of two jackets back: revenue 400 ex VAT, cost 150 recovered; what is left is positive.
    assert event["custom_data"]["net_revenue"] > 0


def test_learned_rates_price_new_orders_after_a_fit(engine: Engine) -> None:
    from poas.services.returns import fit_shop
    from poas.store.snapshots import latest_snapshot

    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop()
    _setup(engine, now - timedelta(days=200))
    with engine.begin() as conn:
        for i in range(40):  # 40 jackets sold 2 each, a return on every other order: 20 of 80 units
            at = now - timedelta(days=100, hours=i)
            refunds = (
                Refund(f"h{i}-r", at + timedelta(days=5), (RefundLine(f"h{i}-1", 1, RestockType.RETURN),)),
            )
            order = _order(f"h{i}", at, refunds=refunds if i % 2 == 0 else ())
            ingest_order(conn, order, shop, now=at, trigger_purchase=False)
    model = fit_shop(engine, shop, now=now)
    assert (model.skus["JACKET"].sold, model.skus["JACKET"].returned) == (80, 20)
    with engine.begin() as conn:
        ingest_order(conn, _order("new", now), shop, now=now, trigger_purchase=False)
        snap = latest_snapshot(conn, "nordic", "new")
    assert snap is not None
    (line,) = snap.breakdown["lines"]
    assert line["return_rule"] == "learned:sku"
    assert Decimal(line["p_return"]) == model.skus["JACKET"].rate
