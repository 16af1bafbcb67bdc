"""Tables: learned return rates and the profit-correction ledger (what AppendValue was or wasn't sent)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

Id = BigInteger().with_variant(Integer(), "sqlite")

return_rates = Table(
    "return_rates",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("level", String(10), primary_key=True),  # shop | category | sku
    Column("key", String(200), primary_key=True),  # "" for the shop level
    Column("rate", String(40), nullable=False),  # exact decimal text
    Column("source", String(20), nullable=False),  # sku | category | shop | prior | configured
    Column("sold", Integer, nullable=False),
    Column("returned", Integer, nullable=False),
    Column("fitted_at", UtcDateTime, nullable=False),
)

# One row per (order, correction): the final profit, what Meta was told at purchase, and whether an
# AppendValue was queued. The unique key makes finalization idempotent across workers.
profit_corrections = Table(
    "profit_corrections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", String(100), nullable=False),
    Column("order_id", String(100), nullable=False),
    Column("correction_key", String(150), nullable=False),  # "final" or "refund:<id>"
    Column("trigger", String(30), nullable=False),  # window_closed | fully_refunded | cancelled | refund
    Column("currency", String(3), nullable=False),
    Column("sent_net_revenue", BigInteger),  # minor units told to Meta at purchase (None: nothing sent)
    Column("final_profit", BigInteger, nullable=False),  # the true realized profit, minor units
    Column("append_net_revenue", BigInteger),  # what the AppendValue carries (negative clamped by policy)
    Column("state", String(10), nullable=False),  # queued | unsent | unchanged
    Column("reason", Text, nullable=False),
    Column("append_event_id", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "order_id", "correction_key", name="uq_profit_corrections_key"),
    Index("ix_profit_corrections_created", "shop_id", "created_at"),
)
