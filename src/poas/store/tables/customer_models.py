"""Tables: each shop's fitted customer value model, and what a new customer's Purchase was told.

`customer_models`: one row per shop, replaced by `poas customers fit`; the parameters are those of
`poas.domain.ltv.LtvModel.to_dict()`, with the profit basis and the data they were fitted on.
`order_customer_value`: per new customer's order, the predicted value computed once when its
Purchase was built (the breakdown of the "new-customer value" basis: prediction, share, amount
added), so a re-queued Purchase and its AppendValue corrections carry the same amount.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

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

order_customer_value = Table(
    "order_customer_value",
    metadata,
    Column("shop_id", String(100), primary_key=True),
    Column("order_id", String(100), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("horizon_days", Integer, nullable=False),
    Column("predicted_future_minor", BigInteger, nullable=False),  # her later orders within the horizon
    Column("predicted_ltv_minor", BigInteger),  # first order + future; None = predicted_ltv not sent
    Column("share", String(20), nullable=False),  # new_customer_share in force, as text ("0.3")
    Column("added_minor", BigInteger, nullable=False),  # what net_revenue carried on top of the profit
    Column("model_fitted_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
