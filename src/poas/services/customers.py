"""Use-cases on customers: rebuild every shop's customer histories, list customers (docs/metrics.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from poas.settings import ShopConfig
from poas.store.customers import CustomerRow, load_customers, rebuild_customers


def rebuild(engine: Engine, shop: ShopConfig, *, now: datetime) -> int:
    """Place every stored order of the shop in its customer's history again; the customers found.

    Run once after upgrading to 0017, or to repair; ingest keeps them current afterwards.
    """
    with engine.begin() as conn:
        return rebuild_customers(conn, shop.id, now=now)


def customers_of(engine: Engine, shop: ShopConfig) -> list[CustomerRow]:
    with engine.connect() as conn:
        return load_customers(conn, shop.id)
