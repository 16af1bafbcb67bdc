"""Learned return rates and the profit-correction ledger.

Revision ID: 0005_returns
Revises: 0004_spend
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_returns"
down_revision = "0004_spend"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "return_rates",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("rate", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "level", "key", name="pk_return_rates"),
    )
    op.create_table(
        "profit_corrections",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("correction_key", sa.String(150), nullable=False),
        sa.Column("trigger", sa.String(30), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("sent_net_revenue", sa.BigInteger()),
        sa.Column("final_profit", sa.BigInteger(), nullable=False),
        sa.Column("append_net_revenue", sa.BigInteger()),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("append_event_id", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_profit_corrections"),
        sa.UniqueConstraint("shop_id", "order_id", "correction_key", name="uq_profit_corrections_key"),
    )
    op.create_index("ix_profit_corrections_created", "profit_corrections", ["shop_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_profit_corrections_created", table_name="profit_corrections")
    op.drop_table("profit_corrections")
    op.drop_table("return_rates")
