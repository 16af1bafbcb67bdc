"""Ad metrics in exact Decimal: ROAS, POAS, margin, break-even and target ROAS."""

from __future__ import annotations

from decimal import Decimal

from poas.domain.money import Money

Amount = Money | Decimal | int


class MetricsError(ValueError):
    """A metric asked of impossible inputs (negative spend, amounts in two currencies)."""


def _pair(numerator: Amount, denominator: Amount, what: str) -> tuple[Decimal, Decimal]:
    n, d = numerator, denominator
    if isinstance(n, Money) and isinstance(d, Money) and n.currency != d.currency:
        raise MetricsError(f"{what}: {n.currency} and {d.currency} amounts; convert first")
    return _dec(numerator, what), _dec(denominator, what)


def _dec(value: Amount, what: str) -> Decimal:
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise MetricsError(f"{what}: {value!r} must be a Decimal, an int or Money")
    return Decimal(value)


def _spend(spend: Decimal, what: str) -> Decimal | None:
    if spend < 0:
        raise MetricsError(f"{what}: ad spend {spend} is negative")
    return None if spend == 0 else spend


def roas(revenue: Amount, spend: Amount) -> Decimal | None:
    """Revenue / ad spend; None when nothing was spent."""
    rev, sp = _pair(revenue, spend, "roas")
    s = _spend(sp, "roas")
    return None if s is None else rev / s


def poas(profit: Amount, spend: Amount) -> Decimal | None:
    """Gross profit / ad spend (break-even at 1); None when nothing was spent."""
    pr, sp = _pair(profit, spend, "poas")
    s = _spend(sp, "poas")
    return None if s is None else pr / s


def margin(profit: Amount, revenue: Amount) -> Decimal | None:
    """Profit / revenue; None when there is no revenue."""
    pr, rev = _pair(profit, revenue, "margin")
    return None if rev == 0 else pr / rev


def break_even_roas(margin_: Decimal) -> Decimal | None:
    """1 / margin: the ROAS at which ad spend eats the whole gross profit. None if margin <= 0."""
    m = _dec(margin_, "break_even_roas")
    return None if m <= 0 else 1 / m


BREAK_EVEN_POAS = Decimal(1)


def target_roas(target_poas: Decimal, margin_: Decimal) -> Decimal | None:
    """The ROAS that delivers `target_poas` at this margin: target POAS / margin. None if margin <= 0."""
    t, m = _dec(target_poas, "target_roas"), _dec(margin_, "target_roas")
    return None if m <= 0 else t / m


def profit_from_margin(revenue: Amount, margin_: Decimal) -> Decimal:
    """Gross profit = revenue × margin."""
    return _dec(revenue, "profit_from_margin") * _dec(margin_, "profit_from_margin")
