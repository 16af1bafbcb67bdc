"""The demo's customer line: the campaign whose customers change its POAS most, on the longest horizon
some of its customers have lived; none without cohorts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from poas.cli.demo_run import DemoResult
from poas.cli.demo_story import customer_line
from poas.domain.advice import Advice
from poas.domain.cohorts import Cohort
from poas.services.cohorts import CohortReport

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _cohort(key: str, name: str, customers: int, first: int, spend: int, at30: int, matured: int) -> Cohort:
    return Cohort(
        key,
        name,
        customers=customers,
        first_order_profit_minor=first,
        spend_minor=spend,
        matured={30: matured},
        profit_minor={30: at30},
    )


def _result(cohorts: list[Cohort] | None) -> DemoResult:
    rep = (
        None
        if cohorts is None
        else CohortReport("demo", "NOK", "campaign", "expected", NOW, None, None, cohorts)
    )
    return DemoResult(
        Path("."), date(2026, 10, 3), date(2026, 12, 1), None, Advice(*(Decimal(0),) * 5, ()), {}, None, rep
    )  # type: ignore[arg-type]


def test_names_the_campaign_its_customers_change_most() -> None:
    line = customer_line(
        _result(
            [
                # Video: first orders 4 000 on 8 000 spend (0.50×); 40 matured customers brought 8 000
                # within 30 days, 200 per customer × 80 customers = 16 000 → 2.00×
                _cohort("1", "Merkevare Video", 80, 400_000, 800_000, 800_000, 40),
                # Bestseller: 0.80× → 1.00×
                _cohort("2", "Bestseller", 100, 800_000, 1_000_000, 500_000, 50),
                _cohort("", "(unattributed)", 300, 900_000, 0, 900_000, 150),
            ]
        )
    )
    assert line == (
        "customers, not orders: Merkevare Video looks weak on first orders (POAS 0.50×) but what its 80 new "
        "customers bought within 30 days of their first order makes it POAS 2.00× "
        "(poas report cohorts --by campaign)"
    )


def test_no_line_without_cohorts_or_matured_customers() -> None:
    assert customer_line(_result(None)) is None
    assert customer_line(_result([_cohort("1", "Video", 10, 1000, 5000, 0, 0)])) is None
