"""Money: a Decimal amount in one ISO 4217 currency, rounded half-even at the currency's minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Minor-unit exponents that differ from 2 (ISO 4217).
_EXPONENT_0 = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
_EXPONENT_3 = frozenset("BHD IQD JOD KWD LYD OMR TND".split())  # noqa: SIM905
_EXPONENT_4 = frozenset("CLF UYW".split())  # noqa: SIM905

# Active ISO 4217 codes (funds and precious metals left out on purpose).
ISO_CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN
    NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
    SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU UYW UZS VED VES
    VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()  # noqa: SIM905
)


class CurrencyError(ValueError):
    """An unknown currency code, or arithmetic that mixes two currencies."""


def check_currency(code: str) -> str:
    """Return the upper-case ISO code, or raise CurrencyError naming the bad value."""
    norm = code.strip().upper() if isinstance(code, str) else ""
    if norm not in ISO_CURRENCIES:
        raise CurrencyError(f"unknown currency {code!r} (expected an ISO 4217 code such as NOK)")
    return norm


def exponent(currency: str) -> int:
    """Number of minor-unit digits: NOK 2, JPY 0, KWD 3."""
    if currency in _EXPONENT_0:
        return 0
    if currency in _EXPONENT_3:
        return 3
    if currency in _EXPONENT_4:
        return 4
    return 2


_QUANTA = {e: Decimal(1).scaleb(-e) for e in range(5)}


def to_decimal(value: object, *, where: str = "amount") -> Decimal:
    """Parse a money-like value (str, int, Decimal) into Decimal; floats are refused."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool | float):
        raise ValueError(f"{where}: {value!r} must be a decimal string or integer, not a float")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{where}: {value!r} is not a number") from None
    else:
        raise ValueError(f"{where}: {value!r} is not a number")
    if not result.is_finite():
        raise ValueError(f"{where}: {value!r} is not a finite number")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency. Arithmetic keeps full precision; `rounded()` quantizes half-even."""

    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        return cls(to_decimal(amount), check_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(Decimal(minor).scaleb(-exponent(currency)), currency)

    def minor_units(self) -> int:
        """Integer minor units after half-even rounding (how the store keeps money)."""
        return int(self.rounded().amount.scaleb(exponent(self.currency)))

    def rounded(self) -> Money:
        q = _QUANTA[exponent(self.currency)]
        return Money(self.amount.quantize(q, rounding=ROUND_HALF_EVEN), self.currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot mix {self.currency} and {other.currency} without an exchange rate")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, Money | float):
            raise TypeError("Money can only be multiplied by a Decimal or an int")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.rounded().amount} {self.currency}"


def money_sum(items: list[Money] | tuple[Money, ...], currency: str) -> Money:
    """Sum in one currency; an empty sum is zero in `currency`."""
    total = Money.zero(currency)
    for m in items:
        total = total + m
    return total
