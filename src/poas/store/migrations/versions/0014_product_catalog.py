"""The shops' product catalogue from `poas sync` (titles and product type per variant), whose product
type is an order line's category when the line carries none.

Revision ID: 0014_product_catalog
Revises: 0013_reconcile_counts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_product_catalog"
down_revision = "0013_reconcile_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_catalog",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("item_key", sa.String(200), nullable=False),
        sa.Column("sku", sa.String(200), nullable=True),
        sa.Column("product_title", sa.String(500), nullable=False),
        sa.Column("variant_title", sa.String(500), nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "item_key", name="pk_product_catalog"),
    )


def downgrade() -> None:
    op.drop_table("product_catalog")
