"""Table: what the alert receiver was last told per alert key (so several workers send each alert once)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

# One row per alert key (`pixel_paused:<pixel>`, `dead_letters:<pixel>`, `inbox_stuck`). `claim` is the
# token of the last checker that changed the row: a checker updates the row only if the token is still
# the one it read, so of several checkers exactly one wins and sends. No personal data is stored.
alert_state = Table(
    "alert_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("first_seen_at", UtcDateTime, nullable=False),  # when this episode of the condition began
    Column(
        "last_sent_at", UtcDateTime, nullable=True
    ),  # the last alert the receiver accepted (or is being sent)
    Column("sent_state", String(10), nullable=True),  # firing | resolved: what the receiver was last told
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("seen", BigInteger, nullable=False, default=0),  # counting alerts: the count already announced
    Column("claim", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
