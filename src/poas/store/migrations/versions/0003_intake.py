"""Inbox of raw webhook/API deliveries and the per-order intake state.

Revision ID: 0003_intake
Revises: 0002_delivery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_intake"
down_revision = "0002_delivery"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("triggered_at", _TS),
        sa.Column("order_id", sa.String(100)),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("lease_until", _TS),
        sa.Column("worker", sa.String(100)),
        sa.Column("outcome", sa.String(200)),
        sa.Column("error", sa.Text()),
        sa.Column("processed_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
        sa.UniqueConstraint("shop_id", "source", "topic", "dedup_key", name="uq_inbox_delivery"),
    )
    op.create_index("ix_inbox_status_due", "inbox", ["status", "next_attempt_at"])
    op.create_table(
        "intake_orders",
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("updated_at", _TS),
        sa.Column("payload", sa.JSON()),
        sa.Column("refunds", sa.JSON(), nullable=False),
        sa.Column("stored_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "order_id", name="pk_intake_orders"),
    )


def downgrade() -> None:
    op.drop_table("intake_orders")
    op.drop_index("ix_inbox_status_due", table_name="inbox")
    op.drop_table("inbox")
