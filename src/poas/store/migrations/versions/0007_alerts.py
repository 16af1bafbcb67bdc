"""Alert state per alert key, so several workers send each alert once.

Revision ID: 0007_alerts
Revises: 0006_login_attempts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_alerts"
down_revision = "0006_login_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_state", sa.String(10), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen", sa.BigInteger(), nullable=False),
        sa.Column("claim", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_alert_state"),
    )


def downgrade() -> None:
    op.drop_table("alert_state")
