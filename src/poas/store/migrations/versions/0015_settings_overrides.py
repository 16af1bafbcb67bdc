"""Shop settings changed in the dashboard (applied over poas.toml by every process that loads the
settings) and the audit of each change.

Revision ID: 0015_settings_overrides
Revises: 0014_product_catalog
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from poas.store.tables.foundation import UtcDateTime

revision = "0015_settings_overrides"
down_revision = "0014_product_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings_overrides",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "key", name="pk_settings_overrides"),
    )
    op.create_table(
        "settings_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_settings_changes"),
    )
    op.create_index("ix_settings_changes_shop_id", "settings_changes", ["shop_id"])


def downgrade() -> None:
    op.drop_index("ix_settings_changes_shop_id", table_name="settings_changes")
    op.drop_table("settings_changes")
    op.drop_table("settings_overrides")
