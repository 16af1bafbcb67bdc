"""Tables: shops, orders with lines and refunds, product costs, cost rules, FX overrides, profit snapshots.

Money is integer minor units (BigInteger) next to an ISO currency; rates and tax rates are decimal
text (exact on both engines); timestamps are stored in UTC and read back as aware UTC datetimes.
Orders are keyed by (shop_id, order_id), the ids the shop itself uses, so imports need no id lookups.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from poas.store.tables import metadata


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; SQLite (which drops the offset) reads back as UTC too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive timestamp {value.isoformat()} cannot be stored (need a timezone)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


SHOP_ID = String(100)
ORDER_ID = String(100)
CURRENCY = String(3)
MINOR = BigInteger
DECIMAL_TEXT = String(40)

shops = Table(
    "shops",
    metadata,
    Column("id", SHOP_ID, primary_key=True),
    Column("currency", CURRENCY, nullable=False),
    Column("prices_include_vat", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("order_id", ORDER_ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("prices_include_vat", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("financial_status", String(40), nullable=False),
    Column("gateway", String(100)),
    Column("shipping_country", String(2)),
    Column("test", Boolean, nullable=False),
    Column("consent_marketing", Boolean),
    Column("consent_ads_tracking", Boolean),
    Column("landing_url", Text),
    Column("referrer", Text),
    Column("utm_source", String(400)),
    Column("utm_medium", String(400)),
    Column("utm_campaign", String(400)),
    Column("utm_content", String(400)),
    Column("utm_term", String(400)),
    Column("fbclid", String(500)),
    Column("fbc", String(600)),
    Column("fbp", String(200)),
    Column("gclid", String(255)),  # Google click ids: bounded, URL-safe (poas.domain.google_identity)
    Column("gbraid", String(255)),
    Column("wbraid", String(255)),
    Column("actual_payment_fee", MINOR),  # the gateway's real fee, when the source knows it
    Column("user_data", JSON),  # hashed CAPI user_data only (poas.domain.pii); never raw contact data
    Column("source", String(40), nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["shop_id"], ["shops.id"], name="fk_orders_shop_id_shops"),
    # newest first with the order id as tie-break, read from the index (0012_orders_list_index)
    Index("ix_orders_shop_created_id", "shop_id", "created_at", "order_id"),
    Index("ix_orders_shop_ingested", "shop_id", "ingested_at"),  # rollup refresh: what changed since
)


def _order_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["shop_id", "order_id"], ["orders.shop_id", "orders.order_id"], ondelete="CASCADE"
    )


order_lines = Table(
    "order_lines",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("order_id", ORDER_ID, primary_key=True),
    Column("line_id", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", MINOR, nullable=False),
    Column("discount", MINOR, nullable=False),
    Column("tax", MINOR, nullable=False),
    Column("tax_rate", DECIMAL_TEXT),
    Column("sku", String(200)),
    Column("variant_id", String(100)),
    Column("product_id", String(100)),
    Column("title", String(500), nullable=False),
    Column("category", String(200)),
    Column("gift_card", Boolean, nullable=False),
    Column("grams", Integer, nullable=False),
    Column("unit_cost", MINOR),  # cost reported by the platform itself, order currency
    _order_fk(),
)

order_shipping_lines = Table(
    "order_shipping_lines",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("order_id", ORDER_ID, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("price", MINOR, nullable=False),
    Column("method", String(200), nullable=False),
    Column("title", String(500), nullable=False),
    Column("discount", MINOR, nullable=False),
    Column("tax", MINOR, nullable=False),
    Column("tax_rate", DECIMAL_TEXT),
    _order_fk(),
)

refunds = Table(
    "refunds",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("order_id", ORDER_ID, primary_key=True),
    Column("refund_id", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
    Column("shipping", MINOR, nullable=False),
    Column("shipping_tax", MINOR, nullable=False),
    Column("adjustment", MINOR, nullable=False),
    Column("adjustment_tax", MINOR, nullable=False),
    Column("note", Text, nullable=False),
    _order_fk(),
)

refund_lines = Table(
    "refund_lines",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("order_id", ORDER_ID, primary_key=True),
    Column("refund_id", String(100), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("line_id", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("restock_type", String(20), nullable=False),
    Column("amount", MINOR),
    Column("tax", MINOR),
    ForeignKeyConstraint(
        ["shop_id", "order_id", "refund_id"],
        ["refunds.shop_id", "refunds.order_id", "refunds.refund_id"],
        name="fk_refund_lines_refund",
        ondelete="CASCADE",
    ),
)

# Effective-dated unit costs: the row with the latest valid_from <= the order time wins.
product_costs = Table(
    "product_costs",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("cost_key", String(200), primary_key=True),  # variant id or SKU
    Column("valid_from", UtcDateTime, primary_key=True),
    Column("unit_cost", MINOR, nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("source", String(40), nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
)

# Every load of a shop's cost rules is a new version; the highest version is in force.
cost_rules = Table(
    "cost_rules",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("format", String(10), nullable=False),  # toml | json
    Column("document", Text, nullable=False),
    Column("source", String(500), nullable=False),
    Column("loaded_at", UtcDateTime, nullable=False),
)

# User-supplied exchange rates: 1 base = rate quote on rate_date (poas.domain.fx.FxRate); they win over ECB.
fx_rates = Table(
    "fx_rates",
    metadata,
    Column("base", CURRENCY, primary_key=True),
    Column("quote", CURRENCY, primary_key=True),
    Column("rate_date", Date, primary_key=True),
    Column("rate", DECIMAL_TEXT, nullable=False),
    Column("source", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Immutable: a changed profit is a new version, never an update.
profit_snapshots = Table(
    "profit_snapshots",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("order_id", ORDER_ID, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("revenue_ex_vat", MINOR, nullable=False),
    Column("vat", MINOR, nullable=False),
    Column("cogs", MINOR, nullable=False),
    Column("shipping_cost", MINOR, nullable=False),
    Column("payment_fee", MINOR, nullable=False),
    Column("handling_cost", MINOR, nullable=False),
    Column("gross_profit", MINOR, nullable=False),
    Column("expected_return_cost", MINOR, nullable=False),
    Column("expected_profit", MINOR, nullable=False),
    Column("realized_profit", MINOR, nullable=False),
    Column("sendable", Boolean, nullable=False),
    Column("sendable_reason", Text),
    Column("breakdown", JSON, nullable=False),
    # lines priced with no cost and no fallback margin; 0 = profit known (migration 0008)
    Column("missing_cost_lines", Integer, nullable=False, server_default="0"),
    _order_fk(),
)
