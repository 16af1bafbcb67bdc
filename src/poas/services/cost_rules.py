"""A shop's cost rules: the version in force, and loading a new version (validated first; then the
stored orders can be priced again with it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine

from poas.services.ingest import RecomputeOutcome, recompute_profits
from poas.settings import ShopConfig
from poas.store.orders import ensure_shop
from poas.store.rules import RulesFormat, StoredRules, latest_rules, save_rules


@dataclass(frozen=True, slots=True)
class RulesLoaded:
    stored: StoredRules
    recomputed: RecomputeOutcome | None  # None when the orders were not priced again


def rules_in_force(engine: Engine, shop_id: str) -> StoredRules | None:
    """The shop's latest rules version, or None when none was ever loaded."""
    with engine.connect() as conn:
        return latest_rules(conn, shop_id)


def example_rules() -> str:
    """The example rules file shipped in the package (`poas rules --example`): the format, with every
    rule commented out, so that loading it unedited adds no invented cost."""
    return resources.files("poas").joinpath("data", "rules.example.toml").read_text(encoding="utf-8")


def rules_format(path: Path) -> RulesFormat:
    """JSON for a `.json` file, TOML otherwise."""
    return "json" if path.suffix.lower() == ".json" else "toml"


def load_rules(
    engine: Engine,
    shop: ShopConfig,
    document: str,
    *,
    fmt: RulesFormat = "toml",
    source: str,
    now: datetime,
    recompute: bool,
) -> RulesLoaded:
    """Store `document` as the shop's next rules version, in one transaction with (when `recompute`)
    pricing every stored order again. Raises RulesError, storing nothing, when the document is invalid.
    """
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        stored = save_rules(conn, shop.id, document, fmt=fmt, source=source, now=now)
        outcome = None
        if recompute:
            outcome = recompute_profits(conn, shop, now=now, reason=f"cost rules v{stored.version}")
    return RulesLoaded(stored, outcome)
