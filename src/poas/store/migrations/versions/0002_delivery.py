"""Delivery: the event outbox, per-pixel pause/throttle state and the delivery log."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002_delivery"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop_id", sa.String(100), nullable=False),
        sa.Column("pixel_id", sa.String(64), nullable=False),
        sa.Column("event_name", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=True),
        _time("event_time", nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _time("next_attempt_at", nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        _time("lease_until"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("meta_response", sa.JSON, nullable=True),
        _time("created_at", nullable=False),
        _time("sent_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("pixel_id", "event_name", "event_id", name="uq_outbox_event_key"),
    )
    op.create_index("ix_outbox_claim", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_order", "outbox", ["shop_id", "order_id"])

    op.create_table(
        "pixel_state",
        sa.Column("pixel_id", sa.String(64), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        _time("paused_until"),
        sa.Column("pause_reason", sa.Text, nullable=True),
        _time("paused_at"),
        _time("throttle_until"),
        sa.Column("throttle_strikes", sa.Integer, nullable=False),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("pixel_id", name="pk_pixel_state"),
    )

    op.create_table(
        "delivery_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("pixel_id", sa.String(64), nullable=False),
        sa.Column("worker_id", sa.String(100), nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("meta_code", sa.Integer, nullable=True),
        sa.Column("meta_subcode", sa.Integer, nullable=True),
        sa.Column("fbtrace_id", sa.String(100), nullable=True),
        sa.Column("events_received", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("outbox_ids", sa.JSON, nullable=False),
        _time("claimed_at", nullable=False),
        _time("lease_until", nullable=False),
        _time("finished_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_log"),
    )
    op.create_index("ix_delivery_log_finished", "delivery_log", ["finished_at"])


def downgrade() -> None:
    op.drop_table("delivery_log")
    op.drop_table("pixel_state")
    op.drop_table("outbox")
