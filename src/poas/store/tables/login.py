"""Table: recent admin login attempts per client address (the login throttle every web process shares)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

_ID = BigInteger().with_variant(Integer(), "sqlite")

# One row per attempt that has not (yet) succeeded: a login clears its address's rows, rows older than
# the throttle window are pruned. Neither the password nor a user name is stored, only the address.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("client", String(64), nullable=False),  # an IPv4 address or an IPv6 /64 network
    Column("attempted_at", UtcDateTime, nullable=False),
    Index("ix_login_attempts_client", "client", "attempted_at"),
    Index("ix_login_attempts_attempted_at", "attempted_at"),
)
