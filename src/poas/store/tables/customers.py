"""Tables: customers per shop, each order's place in its customer's history, and fixed costs.

A customer is keyed per shop by `customer_key` (poas.domain.customers.customer_key): the hashed
platform customer id, else the hashed e-mail, else the hashed phone, all taken from the order's
hashed user_data; nothing raw is stored. Money is integer minor units of the shop currency.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Text

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

CUSTOMER_KEY = String(80)  # "id:" / "em:" / "ph:" + 64 hex

# One row per stored order: its customer (None: no id, e-mail or phone), whether it counts as a
# customer order (paid, not cancelled, not a test) and its place among them (1 = new, 2+ = returning).
customer_orders = Table(
    "customer_orders",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("order_id", String(100), primary_key=True),
    Column("customer_key", CUSTOMER_KEY),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("counts", Boolean, nullable=False),
    Column("seq", Integer),  # 1 = the customer's first counted order ("new"), 2+ returning, None not counted
    Column("profit_known", Boolean, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    Column("gross_profit_minor", BigInteger, nullable=False),
    Column("expected_profit_minor", BigInteger, nullable=False),
    Column("realized_profit_minor", BigInteger, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),  # last change of seq or figures (rollup refresh)
    Index("ix_customer_orders_key", "shop_id", "customer_key"),
    Index("ix_customer_orders_changed", "shop_id", "changed_at"),
)

# Per customer: what its counted orders add up to (maintained with customer_orders, same transaction).
customers = Table(
    "customers",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("customer_key", CUSTOMER_KEY, primary_key=True),
    Column("first_order_id", String(100), nullable=False),
    Column("first_order_at", UtcDateTime, nullable=False),
    Column("last_order_at", UtcDateTime, nullable=False),
    Column("orders", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    Column("gross_profit_minor", BigInteger, nullable=False),
    Column("expected_profit_minor", BigInteger, nullable=False),
    Column("realized_profit_minor", BigInteger, nullable=False),
    Column("orders_without_cost", Integer, nullable=False),  # unknown profit: out of the profit sums
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_customers_first", "shop_id", "first_order_at"),
)

# Fixed costs (apps, salaries, rent) as monthly amounts, effective-dated per name: the row with the
# latest valid_from <= a day is in force for that day (amount 0 ends a cost); spread over the days.
fixed_costs = Table(
    "fixed_costs",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("category", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("monthly_minor", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
