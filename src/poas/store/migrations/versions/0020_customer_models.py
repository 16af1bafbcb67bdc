"""Each shop's fitted customer value model (`poas customers fit`), and per new customer's order the
predicted value its Purchase carried (`order_customer_value`).

Revision ID: 0020_customer_models
Revises: 0019_google_click_ids
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from poas.store.tables.foundation import UtcDateTime

revision = "0020_customer_models"
down_revision = "0019_google_click_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_models",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("fitted_at", UtcDateTime(), nullable=False),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", name="pk_customer_models"),
    )
    op.create_table(
        "order_customer_value",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("predicted_future_minor", sa.BigInteger(), nullable=False),
        sa.Column("predicted_ltv_minor", sa.BigInteger()),
        sa.Column("share", sa.String(20), nullable=False),
        sa.Column("added_minor", sa.BigInteger(), nullable=False),
        sa.Column("model_fitted_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "order_id", name="pk_order_customer_value"),
    )


def downgrade() -> None:
    op.drop_table("order_customer_value")
    op.drop_table("customer_models")
