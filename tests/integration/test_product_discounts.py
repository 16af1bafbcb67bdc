"""Product rollups of a discounted order: each product's revenue is its lines' revenue ex VAT after
their discounts (order-level discounts included: the sources allocate them to the lines), and the
products add up to the order's revenue ex VAT; voided orders count no revenue."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from poas.services.ingest import ingest_order
from poas.services.rollups import rebuild_days
from poas.settings import ShopConfig
from poas.sources import shopify, woocommerce
from poas.store.snapshots import latest_snapshot
from poas.store.tables.spend import rollup_daily

FIXTURES = Path(__file__).parents[1] / "fixtures"
PLACED = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
DAY = date(2026, 3, 10)


def _shopify_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "shopify/order_create.json").read_text(encoding="utf-8"))
    doc["customer"]["email_marketing_consent"] = {"state": "not_subscribed", "opt_in_level": None}
    doc["buyer_accepts_marketing"] = False
    doc.update(created_at=PLACED.isoformat(), processed_at=PLACED.isoformat(), updated_at=PLACED.isoformat())
    # a second, line-level discount on the hat only (on top of its VINTER10 share): 25.00 + 75.00
    hat = doc["line_items"][1]
    hat["discount_allocations"].append(
        {
            "amount": "75.00",
            "amount_set": {"shop_money": {"amount": "75.00", "currency_code": "NOK"}},
            "discount_application_index": 1,
        }
    )
    hat["tax_lines"][0]["price"] = "30.00"  # 25 % MVA inside 150.00
    hat["tax_lines"][0]["price_set"]["shop_money"]["amount"] = "30.00"
    return doc


def _products(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(rollup_daily.c.key, rollup_daily.c.revenue_minor).where(
                rollup_daily.c.level == "product", rollup_daily.c.day == DAY
            )
        )
        return {r.key: r.revenue_minor for r in rows}


def _shop_revenue(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(rollup_daily.c.revenue_minor).where(
                    rollup_daily.c.level == "shop", rollup_daily.c.day == DAY
                )
            ).scalar_one()
        )


def test_product_revenue_is_after_each_lines_discount_and_adds_up(engine: Engine) -> None:
    shop = ShopConfig(id="nordic", currency="NOK", timezone="Europe/Oslo", include_shipping_in_revenue=False)
    order = shopify.parse_order(_shopify_doc(), "nordic")
    with engine.begin() as conn:
        ingest_order(conn, order, shop, now=PLACED + timedelta(hours=1), trigger_purchase=False)
        snap = latest_snapshot(conn, "nordic", order.order_id)
    assert snap is not None
    rebuild_days(engine, shop, [DAY])
    products = _products(engine)
    # sweater: 2 × 1000.00 − 200.00 VINTER10 = 1800.00 incl. 360.00 MVA -> 1440.00
    # hat: 250.00 − 25.00 VINTER10 − 75.00 = 150.00 incl. 30.00 MVA -> 120.00
    by_line = {ln["line_id"]: ln["revenue_ex_vat"] for ln in snap.breakdown["lines"]}
    assert sorted(by_line.values()) == ["120.00", "1440.00"]
    assert products == {"8012345678024": 144000, "8012345710792": 12000}
    assert sum(products.values()) == _shop_revenue(engine) == int(snap.amounts["revenue_ex_vat"] * 100)


def test_with_shipping_in_revenue_the_products_still_add_up_to_the_order(engine: Engine) -> None:
    shop = ShopConfig(id="nordic", currency="NOK", timezone="Europe/Oslo")
    order = shopify.parse_order(_shopify_doc(), "nordic")
    with engine.begin() as conn:
        ingest_order(conn, order, shop, now=PLACED + timedelta(hours=1), trigger_purchase=False)
        snap = latest_snapshot(conn, "nordic", order.order_id)
    assert snap is not None
    rebuild_days(engine, shop, [DAY])
    products = _products(engine)
    # 1560.00 of goods + 79.20 shipping ex VAT, shared by the goods' revenue after discounts
    assert snap.amounts["revenue_ex_vat"] * 100 == 163920
    assert sum(products.values()) == _shop_revenue(engine) == 163920
    # shipping shared 1440 : 120 (after discounts): 73.11 and 6.09, the øre left over to the larger
    assert products == {"8012345678024": 151311, "8012345710792": 12609}


def test_a_voided_order_counts_no_revenue(engine: Engine) -> None:
    shop = ShopConfig(id="nordic", currency="NOK", timezone="Europe/Oslo", platform="woocommerce")
    doc = json.loads((FIXTURES / "woocommerce/order_created.json").read_text(encoding="utf-8"))
    stamp = PLACED.strftime("%Y-%m-%dT%H:%M:%S")
    doc.update(status="failed", date_created_gmt=stamp, date_modified_gmt=stamp, date_paid_gmt=None)
    order = woocommerce.parse_order(doc, "nordic")
    assert order.financial_status == "voided" and order.cancelled_at is None  # a failed payment
    shopify_order = shopify.parse_order(_shopify_doc(), "nordic")
    with engine.begin() as conn:
        ingest_order(conn, order, shop, now=PLACED + timedelta(hours=1), trigger_purchase=False)
        ingest_order(conn, shopify_order, shop, now=PLACED + timedelta(hours=1), trigger_purchase=False)
        snap = latest_snapshot(conn, "nordic", shopify_order.order_id)
    assert snap is not None
    rebuild_days(engine, shop, [DAY])
    with engine.connect() as conn:
        orders = conn.execute(
            select(rollup_daily.c.orders).where(rollup_daily.c.level == "shop", rollup_daily.c.day == DAY)
        ).scalar_one()
    assert orders == 1
    assert _shop_revenue(engine) == int(snap.amounts["revenue_ex_vat"] * 100)
