"""The AppendValue window and threshold at their edges (both engines).

The window is a span of time, not of whole days: a Purchase one hour younger than the window gets its
AppendValue, one an hour older does not (comparing `age.days > window.days` let up to a day past the
window through). The threshold is the smallest change that is appended: a final profit exactly the
threshold away from what Meta was told is queued, one a cent closer is left unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
from poas.store.tables.delivery import outbox

D = Decimal
NOW = datetime.now(UTC).replace(microsecond=0)  # the sandbox takes events of the last 7 days only
FAST = DeliveryConfig(retry_base_s=0.01, retry_cap_s=0.05, idle_poll_s=0.02)
WINDOW_DAYS = 3


def _shop(**events: object) -> ShopConfig:
    return ShopConfig(
        id="nordic",
        platform="api",
        currency="NOK",
        pixel_id="1234567890",
        access_token=SecretStr("sandbox-token-0123456789"),
        consent_policy="always",
        default_margin=D("0.4"),
        events=EventSettings.model_validate(
            {"append_window_days": WINDOW_DAYS, "return_window_days": 30, **events}
        ),
    )


def _order(oid: str, placed: datetime, refund_qty: int = 0) -> Order:
    refunds = ()
    if refund_qty:
        refunds = (
            Refund(
                f"{oid}-r",
                NOW - timedelta(minutes=30),
                (RefundLine(f"{oid}-1", refund_qty, RestockType.RETURN),),
            ),
        )
    return Order(
        shop_id="nordic",
        order_id=oid,
        created_at=placed,
        updated_at=max([placed, *(r.processed_at for r in refunds)]),
        currency="NOK",
        lines=(
            OrderLine(
                line_id=f"{oid}-1",
                quantity=2,
                unit_price=D("500.00"),
                tax=D("200.00"),
                tax_rate=D("0.25"),
                sku="JACKET",
            ),
        ),
        customer=Customer(email=f"kunde{oid}@example.no", country="NO"),
        refunds=refunds,
    )


async def _sell_then_refund(engine: Engine, shop: ShopConfig, placed: dict[str, datetime]) -> None:
    """The orders are sold, their Purchases delivered to the sandbox over HTTP, then all returned."""
    with engine.begin() as conn:
        import_costs(
            conn, "nordic", [CostRow.of("JACKET", D("150"), "NOK", NOW - timedelta(days=90))], now=NOW
        )
        for oid, at in placed.items():
            ingest_order(conn, _order(oid, at), shop, now=at, trigger_purchase=True)
    with run_sandbox() as sb:
        client = CapiClient(sb.url, "v25.0", timeout_s=2.0)
        await Dispatcher(engine, client, settings_credentials([shop]), config=FAST).drain(
            wait_for_retries=True
        )
        await client.aclose()
        assert len(sb.events(event_name="Purchase")) == len(placed)
    with engine.begin() as conn:
        for oid, at in placed.items():  # all returned: the profit is final now
            ingest_order(
                conn,
                _order(oid, at, refund_qty=2),
                shop,
                now=NOW - timedelta(minutes=30),
                trigger_purchase=True,
            )


def _ledger(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        return {str(r["order_id"]): dict(r) for r in corrections.all_for_shop(conn, "nordic")}


def _appended(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.order_id).where(outbox.c.event_name == "AppendValue"))
        return sorted(str(r.order_id) for r in rows)


async def test_the_append_window_ends_at_its_hour_not_at_the_end_of_its_last_day(engine: Engine) -> None:
    shop = _shop()
    window = timedelta(days=WINDOW_DAYS)
    placed = {
        "inside": NOW - window + timedelta(hours=1),
        "outside": NOW - window - timedelta(hours=1),  # 3 days 1 hour: age.days == 3, still outside
        "day_later": NOW - window - timedelta(hours=23),  # 3 days 23 hours
    }
    await _sell_then_refund(engine, shop, placed)
    report = finalize_due(engine, shop, now=NOW)
    assert (report.queued, report.unsent) == (1, 2)
    assert _appended(engine) == ["inside"]
    ledger = _ledger(engine)
    assert ledger["inside"]["state"] == "queued"
    for oid in ("outside", "day_later"):
        assert ledger[oid]["state"] == "unsent"
        assert "outside the append window" in str(ledger[oid]["reason"])


async def test_a_change_of_exactly_the_threshold_is_appended_and_less_is_not(engine: Engine) -> None:
    placed = {"edge": NOW - timedelta(days=1), "below": NOW - timedelta(days=1, hours=1)}
    await _sell_then_refund(engine, _shop(), placed)
    with engine.connect() as conn:
        told = {
            str(r.order_id): D(str(json.loads(r.payload)["custom_data"]["net_revenue"]))
            for r in conn.execute(
                select(outbox.c.order_id, outbox.c.payload).where(outbox.c.event_name == "Purchase")
            )
        }
    # Fully returned: the final profit is negative, sent as 0, so the change is what Meta was told.
    assert told["edge"] == told["below"] > 0
    exactly = _shop(append_threshold=told["edge"])
    report = finalize_due(engine, exactly, now=NOW)  # both orders: change == threshold
    assert report.queued == 2
    assert _appended(engine) == ["below", "edge"]


async def test_a_change_a_cent_below_the_threshold_is_left_unchanged(engine: Engine) -> None:
    placed = {"below": NOW - timedelta(days=1)}
    await _sell_then_refund(engine, _shop(), placed)
    with engine.connect() as conn:
        payload = conn.execute(select(outbox.c.payload).where(outbox.c.event_name == "Purchase")).scalar_one()
    told = D(str(json.loads(payload)["custom_data"]["net_revenue"]))
    report = finalize_due(engine, _shop(append_threshold=told + D("0.01")), now=NOW)
    assert (report.queued, report.unchanged) == (0, 1)
    assert _appended(engine) == []
    assert "within" in str(_ledger(engine)["below"]["reason"])
