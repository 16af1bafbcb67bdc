"""The overview compares a period with the one of the same length just before it."""

from __future__ import annotations

from datetime import date

from poas.services.report import previous_range


def test_the_previous_period_has_the_same_length_and_ends_the_day_before() -> None:
    assert previous_range(date(2026, 9, 1), date(2026, 9, 30)) == (date(2026, 8, 2), date(2026, 8, 31))
    assert previous_range(date(2026, 3, 1), date(2026, 3, 1)) == (date(2026, 2, 28), date(2026, 2, 28))


def test_the_calendars_first_day_cuts_the_previous_period() -> None:
    assert previous_range(date(1, 1, 5), date(1, 1, 20)) == (date(1, 1, 1), date(1, 1, 4))
    start, end = previous_range(date.min, date.max)  # nothing before: an empty period, no overflow
    assert start > end
