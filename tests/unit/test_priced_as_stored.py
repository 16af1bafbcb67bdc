"""An order `priced_as_stored` says prices as it is gives exactly the snapshot its stored form gives:
`prepare_order` then skips the copy. Checked on the fixtures and a sample shop's orders (refunds,
discounts, gift cards, zero amounts of exponent 0), and the check refuses amounts the store rounds."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from poas.domain.costs import CostBook, CostRow
from poas.domain.fx import FxTable
from poas.domain.order import Order
from poas.domain.profit import ProfitPolicy
from poas.domain.rules import load_rules_toml
from poas.services.ingest import ProfitContext
from poas.settings import ShopConfig
from poas.sources import shopify
from poas.sources.sample_files import rules_toml
from poas.sources.sample_shop import generate
from poas.store.orders import priced_as_stored, stored_form
from poas.store.snapshots import snapshot_values

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
SHOP = ShopConfig(id="s", platform="shopify", currency="NOK", default_margin=0.5)


SAMPLE = generate(seed=11, days=4, orders_per_day=120, today=date(2026, 11, 30), history_days=10)


def _context() -> ProfitContext:
    """The sample shop's cost book and cost rules (fees, shipping, handling), half the lines costed."""
    rows = [
        CostRow(
            str(c.variant.variant_id), c.unit_cost, "NOK", datetime.combine(c.valid_from, time(0), UTC), "t"
        )
        for i, c in enumerate(SAMPLE.costs)
        if i % 2 == 0
    ]
    rules = load_rules_toml(rules_toml())
    return ProfitContext(SHOP, CostBook(rows), rules, ProfitPolicy.from_shop(SHOP), FxTable([]))


def _orders() -> list[Order]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "line_items" in data:
            out.append(shopify.parse_order(data, "s"))
    for o in SAMPLE.orders + SAMPLE.history:
        assert o.payload is not None
        out.append(shopify.parse_order(o.payload, "s"))
    return out


def _snapshot(ctx: ProfitContext, order: Order) -> object:
    profit, error = ctx.price(order)
    return (snapshot_values(profit) if profit is not None else None), error


def test_an_order_priced_as_stored_gives_its_stored_forms_snapshot() -> None:
    ctx = _context()
    orders = _orders()
    taken = [o for o in orders if priced_as_stored(o)]
    assert len(taken) == len(orders)  # platforms send minor units: the check passes them all
    assert any(o.refunds for o in taken) and any(ln.discount == 0 for o in taken for ln in o.lines)
    for order in taken:
        assert _snapshot(ctx, order) == _snapshot(ctx, stored_form(order))


def test_amounts_the_store_rounds_are_priced_in_their_stored_form() -> None:
    order = _orders()[0]
    line = order.lines[0]
    for odd in (Decimal("1000.005"), Decimal("1000.0"), Decimal("1E+3"), Decimal("-0.00")):
        changed = replace(order, lines=(replace(line, unit_price=odd), *order.lines[1:]))
        assert not priced_as_stored(changed), odd
    for fine in (Decimal(0), Decimal("-12.50")):
        assert priced_as_stored(replace(order, lines=(replace(line, discount=fine), *order.lines[1:])))
