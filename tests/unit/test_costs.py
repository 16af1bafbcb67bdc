"""CostBook: the row in force at an order's time, by bisect over effective dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from poas.domain.costs import CostBook, CostBookError, CostRow

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_lookup_picks_the_latest_row_not_after_the_time() -> None:
    book = CostBook(
        [
            CostRow.of("SKU-1", "12.00", "NOK", T0 + timedelta(days=30)),
            CostRow.of("SKU-1", "10.00", "NOK", T0),
            CostRow.of("SKU-1", "15.00", "NOK", T0 + timedelta(days=60)),
        ]
    )
    assert book.lookup("SKU-1", T0 - timedelta(seconds=1)) is None
    row = book.lookup("SKU-1", T0)
    assert row is not None and row.unit_cost == Decimal("10.00")
    row = book.lookup("SKU-1", T0 + timedelta(days=30) - timedelta(microseconds=1))
    assert row is not None and row.unit_cost == Decimal("10.00")
    row = book.lookup("SKU-1", T0 + timedelta(days=30))
    assert row is not None and row.unit_cost == Decimal("12.00")
    row = book.lookup("SKU-1", T0 + timedelta(days=3650))
    assert row is not None and row.unit_cost == Decimal("15.00")
    assert book.lookup("OTHER", T0) is None
    assert book.lookup(None, T0) is None
    assert len(book) == 3 and "SKU-1" in book


def test_rows_have_ids_the_breakdown_can_cite() -> None:
    row = CostRow.of("V1", "5", "NOK", T0, source="shopify")
    assert row.id == "shopify:V1@2025-01-01T00:00:00+00:00"
    assert CostRow.of("V1", "5", "NOK", T0, row_id="csv:costs.csv:17").id == "csv:costs.csv:17"


def test_valid_from_is_normalized_to_utc() -> None:
    oslo = timezone(timedelta(hours=1))
    row = CostRow.of("V1", "5", "NOK", datetime(2025, 1, 1, 0, 30, tzinfo=oslo))
    assert row.valid_from == datetime(2024, 12, 31, 23, 30, tzinfo=UTC)


def test_add_inserts_in_order_and_replaces_the_same_instant() -> None:
    book = CostBook([CostRow.of("A", "1", "NOK", T0)])
    book.add(CostRow.of("A", "3", "NOK", T0 + timedelta(days=2)))
    book.add(CostRow.of("A", "2", "NOK", T0 + timedelta(days=1)))
    book.add(CostRow.of("A", "2.50", "NOK", T0 + timedelta(days=1)))
    assert [r.unit_cost for r in book.history("A")] == [Decimal("1"), Decimal("2.50"), Decimal("3")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "1", "NOK", T0), "key"),
        (("A", "x", "NOK", T0), "A: unit_cost"),
        (("A", "-1", "NOK", T0), "negative"),
        (("A", "1", "NOKK", T0), "unknown currency"),
        (("A", "1", "NOK", datetime(2025, 1, 1)), "no timezone"),
        (("A", 1.5, "NOK", T0), "float"),
    ],
)
def test_bad_rows_are_refused_with_the_key(args: tuple[str, object, str, datetime], message: str) -> None:
    with pytest.raises(CostBookError, match=message):
        CostRow.of(*args)


def test_large_book_lookups_agree_with_a_linear_scan() -> None:
    rows = [
        CostRow.of(f"SKU-{k}", str(k + d), "NOK", T0 + timedelta(days=7 * d))
        for k in range(200)
        for d in range(50)
    ]
    book = CostBook(reversed(rows))
    for k in (0, 57, 199):
        for day in (-1, 0, 6, 7, 100, 349, 400):
            at = T0 + timedelta(days=day)
            expected = max(
                (r for r in rows if r.key == f"SKU-{k}" and r.valid_from <= at),
                key=lambda r: r.valid_from,
                default=None,
            )
            assert book.lookup(f"SKU-{k}", at) == expected
