"""User exchange rates from a CSV file (date, base, quote, rate) into the store (`poas import fx`); they
override the bundled ECB history. Good rows are stored, bad rows reported by row and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from poas.domain.fx import FxRate
from poas.sources.fx_csv import FxRowError, read_fx_csv
from poas.store.costs import save_fx_rates


@dataclass(slots=True)
class FxImport:
    saved: int = 0
    errors: list[FxRowError] = field(default_factory=list)  # each names the file, row and field


def import_fx_file(engine: Engine, path: Path, *, now: datetime) -> FxImport:
    """Store every good rate of `path` (one transaction) and describe every bad row."""
    rates: list[FxRate] = []
    result = FxImport()
    for item in read_fx_csv(path):
        if isinstance(item, FxRowError):
            result.errors.append(item)
        else:
            rates.append(item)
    with engine.begin() as conn:
        result.saved = save_fx_rates(conn, rates, now=now)
    return result
