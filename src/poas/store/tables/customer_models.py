"""Table: each shop's fitted customer value model (BG/NBD + Gamma-Gamma parameters, as JSON).

One row per shop, replaced by `poas customers fit`; the parameters are those of
`poas.domain.ltv.LtvModel.to_dict()`, with the profit basis and the data they were fitted on.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from poas.store.tables import metadata
from poas.store.tables.foundation import UtcDateTime

customer_models = Table(
    "customer_models",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("fitted_at", UtcDateTime, nullable=False),
    Column("basis", String(20), nullable=False),  # expected | gross | realized profit
    Column("customers", Integer, nullable=False),
    Column("orders", Integer, nullable=False),
    Column("model", Text, nullable=False),  # LtvModel.to_dict() as JSON
)
