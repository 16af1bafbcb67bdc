"""Helpers for the browser tests: the live app handle, login, screenshots and store contents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from poas.settings import Settings
from poas.store import outbox as ob

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class LiveApp:
    url: str
    engine: Engine
    settings: Settings


def login(page: Any, base_url: str, next_path: str = "/") -> None:
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base_url + next_path) + r"(\?.*)?$"))


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def utcnow() -> datetime:
    return datetime.now(UTC)


def seed_delivery(engine: Engine, now: datetime, pixel: str = "1234567890") -> list[int]:
    """Five Purchases two days old: three sent, two dead. Returns the dead ids."""
    events = [
        ob.OutboxEvent(
            shop_id="nordic",
            pixel_id=pixel,
            event_name="Purchase",
            event_id=f"ord-{i}",
            order_id=f"{1000 + i}",
            event_time=now - timedelta(days=2),
            payload={"event_name": "Purchase", "event_id": f"ord-{i}"},
        )
        for i in range(5)
    ]
    with engine.begin() as conn:
        ob.enqueue(conn, events, now=now - timedelta(days=2))
    claim = ob.claim(engine, "seed", pixel, limit=5, lease_s=60, now=now)
    assert claim is not None
    ids = [e.id for e in claim.events]
    with engine.begin() as conn:
        ob.mark_sent(conn, claim.owner, ids[:3], now=now, meta_response={"events_received": 3})
        ob.mark_dead(conn, claim.owner, ids[3:], reason="(#100) Invalid parameter")
    return ids[3:]


RULES_TOML = """
currency = "NOK"

[[payment_fees]]
id = "fee-card"
gateway = "card"
percent = 2.4
fixed = 2

[zones]
domestic = ["NO"]

[[shipping]]
id = "parcel-5kg"
method = "parcel"
zone = "domestic"
min_grams = 0
max_grams = 5001
cost = 79

[[handling]]
id = "pick-pack"
per = "order"
cost = 15

[returns]
rate = 0.10
handling_cost = 40
restock_share = 0.9
"""


def seed_order(engine: Engine, shop: Any, now: datetime, order_id: str = "5001") -> None:
    """One paid NOK order (two lines, parcel shipping, card fee) with costs and rules, ingested."""
    from poas.domain.costs import CostRow
    from poas.domain.order import Customer, Order, OrderLine, ShippingLine
    from poas.services.ingest import ingest_order
    from poas.store.costs import import_costs
    from poas.store.orders import ensure_shop
    from poas.store.rules import save_rules

    created = now - timedelta(hours=3)
    order = Order(
        shop_id=shop.id,
        order_id=order_id,
        name=f"#{order_id}",
        created_at=created,
        updated_at=created,
        currency="NOK",
        gateway="card",
        shipping_country="NO",
        customer=Customer(email="kari.nordmann@example.no", country="NO"),
        lines=(
            OrderLine(
                line_id="l1",
                quantity=2,
                unit_price=Decimal("500"),
                tax=Decimal("200"),
                tax_rate=Decimal("0.25"),
                variant_id="v-wool",
                sku="WOOL-1",
                title="Wool sweater",
                grams=800,
            ),
            OrderLine(
                line_id="l2",
                quantity=1,
                unit_price=Decimal("250"),
                tax=Decimal("50"),
                tax_rate=Decimal("0.25"),
                variant_id="v-hat",
                sku="HAT-1",
                title="Hat",
                grams=100,
            ),
        ),
        shipping_lines=(
            ShippingLine(price=Decimal("99"), method="parcel", title="Parcel", tax=Decimal("19.80")),
        ),
    )
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        import_costs(
            conn,
            shop.id,
            [
                CostRow("v-wool", Decimal("180"), "NOK", now - timedelta(days=30), source="test"),
                CostRow("v-hat", Decimal("60"), "NOK", now - timedelta(days=30), source="test"),
            ],
            now=now,
        )
        save_rules(conn, shop.id, RULES_TOML, source="test", now=now)
        ingest_order(conn, order, shop, now=now, trigger_purchase=True)
