"""Sync status: when each recurring sync (ad spend per shop, exchange rates) last succeeded or failed.

Revision ID: 0010_sync_status
Revises: 0009_order_edit_clock
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_sync_status"
down_revision = "0009_order_edit_clock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_status",
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("expected_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("kind", "shop_id", name="pk_sync_status"),
    )


def downgrade() -> None:
    op.drop_table("sync_status")
