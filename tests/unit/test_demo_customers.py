"""The demo's customer line: the campaign whose customers change its POAS most, at 90 days after the
first order (a shorter horizon only when too few customers have lived 90 days); none without cohorts."""

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


def _cohort(
    key: str,
    name: str,
    customers: int,
    first: int,
    spend: int,
    at30: int,
    matured: int,
    at90: tuple[int, int] | None = None,  # (profit within 90 days, customers who lived 90 days)
) -> Cohort:
    c = Cohort(
        key,
        name,
        customers=customers,
        first_order_profit_minor=first,
        spend_minor=spend,
        matured={30: matured},
        profit_minor={30: at30},
    )
    if at90 is not None:
        c.profit_minor[90], c.matured[90] = at90
    return c


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
        "customers, not orders: Merkevare Video looks weak on first-order POAS (0.50×) and is strong on its "
        "customers: 200.00 NOK profit per customer within 30 days of the first order (the 40 of its 80 new "
        "customers who have lived 30 days) against a CAC of 100.00 NOK makes it POAS 2.00× "
        "(poas report cohorts --by campaign)"
    )


def test_tells_90_days_when_enough_customers_have_lived_them() -> None:
    """At 30 days Bestseller gains most; the line still tells 90 days, where Video gains most."""
    line = customer_line(
        _result(
            [
                # Video: 0.50× on first orders; 25 customers lived 90 days and brought 7 500 → 300 per
                # customer against a CAC of 100 → 3.00×
                _cohort("1", "Merkevare Video", 80, 400_000, 800_000, 400_000, 40, (750_000, 25)),
                # Bestseller: 0.80× → 3.00× at 30 days, 0.90× at 90 days (the reverse story is weaker)
                _cohort("2", "Bestseller", 100, 800_000, 1_000_000, 1_500_000, 50, (270_000, 30)),
            ]
        )
    )
    assert line is not None and "within 90 days of the first order" in line
    assert line.startswith("customers, not orders: Merkevare Video looks weak on first-order POAS (0.50×)")
    assert "300.00 NOK profit per customer" in line and "the 25 of its 80 new customers" in line
    assert line.endswith("makes it POAS 3.00× (poas report cohorts --by campaign)")


def test_the_reverse_story_when_first_orders_are_strong_and_customers_do_not_return() -> None:
    line = customer_line(
        _result([_cohort("2", "Retargeting", 100, 1_500_000, 1_000_000, 0, 0, (900_000, 30))])
    )
    # first orders 1.50×; 300 per customer at 90 days against a CAC of 100 → 3.00×: no reverse here
    assert line is not None and "is POAS 1.50× on first orders" in line
    weak = customer_line(
        _result([_cohort("2", "Retargeting", 100, 1_500_000, 1_000_000, 0, 0, (150_000, 30))])
    )
    # 50 per customer at 90 days against a CAC of 100 → 0.50×, below its first orders' 1.50×
    assert weak == (
        "customers, not orders: Retargeting looks strong on first-order POAS (1.50×) and its customers "
        "rarely come back: 50.00 NOK profit per customer within 90 days of the first order (the 30 of its "
        "100 new customers who have lived 90 days) against a CAC of 100.00 NOK makes it POAS 0.50× "
        "(poas report cohorts --by campaign)"
    )


def test_no_line_without_cohorts_or_matured_customers() -> None:
    assert customer_line(_result(None)) is None
    assert customer_line(_result([_cohort("1", "Video", 10, 1000, 5000, 0, 0)])) is None
