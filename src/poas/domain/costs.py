"""The cost book: effective-dated unit costs per variant id or SKU, looked up at an order's time, and
the product category the shop's catalogue states for a key (the category a line without one has)."""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from poas.domain.money import Money, check_currency, to_decimal

FIRST_SYNC_SUFFIX = "-first-sync"  # source of a first-seen cost, e.g. shopify-first-sync


class CostBookError(ValueError):
    """A cost row that cannot be used (bad amount, naive timestamp, unknown currency)."""


@dataclass(frozen=True, slots=True)
class CostRow:
    """One unit cost, valid from `valid_from` until the next row for the same key."""

    key: str
    unit_cost: Decimal
    currency: str
    valid_from: datetime
    source: str = "manual"
    row_id: str = ""
    seen_at: datetime | None = None  # when the store got the row (its import); None when not known

    @property
    def first_sync_backdated(self) -> bool:
        """A row `poas sync` wrote for a cost it saw for the first time, valid back to the shop's first
        order: orders before `seen_at` are priced with the cost as first seen, not the cost they had."""
        return self.source.endswith(FIRST_SYNC_SUFFIX)

    @property
    def id(self) -> str:
        """The name the profit breakdown cites: the given row id, else source:key@valid_from."""
        return self.row_id or f"{self.source}:{self.key}@{self.valid_from.isoformat()}"

    @property
    def unit_money(self) -> Money:
        return Money(self.unit_cost, self.currency)

    @classmethod
    def of(
        cls,
        key: str,
        unit_cost: object,
        currency: str,
        valid_from: datetime,
        *,
        source: str = "manual",
        row_id: str = "",
    ) -> CostRow:
        """Validate and build a row; errors name the key and the bad field."""
        if not key or not str(key).strip():
            raise CostBookError("cost row: key (variant id or SKU) is empty")
        key = str(key).strip()
        try:
            amount = to_decimal(unit_cost, where=f"cost row {key}: unit_cost")
            cur = check_currency(currency)
        except ValueError as exc:
            raise CostBookError(str(exc)) from None
        if amount < 0:
            raise CostBookError(f"cost row {key}: unit_cost {amount} is negative")
        if valid_from.tzinfo is None or valid_from.utcoffset() is None:
            raise CostBookError(f"cost row {key}: valid_from {valid_from.isoformat()} has no timezone")
        return cls(key, amount, cur, valid_from.astimezone(UTC), source, row_id)


@dataclass(slots=True)
class _Series:
    times: list[datetime] = field(default_factory=list)
    rows: list[CostRow] = field(default_factory=list)


class CostBook:
    """Unit costs by key (variant id or SKU); each key holds rows sorted by `valid_from`.

    A lookup is a dict hit plus a bisect, so a book of millions of rows answers in microseconds.
    A later row with the same key and `valid_from` replaces the earlier one.
    """

    __slots__ = ("_categories", "_series")

    def __init__(self, rows: Iterable[CostRow] = (), categories: Mapping[str, str] | None = None) -> None:
        self._categories: dict[str, str] = dict(categories or {})
        grouped: dict[str, dict[datetime, CostRow]] = {}
        for row in rows:
            grouped.setdefault(row.key, {})[row.valid_from] = row
        self._series: dict[str, _Series] = {}
        for key, by_time in grouped.items():
            times = sorted(by_time)
            self._series[key] = _Series(times, [by_time[t] for t in times])

    def add(self, row: CostRow) -> None:
        series = self._series.setdefault(row.key, _Series())
        i = bisect_right(series.times, row.valid_from)
        if i and series.times[i - 1] == row.valid_from:
            series.rows[i - 1] = row
            return
        insort(series.times, row.valid_from)
        series.rows.insert(i, row)

    def lookup(self, key: str | None, at: datetime) -> CostRow | None:
        """The row valid at `at` (aware): the one with the latest `valid_from <= at`, or None."""
        if key is None:
            return None
        series = self._series.get(key)
        if series is None:
            return None
        i = bisect_right(series.times, at)
        return series.rows[i - 1] if i else None

    def category(self, variant_id: str | None, sku: str | None) -> str | None:
        """The catalogue's category for a line's variant id, else its SKU (None when neither has one)."""
        for key in (variant_id, sku):
            if key and key in self._categories:
                return self._categories[key]
        return None

    def history(self, key: str) -> tuple[CostRow, ...]:
        series = self._series.get(key)
        return tuple(series.rows) if series else ()

    def keys(self) -> frozenset[str]:
        return frozenset(self._series)

    def __len__(self) -> int:
        return sum(len(s.rows) for s in self._series.values())

    def __contains__(self, key: object) -> bool:
        return key in self._series
