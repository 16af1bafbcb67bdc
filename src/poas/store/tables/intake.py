"""Tables: the webhook/API inbox (raw deliveries until processed) and the latest known state per order."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid; PostgreSQL gets a bigint.
_ID = BigInteger().with_variant(Integer(), "sqlite")

INBOX_STATES = ("pending", "processing", "done", "skipped", "failed", "rejected")

inbox = Table(
    "inbox",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("shop_id", String(100), nullable=False),
    Column("source", String(20), nullable=False),  # shopify | woocommerce | api
    Column("topic", String(100), nullable=False),
    Column("dedup_key", String(200), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("triggered_at", UtcDateTime),
    Column("order_id", String(100)),
    Column("body", LargeBinary),  # its private form (sources.stored_body); cleared once processed
    Column("body_sha256", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime),
    Column("worker", String(100)),
    Column("outcome", String(200)),
    Column("error", Text),  # never holds personal data (see services.intake.describe_error)
    Column("processed_at", UtcDateTime),
    UniqueConstraint("shop_id", "source", "topic", "dedup_key", name="uq_inbox_delivery"),
    Index("ix_inbox_status_due", "status", "next_attempt_at"),
)

# The newest order payload seen per order (contact data removed) and the refunds that arrived
# separately, so a refund or a late delivery can rebuild the full order.
intake_orders = Table(
    "intake_orders",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("order_id", String(100), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("updated_at", UtcDateTime),
    Column("payload", JSON),
    Column("refunds", JSON, nullable=False),
    Column("stored_at", UtcDateTime, nullable=False),
)
