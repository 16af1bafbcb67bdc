"""Ad spend outside Meta, one figure per shop, channel and month (blended POAS divides by all spend).

Revision ID: 0016_channel_spend
Revises: 0015_settings_overrides
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from poas.store.tables.foundation import UtcDateTime

revision = "0016_channel_spend"
down_revision = "0015_settings_overrides"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_spend",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "channel", "month", name="pk_channel_spend"),
    )


def downgrade() -> None:
    op.drop_table("channel_spend")
