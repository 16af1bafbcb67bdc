"""Queueing an order's events inside the order's transaction (both engines), then delivering them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from delivery_helpers import CREDS
from sqlalchemy import Engine, select

from poas.domain.costs import CostRow
from poas.domain.money import Money
from poas.domain.order import Consent, Customer, Order, OrderLine
from poas.meta.capi import CapiClient
from poas.meta.sandbox import run_sandbox
from poas.services.deliver import DeliveryConfig, Dispatcher
from poas.services.ingest import ingest_order
from poas.services.purchase_events import QueuedEvents, queue_append_value
from poas.settings import ConsentDefault, ConsentPolicy, EventSettings, MissingCostPolicy, ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.tables.delivery import outbox

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=1)
SHOP = ShopConfig(
    id="s1",
    currency="NOK",
    pixel_id="px-s1",
    domain="shop.example.no",
    missing_cost=MissingCostPolicy.SKIP,
    events=EventSettings(profit_event_name="ProfitPurchase"),
)


def order(order_id: str = "1001", **kw: object) -> Order:
    base = Order(
        shop_id="s1",
        order_id=order_id,
        created_at=T0,
        updated_at=T0,
        currency="NOK",
        lines=(
            OrderLine(
                "l1", 2, Decimal("500.00"), sku="TEE-1", tax=Decimal("200.00"), tax_rate=Decimal("0.25")
            ),
        ),
        customer=Customer(email="Ola.Nordmann@example.com", phone="+4791234567"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
def shop_ready(engine: Engine) -> Engine:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(
            conn, "s1", [CostRow.of("TEE-1", "300", "NOK", T0 - timedelta(days=30), source="csv")], now=NOW
        )
    return engine


def _outbox(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.event_name, outbox.c.event_id, outbox.c.payload).order_by(outbox.c.id)
        )
        return [(r.event_name, r.event_id, r.payload) for r in rows]


def test_purchase_and_profit_event_are_queued_once_with_the_order(shop_ready: Engine) -> None:
    with shop_ready.begin() as conn:
        out = ingest_order(conn, order(), SHOP, now=NOW, trigger_purchase=True)
    queued = out.events
    assert isinstance(queued, QueuedEvents) and queued.skipped is None
    assert queued.queued == [("Purchase", "1001"), ("ProfitPurchase", "1001")]
    rows = _outbox(shop_ready)
    assert [(n, i) for n, i, _ in rows] == [("Purchase", "1001"), ("ProfitPurchase", "1001")]
    purchase = json.loads(rows[0][2])
    assert purchase["custom_data"]["currency"] == "NOK" and isinstance(
        purchase["custom_data"]["net_revenue"], float
    )
    assert "Ola" not in rows[0][2] and "ola.nordmann" not in rows[0][2]  # only hashes are stored
    with shop_ready.begin() as conn:
        again = ingest_order(
            conn, order(updated_at=T0 + timedelta(minutes=5)), SHOP, now=NOW, trigger_purchase=True
        )
    assert again.events.queued == [] and len(again.events.already_queued) == 2
    assert len(_outbox(shop_ready)) == 2


@pytest.mark.parametrize(
    ("shop", "the_order", "reason"),
    [
        (SHOP.model_copy(update={"pixel_id": None}), order(), "has no pixel_id configured"),
        (
            SHOP,
            order(consent=Consent(marketing=True, ads_tracking=False)),
            "no ads consent: the order's consent signal says denied",
        ),
        (
            SHOP.model_copy(update={"consent_policy": ConsentPolicy.REQUIRE_EXPLICIT}),
            order(),
            "no ads consent: shop default denied (the order has no country), no consent signal on the order",
        ),
        (
            SHOP.model_copy(update={"consent_default": ConsentDefault.DENIED}),
            order(consent=Consent(marketing=True), shipping_country="NO"),
            "no ads consent: shop default denied for NO, no consent signal on the order",
        ),
        (SHOP, order(test=True), "test order"),
        (SHOP, order(lines=(OrderLine("l1", 1, Decimal("100"), sku="UNKNOWN"),)), "profit not sendable"),
        (SHOP, order(customer=Customer()), "no usable customer data"),
    ],
)
def test_nothing_is_queued_without_pixel_consent_cost_or_match_keys(
    shop_ready: Engine, shop: ShopConfig, the_order: Order, reason: str
) -> None:
    with shop_ready.begin() as conn:
        out = ingest_order(conn, the_order, shop, now=NOW, trigger_purchase=True)
    assert out.events is not None and reason in out.events.skipped
    assert _outbox(shop_ready) == []


def test_a_buyer_not_subscribed_to_the_newsletter_is_sent_by_default(shop_ready: Engine) -> None:
    with shop_ready.begin() as conn:
        out = ingest_order(
            conn,
            order(consent=Consent(marketing=False), shipping_country="NO"),
            SHOP,
            now=NOW,
            trigger_purchase=True,
        )
    assert out.events is not None and out.events.skipped is None
    assert out.events.consent == "shop default granted for NO, no consent signal on the order"
    assert [n for n, _, _ in _outbox(shop_ready)] == ["Purchase", "ProfitPurchase"]


def test_queued_events_roll_back_with_the_order(shop_ready: Engine) -> None:
    with pytest.raises(RuntimeError), shop_ready.begin() as conn:
        ingest_order(conn, order(), SHOP, now=NOW, trigger_purchase=True)
        raise RuntimeError("the webhook handler failed after ingest")
    assert _outbox(shop_ready) == []


async def test_ingested_order_reaches_the_sandbox_and_append_value_follows(shop_ready: Engine) -> None:
    with shop_ready.begin() as conn:
        ingest_order(conn, order(), SHOP, now=NOW, trigger_purchase=True)
    with run_sandbox() as sb:
        client = CapiClient(sb.url, "v25.0")
        d = Dispatcher(shop_ready, client, lambda s, p: CREDS, config=DeliveryConfig(concurrency=1))
        first = await d.drain()
        assert first.sent == 2 and first.dead == 0
        purchase = json.loads(_outbox(shop_ready)[0][2])
        with shop_ready.begin() as conn:
            out = queue_append_value(
                conn, shop=SHOP, original=purchase, final_profit=Money(Decimal("99.50"), "NOK"), now=NOW
            )
        assert out.queued == [("AppendValue", f"1001.append.{int(NOW.timestamp())}")]
        second = await d.drain()
        await client.aclose()
        got = sb.events("px-s1")
    assert second.sent == 1
    assert [r["event"]["event_name"] for r in got] == ["Purchase", "ProfitPurchase", "AppendValue"]
    assert got[2]["event"]["custom_data"]["net_revenue"] == 99.5
    assert got[2]["event"]["original_event_data"]["event_id"] == "1001"
