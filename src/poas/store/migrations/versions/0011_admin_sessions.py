"""Admin sessions kept in the store (hashed ids), so a logout or a password change ends them everywhere.

Revision ID: 0011_admin_sessions
Revises: 0010_sync_status
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_admin_sessions"
down_revision = "0010_sync_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("password_fp", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_admin_sessions"),
    )


def downgrade() -> None:
    op.drop_table("admin_sessions")
