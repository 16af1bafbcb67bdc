"""Tables: the event outbox, per-pixel pause/throttle state and the delivery log."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid; PostgreSQL gets a bigint identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


OUTBOX_STATES = ("pending", "sending", "sent", "retry", "dead")

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", String(100), nullable=False),
    Column("pixel_id", String(64), nullable=False),
    Column("event_name", String(100), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("order_id", String(200), nullable=True),
    Column("event_time", UtcDateTime, nullable=False),
    # The Graph-ready event as JSON text: batches are spliced from it without re-encoding.
    Column("payload", Text, nullable=False),
    Column("state", String(10), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),  # while sending: = lease_until
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("meta_response", JSON, nullable=True),  # {"fbtrace_id", "events_received"}
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("pixel_id", "event_name", "event_id", name="uq_outbox_event_key"),
    Index("ix_outbox_claim", "state", "next_attempt_at"),
    Index("ix_outbox_order", "shop_id", "order_id"),
)

pixel_state = Table(
    "pixel_state",
    metadata,
    Column("pixel_id", String(64), primary_key=True),
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_until", UtcDateTime, nullable=True),  # None while paused = until resumed by hand
    Column("pause_reason", Text, nullable=True),
    Column("paused_at", UtcDateTime, nullable=True),
    Column("throttle_until", UtcDateTime, nullable=True),
    Column("throttle_strikes", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
)

delivery_log = Table(
    "delivery_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pixel_id", String(64), nullable=False),
    Column("worker_id", String(100), nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("outcome", String(20), nullable=False),  # sent|retry|throttle|pause|invalid|dead|mismatch
    Column("http_status", Integer, nullable=True),
    Column("meta_code", Integer, nullable=True),
    Column("meta_subcode", Integer, nullable=True),
    Column("fbtrace_id", String(100), nullable=True),
    Column("events_received", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("message", Text, nullable=True),
    Column("outbox_ids", JSON, nullable=False),  # the rows in the request: claims can be audited
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Index("ix_delivery_log_finished", "finished_at"),
)
