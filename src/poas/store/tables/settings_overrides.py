"""Tables: shop settings changed in the dashboard (applied over poas.toml when settings load) and the
audit of every change (who, when, old and new value)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from poas.store.tables import metadata
from poas.store.tables.foundation import SHOP_ID, UtcDateTime

# One row per (shop, setting) that differs from the file; `value` is the JSON of the setting's value.
settings_overrides = Table(
    "settings_overrides",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("changed_by", String(200), nullable=False),
)

# Append-only: one row per change; a null value means "as poas.toml says".
settings_changes = Table(
    "settings_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shop_id", SHOP_ID, nullable=False, index=True),
    Column("key", String(100), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("changed_by", String(200), nullable=False),
)
