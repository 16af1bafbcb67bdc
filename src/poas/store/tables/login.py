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

# One row per admin session that has not been revoked or pruned. The cookie carries the session id (32
# random bytes); only its SHA-256 is stored, so reading this table does not give a usable session.
# `password_fp` is a fingerprint of the admin password hash the session logged in with: a session
# of an earlier password is refused (and pruned). Nothing about the client is stored.
admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # hex SHA-256 of the session id
    Column("password_fp", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)
