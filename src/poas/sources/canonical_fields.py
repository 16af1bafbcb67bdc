"""Readers for the canonical shape's field values: a raw value and its field path in, a value out.

Every reader raises `PayloadError` naming the field; the message says what is wrong without
repeating contact data. Shared by the import files (`canonical`) and the JSON API (`canonical_json`)
through `canonical_order`. Limits keep every accepted value storable, so one bad record cannot fail
a batch write: amounts below 10^15, whole numbers up to 10^9.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from poas.domain.money import CurrencyError, check_currency, exponent
from poas.sources.payload import PayloadError

ZERO = Decimal(0)
MAX_AMOUNT = Decimal("1e15")  # exclusive; minor units stay within a 64-bit integer
MAX_COUNT = 10**9  # quantities, grams: within a 32-bit integer column
MAX_RATE_CHARS = 40  # the stored text of a tax rate


def kind(v: Any) -> str:
    """A value's JSON type, for messages ("a number", not "Decimal")."""
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int | float | Decimal):
        return "a number"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def text(v: Any, field: str, *, required: bool = False, max_len: int = 500) -> str | None:
    if type(v) is str:  # the common case first; anything unusual takes the checks below
        s = v.strip()
        if s and len(s) <= max_len:
            return s
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise PayloadError(field, "is required")
        return None
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise PayloadError(field, f"must be a string, not {kind(v)}")
    s = str(v).strip()
    if len(s) > max_len:
        raise PayloadError(field, f"is longer than {max_len} characters")
    return s


def req_text(v: Any, field: str, max_len: int = 100) -> str:
    s = text(v, field, required=True, max_len=max_len)
    assert s is not None
    return s


def decimal(v: Any, field: str, *, required: bool = False, default: Decimal | None = None) -> Decimal | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise PayloadError(field, "is required")
        return default
    if isinstance(v, bool | float):
        raise PayloadError(field, f'{v!r} must be a decimal string such as "499.00"')
    if isinstance(v, Decimal | int):
        d = Decimal(v)
    elif isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise PayloadError(field, f"{v!r} is not a number") from None
    else:
        raise PayloadError(field, f"must be a decimal string, not {kind(v)}")
    if not d.is_finite():
        raise PayloadError(field, f"{v!r} is not a finite number")
    return d


# Amount texts already accepted (non-negative, within the currency's decimals): prices and taxes
# repeat across a file, and Decimals are immutable, so one parse serves every repeat.
_ACCEPTED: dict[tuple[str, str | None], Decimal] = {}
_ACCEPTED_MAX = 100_000


def _remember(v: Any, cur: str | None, d: Decimal) -> Decimal:
    if type(v) is str and d >= 0:
        if len(_ACCEPTED) >= _ACCEPTED_MAX:
            _ACCEPTED.clear()
        _ACCEPTED[(v, cur)] = d
    return d


def money(v: Any, field: str, cur: str | None, *, required: bool = False, signed: bool = False) -> Decimal:
    """An amount (default 0). `cur` None (not known yet) skips the check of its decimals."""
    if type(v) is str:
        hit = _ACCEPTED.get((v, cur))
        if hit is not None:
            return hit
    d = decimal(v, field, required=required, default=ZERO)
    assert d is not None
    return _remember(v, cur, _check_money(d, field, cur, signed))


def opt_money(v: Any, field: str, cur: str | None, *, signed: bool = False) -> Decimal | None:
    if v is None:
        return None
    if type(v) is str:
        hit = _ACCEPTED.get((v, cur))
        if hit is not None:
            return hit
    d = decimal(v, field)
    return None if d is None else _remember(v, cur, _check_money(d, field, cur, signed))


def _check_money(d: Decimal, field: str, cur: str | None, signed: bool) -> Decimal:
    if not signed and d < 0:
        raise PayloadError(field, f"{d} is negative")
    if abs(d) >= MAX_AMOUNT:  # before quantize, which fails on numbers longer than its precision
        raise PayloadError(field, f"{d} is out of range (amounts are below 10^15)")
    if cur is None:
        return d
    e = exponent(cur)
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < -e and d != d.quantize(Decimal(1).scaleb(-e)):
        raise PayloadError(field, f"{d} has more decimals than {cur} allows ({e})")
    return d


def rate(v: Any, field: str) -> Decimal | None:
    if v is None:
        return None
    if type(v) is str:
        hit = _ACCEPTED.get((v, "rate"))
        if hit is not None:
            return hit
    d = decimal(v, field)
    if d is None:
        return None
    if not ZERO <= d < 1:
        raise PayloadError(field, f"{d} must be a fraction in [0, 1) (0.25 for 25 %)")
    if len(str(d)) > MAX_RATE_CHARS:
        raise PayloadError(field, f"has more than {MAX_RATE_CHARS} characters")
    return _remember(v, "rate", d)


def integer(v: Any, field: str, *, default: int | None = None, minimum: int = 0) -> int:
    if type(v) is int and minimum <= v <= MAX_COUNT:
        return v
    if v is None or (isinstance(v, str) and not v.strip()):
        if default is None:
            raise PayloadError(field, "is required")
        return default
    if isinstance(v, bool):
        raise PayloadError(field, f"{v!r} is not a whole number")
    n: int | None = None
    if isinstance(v, int):
        n = v
    elif isinstance(v, str):
        try:
            n = int(v.strip())
        except ValueError:
            n = None
    elif isinstance(v, Decimal) and v.is_finite() and v == v.to_integral_value():
        n = int(v) if abs(v) <= MAX_COUNT else MAX_COUNT + 1  # no giant int from 1E+999999
    if n is None:
        if isinstance(v, str):
            raise PayloadError(field, f"{v!r} is not a whole number")
        if isinstance(v, float | Decimal):
            raise PayloadError(field, f"{v} is not a whole number")
        raise PayloadError(field, f"must be a whole number, not {kind(v)}")
    if n < minimum:
        raise PayloadError(field, f"{n} is below {minimum}" if minimum else f"{n} is negative")
    if n > MAX_COUNT:
        raise PayloadError(field, f"is out of range (at most {MAX_COUNT:,})")
    return n


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def boolean(v: Any, field: str, default: bool | None = None) -> bool | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    if isinstance(v, bool):
        return v
    if isinstance(v, str | int):
        s = str(v).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise PayloadError(field, f"{v!r} is not true/false")
    raise PayloadError(field, f"must be true or false, not {kind(v)}")


def timestamp(v: Any, field: str, *, required: bool = False) -> datetime | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise PayloadError(field, "is required")
        return None
    if not isinstance(v, str):
        raise PayloadError(field, f"must be an ISO 8601 string, not {kind(v)}")
    try:
        dt = datetime.fromisoformat(v.strip())
    except ValueError:
        raise PayloadError(field, f"{v!r} is not an ISO 8601 timestamp") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise PayloadError(field, f"{v!r} has no timezone offset (add Z or +01:00)")
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise PayloadError(field, f"{v!r} is out of range") from None


def currency(v: Any, field: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise PayloadError(field, "is required (an ISO 4217 code such as NOK)")
    try:
        return check_currency(v)
    except CurrencyError as exc:
        raise PayloadError(field, str(exc)) from None


def country(v: Any, field: str) -> str | None:
    s = text(v, field, max_len=2)
    if s is not None and (len(s) != 2 or not s.isalpha()):
        raise PayloadError(field, f"{s!r} is not a two-letter country code")
    return s.upper() if s else None


def obj(v: Any, field: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    """A JSON object holding only `allowed` keys ({} for null); `field` "" is the document itself."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise PayloadError(field or "body", "must be an object")
    if v.keys() <= allowed:
        return v
    unknown = sorted(set(v) - allowed)
    raise PayloadError(f"{field}.{unknown[0]}" if field else unknown[0], "is not a known field")


def items(v: Any, field: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise PayloadError(field, "must be a list")
    return v
