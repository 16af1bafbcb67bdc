"""Table: when each recurring sync (ad spend per shop, exchange rates) last succeeded and last failed.

One row per sync (`kind`, `shop_id`; `shop_id` is "" for a sync that is not per shop, like the
exchange rates). A sync that writes nothing new still records its success here, so "has not succeeded
for N hours" can be read from the store (services.sync_status, the alerts and `poas doctor`).
`last_error` is a short reason free of secrets and personal data (the error class and the sync's own
message, never a payload, a token or a URL's credentials).
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

from poas.store.tables import metadata
from poas.store.tables.foundation import SHOP_ID, UtcDateTime

sync_status = Table(
    "sync_status",
    metadata,
    Column("kind", String(40), primary_key=True),  # spend | fx (later: the shop reconciliation)
    Column("shop_id", SHOP_ID, primary_key=True),  # "" when the sync is not per shop
    # When the sync was first expected (its first attempt, or the first check that looked for it):
    # a sync that never succeeded is silent since then.
    Column("expected_since", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("last_success_at", UtcDateTime, nullable=True),
    Column("last_failure_at", UtcDateTime, nullable=True),
    Column("last_error", String(500), nullable=True),  # the last failure's reason (kept after a success)
    # The order reconciliation's counts (services.reconcile; NULL / 0 for the other kinds): orders
    # checked and missed by the last successful run, and missed by every run so far.
    Column("last_checked", Integer, nullable=True),
    Column("last_missed", Integer, nullable=True),
    Column("missed_total", Integer, nullable=False, server_default="0"),
)
