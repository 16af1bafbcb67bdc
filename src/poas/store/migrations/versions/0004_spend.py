"""Spend rows (Meta Insights / Ads Manager CSV) and daily rollups.

Revision ID: 0004_spend
Revises: 0003_intake
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_spend"
down_revision = "0003_intake"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ad_spend",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("row_key", sa.String(400), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.String(64)),
        sa.Column("campaign_name", sa.String(400)),
        sa.Column("adset_id", sa.String(64)),
        sa.Column("adset_name", sa.String(400)),
        sa.Column("ad_id", sa.String(64)),
        sa.Column("ad_name", sa.String(400)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("spend_minor", sa.BigInteger(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("meta_purchases", sa.BigInteger(), nullable=False),
        sa.Column("meta_purchase_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("shop_id", "account_id", "row_key", "day", name="uq_ad_spend_key"),
    )
    op.create_index("ix_ad_spend_shop_day", "ad_spend", ["shop_id", "day"])
    op.create_table(
        "rollup_daily",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("spend_minor", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("expected_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("final_orders", sa.BigInteger(), nullable=False),
        sa.Column("realized_profit_minor", sa.BigInteger(), nullable=False),
        sa.Column("meta_purchases", sa.BigInteger(), nullable=False),
        sa.Column("meta_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("spend_allocated", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "day", "level", "key", name="pk_rollup_daily"),
    )
    op.create_index("ix_rollup_daily_level_day", "rollup_daily", ["shop_id", "level", "day"])
    op.create_table(
        "rollup_marks",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", name="pk_rollup_marks"),
    )


def downgrade() -> None:
    op.drop_table("rollup_marks")
    op.drop_index("ix_rollup_daily_level_day", table_name="rollup_daily")
    op.drop_table("rollup_daily")
    op.drop_index("ix_ad_spend_shop_day", table_name="ad_spend")
    op.drop_table("ad_spend")
