"""ROAS / POAS metrics in exact Decimal, on the seed story's numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poas.domain import metrics
from poas.domain.metrics import MetricsError
from poas.domain.money import Money

D = Decimal


def test_seed_story() -> None:
    # product A: 1 000 spend, 5 000 revenue, 20 % margin → 1 000 profit; ROAS 5, POAS 1
    assert metrics.roas(D(5000), D(1000)) == D(5)
    assert metrics.poas(metrics.profit_from_margin(D(5000), D("0.20")), D(1000)) == D(1)
    # product B: 3 500 revenue, 60 % margin → 2 100 profit; ROAS 3.5, POAS 2.1
    assert metrics.roas(D(3500), D(1000)) == D("3.5")
    assert metrics.poas(D(2100), D(1000)) == D("2.1")
    assert metrics.margin(D(2100), D(3500)) == D("0.6")


def test_break_even_and_target() -> None:
    assert metrics.break_even_roas(D("0.20")) == D(5)
    assert metrics.break_even_roas(D("0.25")) == D(4)
    assert metrics.target_roas(D("1.5"), D("0.25")) == D(6)
    assert metrics.break_even_roas(D(0)) is None
    assert metrics.break_even_roas(D("-0.1")) is None
    assert metrics.target_roas(D(2), D(0)) is None
    assert metrics.BREAK_EVEN_POAS == 1


def test_zero_spend_and_zero_revenue_are_none() -> None:
    assert metrics.roas(D(100), D(0)) is None
    assert metrics.poas(D(100), 0) is None
    assert metrics.margin(D(100), D(0)) is None


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(MetricsError, match="negative"):
        metrics.roas(D(100), D(-1))
    with pytest.raises(MetricsError, match="NOK and USD"):
        metrics.roas(Money.of("100", "NOK"), Money.of("10", "USD"))
    with pytest.raises(MetricsError, match="must be a Decimal"):
        metrics.roas(1.5, D(1))  # type: ignore[arg-type]


def test_money_inputs() -> None:
    assert metrics.poas(Money.of("300", "NOK"), Money.of("200", "NOK")) == D("1.5")


@given(
    st.decimals(min_value=D("0.01"), max_value=D("1e9"), places=2),
    st.decimals(min_value=D("0.01"), max_value=D("1e9"), places=2),
    st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2),
)
def test_poas_is_roas_times_margin(revenue: Decimal, spend: Decimal, m: Decimal) -> None:
    r = metrics.roas(revenue, spend)
    p = metrics.poas(metrics.profit_from_margin(revenue, m), spend)
    assert r is not None and p is not None
    assert abs(p - r * m) <= abs(p) * D("1e-25")
    # at the break-even ROAS, POAS is 1
    be = metrics.break_even_roas(m)
    assert be is not None and abs(be * m - 1) <= D("1e-25")
