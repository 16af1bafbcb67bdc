"""Tables: daily ad spend rows (Meta Insights / Ads Manager CSV, Google Ads API / Ads UI CSV) and rollups."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

# One row per (shop, ad account, ad, day). `row_key` is the Meta ad id, or — for exports without
# ids — a stable key built from the names, so a re-import upserts instead of duplicating.
ad_spend = Table(
    "ad_spend",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("shop_id", String(100), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("row_key", String(400), nullable=False),
    Column("day", Date, nullable=False),
    Column("campaign_id", String(64)),
    Column("campaign_name", String(400)),
    Column("adset_id", String(64)),
    Column("adset_name", String(400)),
    Column("ad_id", String(64)),
    Column("ad_name", String(400)),
    Column("currency", String(3), nullable=False),
    Column("spend_minor", BigInteger, nullable=False),
    Column("impressions", BigInteger, nullable=False, default=0),
    Column("clicks", BigInteger, nullable=False, default=0),
    Column("meta_purchases", BigInteger, nullable=False, default=0),
    Column("meta_purchase_value_minor", BigInteger, nullable=False, default=0),
    Column("source", String(20), nullable=False),  # insights | csv | google_ads
    Column("fetched_at", UtcDateTime, nullable=False),
    # meta | google (0018): which ad platform spent it; Google rows key an ad group, not an ad
    Column("channel", String(20), nullable=False, default="meta", server_default="meta"),
    UniqueConstraint("shop_id", "account_id", "row_key", "day", name="uq_ad_spend_key"),
    Index("ix_ad_spend_shop_day", "shop_id", "day"),
)

# Daily figures per shop and per level: level "shop" (key ""), "campaign", "adset", "ad", "product".
# Money in the shop currency's minor units. Rebuilt idempotently per (shop, day).
rollup_daily = Table(
    "rollup_daily",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("level", String(10), primary_key=True),
    Column("key", String(400), primary_key=True),
    Column("name", String(400), nullable=False, default=""),
    Column("currency", String(3), nullable=False),
    Column("spend_minor", BigInteger, nullable=False, default=0),
    Column("orders", BigInteger, nullable=False, default=0),
    Column("revenue_minor", BigInteger, nullable=False, default=0),
    Column("gross_profit_minor", BigInteger, nullable=False, default=0),
    Column("expected_profit_minor", BigInteger, nullable=False, default=0),
    Column("final_orders", BigInteger, nullable=False, default=0),
    Column("realized_profit_minor", BigInteger, nullable=False, default=0),
    Column("meta_purchases", BigInteger, nullable=False, default=0),
    Column("meta_value_minor", BigInteger, nullable=False, default=0),
    Column("spend_allocated", Integer, nullable=False, default=0),  # 1 = product spend by revenue share
    # orders whose profit is unknown (a missing cost, no fallback): out of the profit sums (0008)
    Column("orders_without_cost", BigInteger, nullable=False, default=0, server_default="0"),
    Column("revenue_without_cost_minor", BigInteger, nullable=False, default=0, server_default="0"),
    # contribution-margin components of the known-profit orders, and the new / returning split (0017)
    Column("cogs_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("shipping_cost_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("payment_fee_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("handling_cost_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("return_cost_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("new_orders", BigInteger, nullable=False, default=0, server_default="0"),
    Column("new_revenue_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("new_gross_profit_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("new_expected_profit_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("new_realized_profit_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("returning_orders", BigInteger, nullable=False, default=0, server_default="0"),
    Column("returning_revenue_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("returning_gross_profit_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("returning_expected_profit_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Column("returning_realized_profit_minor", BigInteger, nullable=False, default=0, server_default="0"),
    Index("ix_rollup_daily_level_day", "shop_id", "level", "day"),
)

# Per shop: rollups are current for every change recorded before `watermark` (see services.rollups).
rollup_marks = Table(
    "rollup_marks",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("watermark", UtcDateTime, nullable=False),
)

# Ad spend outside Meta (Google, TikTok, newsletters …) entered as one figure per channel and month,
# in the shop currency's minor units: blended POAS divides all profit by Meta's spend plus these.
channel_spend = Table(
    "channel_spend",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("channel", String(100), primary_key=True),
    Column("month", Date, primary_key=True),  # the first day of the month
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("source", String(20), nullable=False),  # dashboard | import
    Column("updated_at", UtcDateTime, nullable=False),
)
