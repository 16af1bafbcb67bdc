"""Table: the shop's products and variants as the platform states them (titles and product type),
written by `poas sync`; the product type is the line's category when an order line carries none.

Keyed like the cost book (variant id, or a WooCommerce simple product's SKU), so a line finds its
category by the same keys it finds its cost by.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from poas.store.tables import metadata
from poas.store.tables.foundation import SHOP_ID, UtcDateTime

product_catalog = Table(
    "product_catalog",
    metadata,
    Column("shop_id", SHOP_ID, primary_key=True),
    Column("item_key", String(200), primary_key=True),  # variant id or SKU (the cost book's key)
    Column("sku", String(200), nullable=True),
    Column("product_title", String(500), nullable=False),
    Column("variant_title", String(500), nullable=False),
    Column("category", String(200), nullable=True),  # the product type / first category; None if unset
    Column("source", String(40), nullable=False),  # shopify | woocommerce
    Column("updated_at", UtcDateTime, nullable=False),
)
