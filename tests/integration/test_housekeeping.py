"""The worker's duties: a housekeeping pass finalizes due orders (and keeps going after a failure)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.domain.order import Order, OrderLine
from poas.services.housekeeping import run_housekeeping
from poas.services.ingest import ingest_order
from poas.settings import Settings, ShopConfig
from poas.store import corrections
from poas.store.costs import import_costs


async def test_housekeeping_finalizes_orders_whose_window_closed(engine: Engine, db_url: str) -> None:
    now = datetime.now(UTC)
    shop = ShopConfig(id="hk", currency="NOK")  # no pixel: nothing was sent, the ledger says so
    old = now - timedelta(days=45)
    line = OrderLine("1", 1, Decimal("250.00"), sku="MUG", tax=Decimal("50.00"))
    with engine.begin() as conn:
        import_costs(conn, "hk", [CostRow.of("MUG", Decimal("80"), "NOK", old - timedelta(days=1))], now=now)
        ingest_order(conn, Order("hk", "old", old, "NOK", (line,)), shop, now=old, trigger_purchase=True)
        ingest_order(conn, Order("hk", "new", now, "NOK", (line,)), shop, now=now, trigger_purchase=True)
    settings = Settings(database_url=db_url, shops=[shop])
    stop = asyncio.Event()
    task = asyncio.create_task(run_housekeeping(engine, settings, stop, inbox_every_s=0.05))
    for _ in range(200):
        await asyncio.sleep(0.05)
        with engine.connect() as conn:
            if corrections.all_for_shop(conn, "hk"):
                break
    stop.set()
    report = await task
    assert report.finalize_passes >= 1
    assert report.errors == []
    with engine.connect() as conn:
        ledger = corrections.all_for_shop(conn, "hk")
    assert [(r["order_id"], r["trigger"], r["state"]) for r in ledger] == [("old", "window_closed", "unsent")]
    assert ledger[0]["final_profit"] == 12000  # 250 incl. 25 % VAT = 200 ex VAT, minus cost 80
    assert "no Purchase was sent" in ledger[0]["reason"]
