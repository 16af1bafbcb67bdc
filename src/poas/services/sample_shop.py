"""The sample shop as files on disk (`poas generate`, the demo): orders, refunds, costs, rules, spend,
signed webhook deliveries and a poas.toml, deterministic for a seed and a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from poas.sources.sample_catalog import FIXED_COSTS
from poas.sources.sample_files import write_shop
from poas.sources.sample_shop import API_VERSION, SHOP_DOMAIN, SHOP_ID, generate

__all__ = ["FIXED_COSTS", "WrittenShop", "write_sample_shop"]  # the demo enters the shop's fixed costs


@dataclass(frozen=True, slots=True)
class WrittenShop:
    folder: Path
    since: date
    until: date
    counts: dict[str, int]  # files' records by kind: orders, refunds, cost_rows, spend_rows, …
    history_since: date | None = None  # the first day of the older history (`history/`), if any
    shop_id: str = SHOP_ID  # the shop's id in its poas.toml
    domain: str = SHOP_DOMAIN  # what its webhooks send as X-Shopify-Shop-Domain
    api_version: str = API_VERSION  # and as X-Shopify-API-Version


def write_sample_shop(
    out: Path, *, seed: int, days: int, orders_per_day: int, today: date, history_days: int = 0
) -> WrittenShop:
    """Generate the shop for the `days` days ending yesterday (relative to `today`), with
    `history_days` of older history before them, and write it to `out` (created if missing)."""
    shop = generate(
        seed=seed, days=days, orders_per_day=orders_per_day, today=today, history_days=history_days
    )
    counts = write_shop(shop, out)
    return WrittenShop(out, shop.since, shop.until, counts, shop.history_since if history_days else None)
