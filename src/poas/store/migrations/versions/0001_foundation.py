"""Foundation tables: shops, orders (lines, shipping, refunds), costs, cost rules, FX, profit snapshots.

Revision ID: 0001_foundation
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_SHOP = sa.String(100)
_ORDER = sa.String(100)


def _money(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _order_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shop_id", "order_id"],
        ["orders.shop_id", "orders.order_id"],
        name=f"fk_{table}_shop_id_orders",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("id", _SHOP, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("prices_include_vat", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shops"),
    )
    op.create_table(
        "orders",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("order_id", _ORDER, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("prices_include_vat", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("processed_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=True),
        sa.Column("cancelled_at", _TS, nullable=True),
        sa.Column("financial_status", sa.String(40), nullable=False),
        sa.Column("gateway", sa.String(100), nullable=True),
        sa.Column("shipping_country", sa.String(2), nullable=True),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("consent_marketing", sa.Boolean(), nullable=True),
        sa.Column("consent_ads_tracking", sa.Boolean(), nullable=True),
        sa.Column("landing_url", sa.Text(), nullable=True),
        sa.Column("referrer", sa.Text(), nullable=True),
        sa.Column("utm_source", sa.String(400), nullable=True),
        sa.Column("utm_medium", sa.String(400), nullable=True),
        sa.Column("utm_campaign", sa.String(400), nullable=True),
        sa.Column("utm_content", sa.String(400), nullable=True),
        sa.Column("utm_term", sa.String(400), nullable=True),
        sa.Column("fbclid", sa.String(500), nullable=True),
        sa.Column("fbc", sa.String(600), nullable=True),
        sa.Column("fbp", sa.String(200), nullable=True),
        _money("actual_payment_fee", nullable=True),
        sa.Column("user_data", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("ingested_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name="fk_orders_shop_id_shops"),
        sa.PrimaryKeyConstraint("shop_id", "order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_shop_created", "orders", ["shop_id", "created_at"])
    op.create_index("ix_orders_shop_ingested", "orders", ["shop_id", "ingested_at"])
    op.create_table(
        "order_lines",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("order_id", _ORDER, nullable=False),
        sa.Column("line_id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        _money("unit_price"),
        _money("discount"),
        _money("tax"),
        sa.Column("tax_rate", sa.String(40), nullable=True),
        sa.Column("sku", sa.String(200), nullable=True),
        sa.Column("variant_id", sa.String(100), nullable=True),
        sa.Column("product_id", sa.String(100), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("gift_card", sa.Boolean(), nullable=False),
        sa.Column("grams", sa.Integer(), nullable=False),
        _money("unit_cost", nullable=True),
        _order_fk("order_lines"),
        sa.PrimaryKeyConstraint("shop_id", "order_id", "line_id", name="pk_order_lines"),
    )
    op.create_table(
        "order_shipping_lines",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("order_id", _ORDER, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _money("price"),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        _money("discount"),
        _money("tax"),
        sa.Column("tax_rate", sa.String(40), nullable=True),
        _order_fk("order_shipping_lines"),
        sa.PrimaryKeyConstraint("shop_id", "order_id", "position", name="pk_order_shipping_lines"),
    )
    op.create_table(
        "refunds",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("order_id", _ORDER, nullable=False),
        sa.Column("refund_id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("processed_at", _TS, nullable=False),
        _money("shipping"),
        _money("shipping_tax"),
        _money("adjustment"),
        _money("adjustment_tax"),
        sa.Column("note", sa.Text(), nullable=False),
        _order_fk("refunds"),
        sa.PrimaryKeyConstraint("shop_id", "order_id", "refund_id", name="pk_refunds"),
    )
    op.create_table(
        "refund_lines",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("order_id", _ORDER, nullable=False),
        sa.Column("refund_id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.String(100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("restock_type", sa.String(20), nullable=False),
        _money("amount", nullable=True),
        _money("tax", nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id", "order_id", "refund_id"],
            ["refunds.shop_id", "refunds.order_id", "refunds.refund_id"],
            name="fk_refund_lines_refund",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "order_id", "refund_id", "position", name="pk_refund_lines"),
    )
    op.create_table(
        "product_costs",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("cost_key", sa.String(200), nullable=False),
        sa.Column("valid_from", _TS, nullable=False),
        _money("unit_cost"),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("imported_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "cost_key", "valid_from", name="pk_product_costs"),
    )
    op.create_table(
        "cost_rules",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("loaded_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "version", name="pk_cost_rules"),
    )
    op.create_table(
        "fx_rates",
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("quote", sa.String(3), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate", sa.String(40), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("base", "quote", "rate_date", name="pk_fx_rates"),
    )
    op.create_table(
        "profit_snapshots",
        sa.Column("shop_id", _SHOP, nullable=False),
        sa.Column("order_id", _ORDER, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        *(
            _money(name)
            for name in (
                "revenue_ex_vat",
                "vat",
                "cogs",
                "shipping_cost",
                "payment_fee",
                "handling_cost",
                "gross_profit",
                "expected_return_cost",
                "expected_profit",
                "realized_profit",
            )
        ),
        sa.Column("sendable", sa.Boolean(), nullable=False),
        sa.Column("sendable_reason", sa.Text(), nullable=True),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        _order_fk("profit_snapshots"),
        sa.PrimaryKeyConstraint("shop_id", "order_id", "version", name="pk_profit_snapshots"),
    )


def downgrade() -> None:
    for table in (
        "profit_snapshots",
        "fx_rates",
        "cost_rules",
        "product_costs",
        "refund_lines",
        "refunds",
        "order_shipping_lines",
        "order_lines",
    ):
        op.drop_table(table)
    op.drop_index("ix_orders_shop_ingested", table_name="orders")
    op.drop_index("ix_orders_shop_created", table_name="orders")
    op.drop_table("orders")
    op.drop_table("shops")
