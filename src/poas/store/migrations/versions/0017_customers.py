"""Customers and each order's place in its customer's history; fixed costs; margin and new/returning
columns on the daily rollups (the rollups are rebuilt on the next refresh: their watermarks go).

Existing orders are placed by `poas customers rebuild`; new and changed orders as they are ingested.

Revision ID: 0017_customers
Revises: 0016_channel_spend
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from poas.store.tables.foundation import UtcDateTime

revision = "0017_customers"
down_revision = "0016_channel_spend"
branch_labels = None
depends_on = None

ROLLUP_COLUMNS = (
    "cogs_minor",
    "shipping_cost_minor",
    "payment_fee_minor",
    "handling_cost_minor",
    "return_cost_minor",
    "new_orders",
    "new_revenue_minor",
    "new_gross_profit_minor",
    "new_expected_profit_minor",
    "new_realized_profit_minor",
    "returning_orders",
    "returning_revenue_minor",
    "returning_gross_profit_minor",
    "returning_expected_profit_minor",
    "returning_realized_profit_minor",
)


def upgrade() -> None:
    op.create_table(
        "customer_orders",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("customer_key", sa.String(80)),
        sa.Column("placed_at", UtcDateTime(), nullable=False),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.Integer()),
        sa.Column("profit_known", sa.Boolean(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("expected_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("realized_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "order_id", name="pk_customer_orders"),
    )
    op.create_index("ix_customer_orders_key", "customer_orders", ["shop_id", "customer_key"])
    op.create_index("ix_customer_orders_changed", "customer_orders", ["shop_id", "changed_at"])
    op.create_table(
        "customers",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("customer_key", sa.String(80), nullable=False),
        sa.Column("first_order_id", sa.String(100), nullable=False),
        sa.Column("first_order_at", UtcDateTime(), nullable=False),
        sa.Column("last_order_at", UtcDateTime(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("expected_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("realized_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("orders_without_cost", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "customer_key", name="pk_customers"),
    )
    op.create_index("ix_customers_first", "customers", ["shop_id", "first_order_at"])
    op.create_table(
        "fixed_costs",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("monthly_minor", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "name", "valid_from", name="pk_fixed_costs"),
    )
    with op.batch_alter_table("rollup_daily") as batch:
        for name in ROLLUP_COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("DELETE FROM rollup_marks")  # every rollup is rebuilt with the new columns


def downgrade() -> None:
    with op.batch_alter_table("rollup_daily") as batch:
        for name in ROLLUP_COLUMNS:
            batch.drop_column(name)
    op.drop_table("fixed_costs")
    op.drop_index("ix_customers_first", "customers")
    op.drop_table("customers")
    op.drop_index("ix_customer_orders_changed", "customer_orders")
    op.drop_index("ix_customer_orders_key", "customer_orders")
    op.drop_table("customer_orders")
