"""Each shop's fitted customer value model (`poas customers fit`).

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


def downgrade() -> None:
    op.drop_table("customer_models")
