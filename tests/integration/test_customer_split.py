"""A generated shop with known customer behaviour (repeat orders drawn from a known distribution,
guests, cancelled and test orders, orders arriving out of order, batch and single ingest): the
report's new / returning split equals the generator's truth exactly, on both engines."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.domain.order import Customer, Order, OrderLine
from poas.services.ingest import ProfitContext, ingest_order, ingest_orders
from poas.services.report import build_report
from poas.settings import MissingCostPolicy, ShopConfig
from poas.store.costs import import_costs
from poas.store.customers import load_customers
from poas.store.orders import ensure_shop

SHOP = ShopConfig(id="gen", currency="NOK", missing_cost=MissingCostPolicy.SKIP, timezone="UTC")
START = datetime(2026, 1, 1, 8, tzinfo=UTC)
NOW = datetime(2026, 7, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Truth:
    orders: list[Order]
    new: int
    returning: int
    new_revenue: Decimal
    returning_revenue: Decimal
    customers: int


def generate(seed: int, n_customers: int = 120) -> Truth:
    rng = random.Random(seed)
    orders: list[Order] = []
    new = returning = customers = 0
    new_rev = back_rev = Decimal(0)
    n = 0
    for c in range(n_customers):
        kind = rng.random()
        if kind < 0.5:
            customer = Customer(email=f"kunde{c}@example.no")
        elif kind < 0.8:
            customer = Customer(external_id=str(10_000 + c), email=f"konto{c}@example.no")
        else:
            customer = Customer(phone=f"+47 9{c:07d}", country="NO")
        k = 1 + min(int(rng.expovariate(0.8)), 6)  # repeat orders: a known (geometric-like) draw
        times = sorted(START + timedelta(days=rng.uniform(0, 170)) for _ in range(k))
        counted = 0
        for i, at in enumerate(times):
            n += 1
            qty = rng.randint(1, 3)
            cancelled = rng.random() < 0.1
            test = not cancelled and rng.random() < 0.03
            pending = not cancelled and not test and rng.random() < 0.05
            order = Order(
                shop_id="gen",
                order_id=f"{n:05d}",
                created_at=at,
                updated_at=at,
                currency="NOK",
                lines=(
                    OrderLine(
                        "l1",
                        qty,
                        Decimal("250.00"),
                        sku="SKU",
                        tax=Decimal("50.00") * qty,
                        tax_rate=Decimal("0.25"),
                    ),
                ),
                customer=customer,
                cancelled_at=at + timedelta(hours=1) if cancelled else None,
                test=test,
                financial_status="pending" if pending else ("paid" if i % 2 else "authorized"),
            )
            orders.append(order)
            if cancelled or test or pending:
                continue
            revenue = Decimal(200) * qty  # 250 incl. 25 % VAT
            if counted == 0:
                new, new_rev = new + 1, new_rev + revenue
            else:
                returning, back_rev = returning + 1, back_rev + revenue
            counted += 1
        customers += 1 if counted else 0
    for _ in range(15):  # guests without contact data: neither new nor returning
        n += 1
        at = START + timedelta(days=rng.uniform(0, 170))
        orders.append(
            Order(
                shop_id="gen",
                order_id=f"{n:05d}",
                created_at=at,
                updated_at=at,
                currency="NOK",
                lines=(
                    OrderLine(
                        "l1", 1, Decimal("250.00"), sku="SKU", tax=Decimal("50.00"), tax_rate=Decimal("0.25")
                    ),
                ),
            )
        )
    rng.shuffle(orders)  # arrival order is not creation order
    return Truth(orders, new, returning, new_rev, back_rev, customers)


def test_generated_shop_split_is_exact(engine: Engine) -> None:
    truth = generate(seed=19)
    with engine.begin() as conn:
        ensure_shop(conn, "gen", "NOK", True, NOW)
        import_costs(
            conn, "gen", [CostRow.of("SKU", "80", "NOK", START - timedelta(days=30), source="csv")], now=NOW
        )
    half = len(truth.orders) // 2
    with engine.begin() as conn:  # the first half as a file import would write it: batches
        ctx = ProfitContext.load(conn, SHOP)
        for i in range(0, half, 40):
            ingest_orders(conn, truth.orders[i : min(i + 40, half)], SHOP, now=NOW, context=ctx)
    for order in truth.orders[half:]:  # the rest one by one, as webhooks
        with engine.begin() as conn:
            ingest_order(conn, order, SHOP, now=NOW, trigger_purchase=False)
    report = build_report(
        engine, SHOP, by="week", now=NOW, date_from=date(2026, 1, 1), date_to=date(2026, 6, 30)
    )
    f = report.total.figures
    assert (f.new_orders, f.returning_orders) == (truth.new, truth.returning)
    assert (f.new_revenue, f.returning_revenue) == (truth.new_revenue, truth.returning_revenue)
    assert sum(r.figures.new_orders for r in report.rows) == truth.new
    with engine.connect() as conn:
        customers = load_customers(conn, "gen")
    assert len(customers) == truth.customers
    assert sum(c.orders for c in customers) == truth.new + truth.returning
    assert truth.returning > 30 and truth.new > 60  # the draw has real repeat behaviour
