"""Store the fitted return-rate model per shop and load it back for the profit calculator."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, delete, insert, select

from poas.domain.returns import RateEstimate, ReturnRateModel
from poas.store.tables.returns import return_rates


def save_model(conn: Connection, shop_id: str, model: ReturnRateModel, *, now: datetime) -> int:
    """Replace the shop's rates with `model` (one transaction: readers see old or new, never half)."""
    rows = [_row(shop_id, "shop", "", model.shop, now)]
    rows += [_row(shop_id, "category", k, v, now) for k, v in model.categories.items()]
    rows += [_row(shop_id, "sku", k, v, now) for k, v in model.skus.items()]
    conn.execute(delete(return_rates).where(return_rates.c.shop_id == shop_id))
    conn.execute(insert(return_rates), rows)
    return len(rows)


def _row(shop_id: str, level: str, key: str, est: RateEstimate, now: datetime) -> dict[str, object]:
    return {
        "shop_id": shop_id,
        "level": level,
        "key": key,
        "rate": str(est.rate),
        "source": est.source,
        "sold": est.sold,
        "returned": est.returned,
        "fitted_at": now,
    }


def load_model(conn: Connection, shop_id: str) -> ReturnRateModel | None:
    """The shop's fitted model, or None when `poas returns fit` has not run yet."""
    rows = conn.execute(select(return_rates).where(return_rates.c.shop_id == shop_id)).all()
    if not rows:
        return None
    shop: RateEstimate | None = None
    categories: dict[str, RateEstimate] = {}
    skus: dict[str, RateEstimate] = {}
    for r in rows:
        est = RateEstimate(Decimal(r.rate), r.source, r.sold, r.returned)
        if r.level == "shop":
            shop = est
        elif r.level == "category":
            categories[r.key] = est
        else:
            skus[r.key] = est
    if shop is None:
        return None
    return ReturnRateModel(shop=shop, categories=categories, skus=skus)


def fitted_at(conn: Connection, shop_id: str) -> datetime | None:
    return conn.execute(
        select(return_rates.c.fitted_at).where(return_rates.c.shop_id == shop_id).limit(1)
    ).scalar_one_or_none()
