"""A new customer's Purchase carries predicted_ltv and the "new-customer value" basis (both engines);
a returning customer's does not; the AppendValue correcting it adds the same amount."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from poas.domain.costs import CostRow
from poas.domain.ltv import BgNbd, GammaGamma, LtvModel
from poas.domain.money import Money
from poas.domain.order import Customer, Order, OrderLine
from poas.services.ingest import ingest_order
from poas.services.purchase_events import queue_append_value
from poas.settings import CustomerValueSettings, MissingCostPolicy, ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.tables.customer_models import customer_models, order_customer_value
from poas.store.tables.delivery import outbox

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=2)
MODEL = LtvModel(
    bg=BgNbd(r=0.8, alpha=60.0, a=1.5, b=4.0),
    gg=GammaGamma(p=6.0, q=4.0, gamma=50.0),
    customers=5000,
    repeat_customers=3000,
    excluded_values=0,
    shop_rate=0.6,
    credibility=30.0,
    converged=True,
)
SHOP = ShopConfig(
    id="s1",
    currency="NOK",
    pixel_id="px-s1",
    domain="shop.example.no",
    missing_cost=MissingCostPolicy.SKIP,
    customer_value=CustomerValueSettings(predicted_ltv=True, new_customer_share=Decimal("0.5")),
)


def _order(order_id: str, at: datetime) -> Order:
    return Order(
        shop_id="s1",
        order_id=order_id,
        created_at=at,
        updated_at=at,
        currency="NOK",
        financial_status="paid",
        lines=(
            OrderLine(
                "l1", 2, Decimal("500.00"), sku="TEE-1", tax=Decimal("200.00"), tax_rate=Decimal("0.25")
            ),
        ),
        customer=Customer(email="kari@example.no", phone="+4791234567"),
    )


def _purchase(engine: Engine, order_id: str) -> dict:  # type: ignore[type-arg]
    with engine.connect() as conn:
        payload = conn.execute(
            select(outbox.c.payload).where(outbox.c.event_name == "Purchase", outbox.c.event_id == order_id)
        ).scalar_one()
    return json.loads(payload)  # type: ignore[no-any-return]


def test_new_customer_purchase_carries_predicted_value(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(
            conn, "s1", [CostRow.of("TEE-1", "300", "NOK", T0 - timedelta(days=30), source="csv")], now=NOW
        )
        conn.execute(
            customer_models.insert().values(
                shop_id="s1",
                fitted_at=NOW,
                basis="expected",
                customers=5000,
                orders=15000,
                model=json.dumps(MODEL.to_dict()),
            )
        )
        first = ingest_order(conn, _order("1001", T0), SHOP, now=NOW, trigger_purchase=True)
        again = ingest_order(
            conn, _order("1002", T0 + timedelta(minutes=30)), SHOP, now=NOW, trigger_purchase=True
        )
    assert first.profit is not None and again.profit is not None
    profit = first.profit.expected_profit.amount  # 800 ex VAT − 600 cost
    assert profit == Decimal("200.00")
    future = Decimal(str(round(MODEL.predict_after_first(365, float(profit)), 2)))
    new = _purchase(engine, "1001")["custom_data"]
    assert Decimal(str(new["predicted_ltv"])) == profit + future
    added = (future * Decimal("0.5")).quantize(Decimal("0.01"))
    assert abs(Decimal(str(new["net_revenue"])) - (profit + added)) <= Decimal("0.01")
    returning = _purchase(engine, "1002")["custom_data"]
    assert "predicted_ltv" not in returning and Decimal(str(returning["net_revenue"])) == Decimal("200")
    with engine.connect() as conn:
        row = conn.execute(select(order_customer_value)).one()  # only the new customer's order
    assert row.order_id == "1001" and row.share == "0.5"
    assert Decimal(row.added_minor) / 100 == Decimal(str(new["net_revenue"])) - profit
    # the correction stays on the same basis: the final profit plus the same new-customer value
    with engine.begin() as conn:
        q = queue_append_value(
            conn,
            shop=SHOP,
            original=_purchase(engine, "1001"),
            final_profit=Money(Decimal("150"), "NOK"),
            now=NOW,
        )
        assert q.queued
        appended = conn.execute(
            select(outbox.c.payload).where(outbox.c.event_name == "AppendValue")
        ).scalar_one()
    got = Decimal(str(json.loads(appended)["custom_data"]["net_revenue"]))
    assert got == Decimal("150") + Decimal(row.added_minor) / 100
    # the order's breakdown names the new-customer value its Purchase carried
    from poas.services.views.orders import order_detail

    detail = order_detail(engine, "s1", "1001", shop=SHOP)
    assert detail is not None and detail.new_customer_value is not None
    v = detail.new_customer_value
    assert v.share == Decimal("0.5") and v.added == Decimal(row.added_minor) / 100
    assert v.predicted_ltv == Decimal(str(new["predicted_ltv"])) and v.horizon_days == 365
    assert detail.correction is None or not detail.correction.differs  # compared on the basis sent
    other = order_detail(engine, "s1", "1002", shop=SHOP)
    assert other is not None and other.new_customer_value is None


def test_off_by_default_and_without_a_model(engine: Engine) -> None:
    plain = SHOP.model_copy(update={"customer_value": CustomerValueSettings()})
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(
            conn, "s1", [CostRow.of("TEE-1", "300", "NOK", T0 - timedelta(days=30), source="csv")], now=NOW
        )
        ingest_order(conn, _order("2001", T0), plain, now=NOW, trigger_purchase=True)
        other = replace(_order("3001", T0), customer=Customer(email="per@example.no"))
        ingest_order(conn, other, SHOP, now=NOW, trigger_purchase=True)  # on, but nothing fitted yet
    assert "predicted_ltv" not in _purchase(engine, "2001")["custom_data"]
    assert "predicted_ltv" not in _purchase(engine, "3001")["custom_data"]
    with engine.connect() as conn:
        assert conn.execute(select(order_customer_value)).first() is None


def test_doctor_reports_meta_pltv_requirements(engine: Engine) -> None:
    from poas.services.new_customer_value import pltv_requirements
    from poas.store.tables.customers import customer_orders

    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
    before = {r.name: r for r in pltv_requirements(engine, SHOP, now=NOW)}
    assert before["web events"].met and not before["model"].met
    assert "poas customers fit" in before["model"].detail
    with engine.begin() as conn:
        conn.execute(
            customer_models.insert().values(
                shop_id="s1",
                fitted_at=NOW,
                basis="expected",
                customers=5000,
                orders=15000,
                model=json.dumps(MODEL.to_dict()),
            )
        )
        rows = [  # 520 new customers in the last 28 days (130 a week), first profits 10 … 529 NOK
            dict(
                shop_id="s1",
                order_id=f"n{i}",
                customer_key=f"em:{i}",
                placed_at=NOW - timedelta(days=1 + i % 27),
                counts=True,
                seq=1,
                profit_known=True,
                revenue_minor=0,
                gross_profit_minor=(10 + i) * 100,
                expected_profit_minor=(10 + i) * 100,
                realized_profit_minor=(10 + i) * 100,
                changed_at=NOW,
            )
            for i in range(520)
        ]
        conn.execute(customer_orders.insert(), rows)
    after = {r.name: r for r in pltv_requirements(engine, SHOP, now=NOW)}
    assert after["volume"].met and "130 new customers a week" in after["volume"].detail
    assert after["values"].met and "520 distinct positive" in after["values"].detail
    assert not after["model"].met and "not validated" in after["model"].detail  # no history to calibrate on
    few = SHOP.model_copy(update={"pixel_id": None})
    assert not {r.name: r for r in pltv_requirements(engine, few, now=NOW)}["web events"].met
