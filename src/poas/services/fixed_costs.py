"""Fixed costs (apps, salaries, rent): monthly amounts per name, effective-dated, spread over days.

An entry is (name, monthly amount, valid from); a later entry of the same name replaces it from its
date, and an amount of 0 ends the cost. Entries are never rewritten: one for the same name and date
replaces only that entry (a correction). Amounts are in the shop currency. docs/metrics.md.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, select

from poas.domain.margins import FixedCost, fixed_between
from poas.domain.money import Money, exponent
from poas.settings import ShopConfig
from poas.store.orders import upsert_insert
from poas.store.tables.customers import fixed_costs


class FixedCostError(ValueError):
    """An entry that cannot be stored (the message says which field)."""


def parse_amount(text: str, currency: str) -> Decimal:
    try:
        amount = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise FixedCostError(f"amount {text!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise FixedCostError("amount must be a number ≥ 0 (0 ends the cost)")
    if amount != amount.quantize(Decimal(1).scaleb(-exponent(currency))):
        raise FixedCostError(f"amount has more decimals than {currency} allows")
    return amount


def set_fixed_cost(
    engine: Engine,
    shop: ShopConfig,
    *,
    name: str,
    monthly: Decimal,
    valid_from: date,
    now: datetime,
    category: str = "",
    note: str = "",
) -> None:
    """Store one entry (the same name and date replaces that entry)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise FixedCostError("name must be 1–200 characters")
    if monthly < 0:
        raise FixedCostError("amount must be ≥ 0 (0 ends the cost)")
    minor = Money(monthly, shop.currency).minor_units()
    values = {
        "shop_id": shop.id,
        "name": name,
        "valid_from": valid_from,
        "category": category.strip()[:100],
        "currency": shop.currency,
        "monthly_minor": minor,
        "note": note[:500],
        "created_at": now,
    }
    with engine.begin() as conn:
        stmt = upsert_insert(conn, fixed_costs).values(**values)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["shop_id", "name", "valid_from"],
                set_={k: values[k] for k in ("category", "currency", "monthly_minor", "note", "created_at")},
            )
        )


def list_fixed_costs(engine: Engine, shop: ShopConfig) -> list[FixedCost]:
    fc = fixed_costs.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(fc.name, fc.valid_from, fc.monthly_minor, fc.currency, fc.category)
            .where(fc.shop_id == shop.id)
            .order_by(fc.name, fc.valid_from)
        ).all()
    return [
        FixedCost(r.name, r.valid_from, Money.from_minor(r.monthly_minor, r.currency).amount, r.category)
        for r in rows
    ]


def fixed_costs_between(engine: Engine, shop: ShopConfig, date_from: date, date_to: date) -> Decimal:
    """The shop's fixed costs of the days date_from..date_to, spread exactly, rounded once."""
    return fixed_between(list_fixed_costs(engine, shop), date_from, date_to, exponent(shop.currency))
