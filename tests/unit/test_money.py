"""Money: exponents per currency, half-even rounding at the minor unit, currency checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poas.domain.money import ISO_CURRENCIES, CurrencyError, Money, check_currency, exponent, money_sum

D = Decimal


def test_exponents() -> None:
    assert exponent("NOK") == 2
    assert exponent("JPY") == 0
    assert exponent("KWD") == 3


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("10.005", "NOK", "10.00"),  # half to even: 0 stays
        ("10.015", "NOK", "10.02"),  # half to even: 1 goes up to 2
        ("10.0151", "NOK", "10.02"),
        ("-10.005", "NOK", "-10.00"),
        ("2.5", "JPY", "2"),
        ("3.5", "JPY", "4"),
        ("1.0005", "KWD", "1.000"),
    ],
)
def test_half_even_rounding_at_the_minor_unit(amount: str, currency: str, rounded: str) -> None:
    r = Money.of(amount, currency).rounded()
    assert r.amount == D(rounded)
    assert str(r.amount) == rounded  # the exponent is the currency's


def test_minor_units_round_trip() -> None:
    assert Money.of("1234.565", "NOK").minor_units() == 123456
    assert Money.of("1500", "JPY").minor_units() == 1500
    assert Money.from_minor(123456, "NOK") == Money(D("1234.56"), "NOK")
    assert Money.from_minor(1500, "JPY").amount == D(1500)


def test_mixing_currencies_raises() -> None:
    with pytest.raises(CurrencyError, match="NOK and SEK"):
        _ = Money.of("1", "NOK") + Money.of("1", "SEK")
    with pytest.raises(CurrencyError):
        _ = Money.of("1", "NOK") < Money.of("1", "EUR")
    with pytest.raises(CurrencyError):
        money_sum([Money.of("1", "NOK"), Money.of("1", "USD")], "NOK")


def test_unknown_currency_raises() -> None:
    with pytest.raises(CurrencyError, match="'XYZ'"):
        Money.of("1", "XYZ")
    with pytest.raises(CurrencyError):
        check_currency("")
    assert check_currency(" nok ") == "NOK"


def test_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="float"):
        Money.of(0.1, "NOK")
    with pytest.raises(TypeError):
        _ = Money.of("1", "NOK") * 1.5  # type: ignore[operator]


def test_arithmetic_keeps_full_precision() -> None:
    m = Money.of("10.00", "NOK") * D("0.0175")
    assert m.amount == D("0.175000")
    assert str(m) == "0.18 NOK"
    assert -Money.of("1.5", "NOK") == Money.of("-1.5", "NOK")
    assert money_sum([], "NOK").is_zero()


_codes = sorted(ISO_CURRENCIES)


@given(st.sampled_from(_codes), st.sampled_from(_codes), st.integers(-(10**9), 10**9))
def test_any_two_different_currencies_never_mix(a: str, b: str, minor: int) -> None:
    x, y = Money.from_minor(minor, a), Money.from_minor(minor, b)
    if a == b:
        assert (x + y).amount == 2 * x.amount
    else:
        with pytest.raises(CurrencyError):
            _ = x - y


@given(st.integers(-(10**12), 10**12), st.sampled_from(["NOK", "JPY", "KWD"]))
def test_rounding_is_idempotent_and_close(minor_tenths: int, currency: str) -> None:
    m = Money(D(minor_tenths).scaleb(-exponent(currency) - 1), currency)
    r = m.rounded()
    assert r.rounded() == r
    assert abs(r.amount - m.amount) <= D(1).scaleb(-exponent(currency)) / 2
