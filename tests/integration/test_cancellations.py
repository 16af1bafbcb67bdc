"""Cancelled and voided orders end to end (both engines, the Meta sandbox over real HTTP): the
Purchase went out at checkout, the cancellation arrives as the platform sends it, finalization makes
the profit final at what was really earned and corrects Meta with AppendValue, and the order page
says so without calling the purchase-time profit realized."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.meta.capi import CapiClient
from poas.meta.sandbox import run_sandbox
from poas.services.deliver import DeliveryConfig, Dispatcher, settings_credentials
from poas.services.ingest import ingest_order
from poas.services.returns import finalize_due
from poas.services.views.orders import order_detail
from poas.settings import EventSettings, Settings, ShopConfig
from poas.sources import shopify, woocommerce
from poas.store import corrections
from poas.store.costs import import_costs
from poas.store.rules import save_rules
from poas.store.snapshots import latest_snapshot
from poas.web.app import create_app
from poas.web.auth import hash_password

D = Decimal
FIXTURES = Path(__file__).parents[1] / "fixtures"
RULES = """
currency = "NOK"
[[payment_fees]]
id = "klarna"
gateway = "klarna"
percent = 2.99
fixed = 3
[[payment_fees]]
id = "bank"
percent = 0
fixed = 5
[[shipping]]
id = "bring"
cost = 72
[[handling]]
id = "pick-pack"
per = "order"
cost = 25
"""
FAST = DeliveryConfig(retry_base_s=0.01, retry_cap_s=0.05, idle_poll_s=0.02)


def _shop(platform: str, **events: Any) -> ShopConfig:
    return ShopConfig(
        id="nordic",
        platform=platform,  # type: ignore[arg-type]
        domain="nordic.example.no",
        currency="NOK",
        pixel_id="1234567890",
        access_token=SecretStr("sandbox-token-0123456789"),
        events=EventSettings(purchase_topic="create", **events),
    )


def _setup(engine: Engine, now: datetime) -> None:
    rows = [
        CostRow.of(key, cost, "NOK", now - timedelta(days=90))
        for key, cost in (("44021137555656", "380"), ("ULL-GENSER-M-GRA", "380"), ("LUE-ULL-SORT", "60"))
    ]
    rows += [
        CostRow.of(k, c, "NOK", now - timedelta(days=90))
        for k, c in (("KVERN-01", "700"), ("FILTER-100", "40"))
    ]
    with engine.begin() as conn:
        import_costs(conn, "nordic", rows, now=now)
        save_rules(conn, "nordic", RULES, source="test", now=now)


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def _shopify_order(placed: datetime, financial_status: str) -> dict[str, Any]:
    doc = _fixture("shopify/order_create.json")
    doc["customer"]["email_marketing_consent"] = {"state": "not_subscribed", "opt_in_level": None}
    doc["buyer_accepts_marketing"] = False
    stamp = placed.isoformat()
    doc.update(created_at=stamp, processed_at=stamp, updated_at=stamp, financial_status=financial_status)
    return doc


def _cancelled(doc: dict[str, Any], at: datetime, financial_status: str) -> dict[str, Any]:
    """The orders/cancelled webhook body: the same order with cancelled_at, cancel_reason, status."""
    return {
        **doc,
        "cancelled_at": at.isoformat(),
        "cancel_reason": "customer",
        "financial_status": financial_status,
        "updated_at": at.isoformat(),
        "closed_at": at.isoformat(),
    }


async def _deliver(engine: Engine, url: str, shop: ShopConfig) -> None:
    client = CapiClient(url, "v25.0", timeout_s=2.0)
    await Dispatcher(engine, client, settings_credentials([shop]), config=FAST).drain(wait_for_retries=True)
    await client.aclose()


def _ledger(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["order_id"]: r for r in corrections.all_for_shop(conn, "nordic")}


async def test_a_voided_klarna_authorization_realizes_nothing(engine: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    placed = now - timedelta(days=1)
    shop = _shop("shopify")
    _setup(engine, now)
    doc = _shopify_order(placed, "authorized")
    oid = shopify.order_key(doc)
    with engine.begin() as conn:
        created = shopify.parse_order(doc, "nordic")
        trigger = shopify.purchase_trigger("orders/create", created.financial_status, "create")
        first = ingest_order(conn, created, shop, now=placed, trigger_purchase=trigger)
    assert first.profit is not None and first.profit.expected_profit.amount > 0
    with run_sandbox() as sb:
        await _deliver(engine, sb.url, shop)
        (purchase,) = [e["event"] for e in sb.events(event_name="Purchase")]
        assert purchase["custom_data"]["net_revenue"] == float(first.profit.expected_profit.amount)
        # Klarna's authorization is voided when the order is cancelled: orders/cancelled arrives
        cancelled = shopify.parse_order(_cancelled(doc, now - timedelta(hours=2), "voided"), "nordic")
        with engine.begin() as conn:
            ingest_order(conn, cancelled, shop, now=now - timedelta(hours=2), trigger_purchase=False)
            snap = latest_snapshot(conn, "nordic", oid)
        assert snap is not None
        # nothing earned, goods back on the shelf, nothing shipped or packed, Klarna charged nothing
        assert snap.amounts["realized_profit"] == D("0.00")
        assert snap.amounts["expected_profit"] == first.profit.expected_profit.amount  # unchanged
        report = finalize_due(engine, shop, now=now)
        assert (report.queued, report.unsent, report.unchanged) == (1, 0, 0)
        await _deliver(engine, sb.url, shop)
        (appended,) = [e["event"] for e in sb.events(event_name="AppendValue")]
    assert appended["original_event_data"]["event_id"] == purchase["event_id"]
    assert appended["custom_data"] == {"currency": "NOK", "net_revenue": 0}
    ledger = _ledger(engine)[oid]
    assert (ledger["trigger"], ledger["state"], ledger["final_profit"]) == ("cancelled", "queued", 0)

    page = order_detail(engine, "nordic", oid)
    assert page is not None
    assert page.profit_final and page.profit_status == "final: order cancelled"
    steps = {s.key: s for s in page.realized}
    assert steps["cancellation"].amount == -snap.amounts["gross_profit"]
    assert steps["realized_profit"].amount == D("0.00")


async def test_a_cancelled_paid_order_without_a_refund_keeps_only_the_fee(engine: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    placed = now - timedelta(days=2)
    shop = _shop("shopify", negative_profit="send")
    _setup(engine, now)
    doc = _shopify_order(placed, "paid")
    oid = shopify.order_key(doc)
    with engine.begin() as conn:
        ingest_order(conn, shopify.parse_order(doc, "nordic"), shop, now=placed, trigger_purchase=True)
    with run_sandbox() as sb:
        await _deliver(engine, sb.url, shop)
        # cancelled, the money not (yet) given back: no refund recorded, still "paid"
        cancelled = shopify.parse_order(_cancelled(doc, now - timedelta(hours=1), "paid"), "nordic")
        with engine.begin() as conn:
            outcome = ingest_order(
                conn, cancelled, shop, now=now - timedelta(hours=1), trigger_purchase=False
            )
        assert outcome.profit is not None
        fee = outcome.profit.payment_fee.amount
        assert fee == D("66.51")  # Klarna 2.99 % of 2124.00 + 3.00, captured and kept
        assert outcome.profit.realized_profit.amount == -fee
        finalize_due(engine, shop, now=now)
        await _deliver(engine, sb.url, shop)
        (appended,) = [e["event"] for e in sb.events(event_name="AppendValue")]
    assert appended["custom_data"]["net_revenue"] == -66.51  # negative_profit = "send"
    assert _ledger(engine)[oid]["final_profit"] == -6651


async def test_a_woocommerce_order_cancelled_before_payment(engine: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    placed = now - timedelta(days=1)
    shop = _shop("woocommerce")
    _setup(engine, now)
    doc = _fixture("woocommerce/order_created.json")
    stamp = placed.strftime("%Y-%m-%dT%H:%M:%S")
    doc.update(
        status="on-hold",  # bank transfer awaiting payment
        payment_method="bacs",
        date_created_gmt=stamp,
        date_modified_gmt=stamp,
        date_paid=None,
        date_paid_gmt=None,
    )
    oid = woocommerce.order_key(doc)
    with engine.begin() as conn:
        created = woocommerce.parse_order(doc, "nordic")
        trigger = woocommerce.purchase_trigger("order.created", created, "create")
        ingest_order(conn, created, shop, now=placed, trigger_purchase=trigger)
    with run_sandbox() as sb:
        await _deliver(engine, sb.url, shop)
        assert len(sb.events(event_name="Purchase")) == 1
        # never paid: WooCommerce cancels it (order.updated, status cancelled)
        later = (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
        cancelled = woocommerce.parse_order(
            {**doc, "status": "cancelled", "date_modified_gmt": later}, "nordic"
        )
        assert cancelled.financial_status == "voided" and cancelled.cancelled_at is not None
        with engine.begin() as conn:
            outcome = ingest_order(
                conn, cancelled, shop, now=now - timedelta(hours=3), trigger_purchase=False
            )
        assert outcome.profit is not None and outcome.profit.realized_profit.amount == D("0.00")
        report = finalize_due(engine, shop, now=now)
        await _deliver(engine, sb.url, shop)
        (appended,) = [e["event"] for e in sb.events(event_name="AppendValue")]
    assert report.queued == 1
    assert appended["custom_data"]["net_revenue"] == 0
    assert _ledger(engine)[oid]["final_profit"] == 0


def test_an_open_order_is_not_called_final(engine: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop("shopify")
    _setup(engine, now)
    doc = _shopify_order(now - timedelta(days=1), "paid")
    with engine.begin() as conn:
        ingest_order(conn, shopify.parse_order(doc, "nordic"), shop, now=now, trigger_purchase=False)
    page = order_detail(engine, "nordic", shopify.order_key(doc))
    assert page is not None
    assert not page.profit_final
    assert page.profit_status.startswith("not final: realized so far")
    assert page.realized == []


def test_the_order_page_and_api_show_a_voided_order_as_final_at_zero(engine: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop("shopify")
    _setup(engine, now)
    doc = _shopify_order(now - timedelta(days=1), "authorized")
    oid = shopify.order_key(doc)
    with engine.begin() as conn:
        ingest_order(conn, shopify.parse_order(doc, "nordic"), shop, now=now, trigger_purchase=False)
        voided = shopify.parse_order(_cancelled(doc, now - timedelta(hours=1), "voided"), "nordic")
        ingest_order(conn, voided, shop, now=now, trigger_purchase=False)
    finalize_due(engine, shop, now=now)
    settings = Settings(
        session_secret=SecretStr("s" * 32),
        admin_api_token=SecretStr("admin-token-123456"),
        admin_password_hash=SecretStr(hash_password("pw-for-the-test")),
        shops=[shop],
    )
    with TestClient(create_app(settings, engine)) as client:
        api = client.get(
            f"/api/v1/orders/nordic/{oid}", headers={"Authorization": "Bearer admin-token-123456"}
        )
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None
        client.post("/login", data={"password": "pw-for-the-test", "csrf_token": csrf.group(1), "next": "/"})
        page = client.get(f"/orders/nordic/{oid}")
    assert api.status_code == 200, api.text
    detail = api.json()
    assert detail["profit_final"] is True and detail["profit_status"] == "final: order cancelled"
    assert Decimal(detail["realized"][-1]["amount"]) == Decimal("0.00")
    assert detail["meta"]["kind"] == "not_sent" and "configuration" not in detail["meta"]["reason"]
    assert page.status_code == 200
    status = re.search(r'<span id="profit-status" class="">(.*?)</span>', page.text)
    assert status is not None and status.group(1) == "final: order cancelled"
    realized = re.search(r'<strong id="realized-amount">(.*?)</strong>', page.text)  # final: shown first
    assert realized is not None and "0.00" in realized.group(1)
    assert page.text.index('id="realized-profit"') < page.text.index('id="expected-profit"')
    meta = re.search(r'<dd id="meta-status" data-kind="(\w+)">(.*?)</dd>', page.text, re.S)
    assert meta is not None and meta.group(1) == "not_sent"  # no "Profit sent to Meta: yes" on a voided order
    assert "Nothing was sent to Meta:" in meta.group(2) and "Profit sent to Meta" not in page.text
    assert "Final profit: after refunds and cancellation" in page.text
    assert "Cancelled: never earned or incurred" in page.text
