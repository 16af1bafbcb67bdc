"""Exchange-rate CSV (`date,base,quote,rate`): user rates that override the bundled ECB history."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from poas.domain.fx import FxError, FxRate
from poas.domain.money import CurrencyError

COLUMNS = ("date", "base", "quote", "rate")


@dataclass(frozen=True, slots=True)
class FxRowError:
    where: str  # file:row
    message: str


def read_fx_csv(path: Path, *, source: str = "user") -> Iterator[FxRate | FxRowError]:
    """Rates row by row; a bad row yields an error naming the file, row and field, not the end."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            yield FxRowError(
                f"{path}:1", f"missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
            )
            return
        for n, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            where = f"{path}:{n}"
            try:
                day = date.fromisoformat(row["date"])
            except ValueError:
                yield FxRowError(where, f"date: {row['date']!r} is not YYYY-MM-DD")
                continue
            try:
                yield FxRate.of(row["base"], row["quote"], row["rate"], day, source)
            except (FxError, CurrencyError) as exc:
                yield FxRowError(where, str(exc))
