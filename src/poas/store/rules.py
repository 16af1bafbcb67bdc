"""A shop's cost rules in the store: every load is a new version of the document; the latest is in force."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from sqlalchemy import Connection, func, select

from poas.domain.rules import CostRules, RulesError, load_rules_toml, rules_from_dict
from poas.store.tables.foundation import cost_rules

RulesFormat = Literal["toml", "json"]


@dataclass(frozen=True, slots=True)
class StoredRules:
    shop_id: str
    version: int
    format: RulesFormat
    document: str
    source: str
    loaded_at: datetime

    def parse(self) -> CostRules:
        return _parsed(self.document, self.format)


@lru_cache(maxsize=32)
def _parsed(document: str, fmt: RulesFormat) -> CostRules:
    """Parsed documents by their text: a webhook prices with the rules in force without re-parsing them
    (CostRules is immutable). Keyed by the text itself, so a new version, another shop or another
    database can never be served a stale parse."""
    return parse_rules(document, fmt)


def parse_rules(document: str, fmt: RulesFormat) -> CostRules:
    """Parse a rules document; RulesError names the key (or the JSON position) at fault."""
    if fmt == "toml":
        return load_rules_toml(document)
    try:
        doc = json.loads(document, parse_float=str)
    except json.JSONDecodeError as exc:
        raise RulesError(f"rules JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RulesError("rules JSON: the document must be an object")
    return rules_from_dict(doc)


def save_rules(
    conn: Connection, shop_id: str, document: str, *, fmt: RulesFormat = "toml", source: str, now: datetime
) -> StoredRules:
    """Validate and store the document as the shop's next version (nothing is stored when it is invalid).

    Saving the same text as the version in force stores nothing new and returns that version.
    """
    parse_rules(document, fmt)
    current = latest_rules(conn, shop_id)
    if current is not None and current.document == document and current.format == fmt:
        return current
    version = int(
        conn.execute(
            select(func.coalesce(func.max(cost_rules.c.version), 0)).where(cost_rules.c.shop_id == shop_id)
        ).scalar_one()
    )
    stored = StoredRules(shop_id, version + 1, fmt, document, source, now)
    conn.execute(
        cost_rules.insert(),
        {
            "shop_id": shop_id,
            "version": stored.version,
            "format": fmt,
            "document": document,
            "source": source,
            "loaded_at": now,
        },
    )
    return stored


def latest_rules(conn: Connection, shop_id: str) -> StoredRules | None:
    row = conn.execute(
        select(cost_rules)
        .where(cost_rules.c.shop_id == shop_id)
        .order_by(cost_rules.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    fmt: RulesFormat = "json" if row.format == "json" else "toml"
    return StoredRules(row.shop_id, row.version, fmt, row.document, row.source, row.loaded_at)


def load_rules(conn: Connection, shop_id: str) -> CostRules | None:
    """The shop's rules in force, or None when none were ever loaded."""
    stored = latest_rules(conn, shop_id)
    return None if stored is None else stored.parse()
