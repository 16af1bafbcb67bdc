"""Readers for the canonical shape's field values: a raw value and its field path in, a value out.

Every reader raises `PayloadError` naming the field; the message says what is wrong without
repeating contact data. Shared by the import files (`canonical`) and the JSON API (`canonical_json`)
through `canonical_order`. Limits keep every accepted value storable, so one bad record cannot fail
a batch write: amounts below 10^15, whole numbers up to 10^9.

Given an `Adjustments`, a reader is lenient where poas 0.1.0's JSON API was (docs/formats.md, "Stored
bodies are re-read leniently"): it keeps or fixes what the strict reader refuses and notes what it did.
Only bodies accepted and stored before are read that way; everything new is read strictly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from poas.domain.money import CurrencyError, check_currency, exponent
from poas.sources.payload import PayloadError, TimeBounds

ZERO = Decimal(0)
MAX_AMOUNT = Decimal("1e15")  # exclusive; minor units stay within a 64-bit integer
MAX_COUNT = 10**9  # quantities, grams: within a 32-bit integer column
MAX_RATE_CHARS = 40  # the stored text of a tax rate
MAX_PATH_CHARS = 120  # a noted field path (an unknown key is the client's text)


class Adjustments:
    """What a lenient read did to accept a stored body: (field path, what was done), never a value.

    Passing one to a reader makes it lenient; without one every reader is strict.
    """

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done: list[tuple[str, str]] = []

    def note(self, field: str, action: str) -> None:
        path = field if len(field) <= MAX_PATH_CHARS else field[: MAX_PATH_CHARS - 1] + "…"
        self.done.append((path, action))

    def __len__(self) -> int:  # also its truth: no adjustment is False
        return len(self.done)

    def lines(self) -> list[str]:
        """Each adjustment as "path: what was done", in reading order."""
        return [f"{path}: {action}" for path, action in self.done]


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


def text(
    v: Any, field: str, *, required: bool = False, max_len: int = 500, lenient: Adjustments | None = None
) -> str | None:
    """A string (an integer is read as its digits). Lenient: a JSON number with a fraction is read as
    its text and a text over `max_len` is cut to it, as 0.1.0 did."""
    if type(v) is str:  # the common case first; anything unusual takes the checks below
        s = v.strip()
        if s and len(s) <= max_len:
            return s
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise PayloadError(field, "is required")
        return None
    if lenient is not None and isinstance(v, float | Decimal):
        s = str(float(v))  # the JSON number's own text, as 0.1.0 read it (the intake decodes floats)
        lenient.note(field, "number read as text")
    elif isinstance(v, bool) or not isinstance(v, str | int):
        raise PayloadError(field, f"must be a string, not {kind(v)}")
    else:
        s = str(v).strip()
    if len(s) > max_len:
        if lenient is None:
            raise PayloadError(field, f"is longer than {max_len} characters")
        lenient.note(field, f"cut to {max_len} characters")
        return s[:max_len].rstrip()
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
# repeat across a file, and Decimals are immutable, so one parse serves every repeat. A blank text is
# never remembered: it is the default of an optional amount, not an amount, and a later read that
# requires one must still refuse it (a process that had read a blank discount took a blank unit_cost
# as 0).
_ACCEPTED: dict[tuple[str, str | None], Decimal] = {}
_ACCEPTED_MAX = 100_000


def _remember(v: Any, cur: str | None, d: Decimal) -> Decimal:
    if type(v) is str and d >= 0 and v.strip():
        if len(_ACCEPTED) >= _ACCEPTED_MAX:
            _ACCEPTED.clear()
        _ACCEPTED[(v, cur)] = d
    return d


def money(
    v: Any,
    field: str,
    cur: str | None,
    *,
    required: bool = False,
    signed: bool = False,
    lenient: Adjustments | None = None,
) -> Decimal:
    """An amount (default 0). `cur` None (not known yet) skips the check of its decimals.

    Lenient: a negative amount and one with more decimals than its currency allows are kept as
    they are, as 0.1.0 did (the store rounds to minor units half-even).
    """
    if type(v) is str:
        hit = _ACCEPTED.get((v, cur))
        if hit is not None:
            return hit
    d = decimal(v, field, required=required, default=ZERO)
    assert d is not None
    if lenient is not None:  # never remembered: a kept value must not pass a later strict read
        return _check_money(d, field, cur, signed, lenient)
    return _remember(v, cur, _check_money(d, field, cur, signed))


def opt_money(
    v: Any, field: str, cur: str | None, *, signed: bool = False, lenient: Adjustments | None = None
) -> Decimal | None:
    if v is None:
        return None
    if type(v) is str:
        hit = _ACCEPTED.get((v, cur))
        if hit is not None:
            return hit
    d = decimal(v, field)
    if d is None:
        return None
    if lenient is not None:
        return _check_money(d, field, cur, signed, lenient)
    return _remember(v, cur, _check_money(d, field, cur, signed))


def _check_money(
    d: Decimal, field: str, cur: str | None, signed: bool, lenient: Adjustments | None = None
) -> Decimal:
    if not signed and d < 0:
        if lenient is None:
            raise PayloadError(field, f"{d} is negative")
        lenient.note(field, "negative amount kept")
    if abs(d) >= MAX_AMOUNT:  # before quantize, which fails on numbers longer than its precision
        raise PayloadError(field, f"{d} is out of range (amounts are below 10^15)")
    if cur is None:
        return d
    e = exponent(cur)
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < -e and d != d.quantize(Decimal(1).scaleb(-e)):
        if lenient is None:
            raise PayloadError(field, f"{d} has more decimals than {cur} allows ({e})")
        lenient.note(field, f"more decimals than {cur} allows kept")
    return d


def rate(v: Any, field: str, *, lenient: Adjustments | None = None) -> Decimal | None:
    """A tax rate, a fraction in [0, 1). Lenient: any finite number is kept, as 0.1.0 did."""
    if v is None:
        return None
    if type(v) is str:
        hit = _ACCEPTED.get((v, "rate"))
        if hit is not None:
            return hit
    d = decimal(v, field)
    if d is None:
        return None
    if lenient is not None:
        if not ZERO <= d < 1:
            lenient.note(field, "rate outside [0, 1) kept")
        if len(str(d)) > MAX_RATE_CHARS:
            lenient.note(field, f"rate over {MAX_RATE_CHARS} characters kept")
        return d
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


def timestamp(
    v: Any, field: str, *, required: bool = False, bounds: TimeBounds | None = None
) -> datetime | None:
    """An ISO 8601 timestamp with an offset, as aware UTC; within `bounds` when given."""
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
        dt = dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise PayloadError(field, f"{v!r} is out of range") from None
    return bounds.check(dt, field) if bounds is not None else dt


def currency(v: Any, field: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise PayloadError(field, "is required (an ISO 4217 code such as NOK)")
    try:
        return check_currency(v)
    except CurrencyError as exc:
        raise PayloadError(field, str(exc)) from None


def country(v: Any, field: str, *, lenient: Adjustments | None = None) -> str | None:
    """A two-letter code, upper-cased. Lenient: cut to two characters and kept, as 0.1.0 did."""
    s = text(v, field, max_len=2, lenient=lenient)
    if s is not None and (len(s) != 2 or not s.isalpha()):
        if lenient is None:
            raise PayloadError(field, f"{s!r} is not a two-letter country code")
        lenient.note(field, "kept though not a two-letter country code")
    return s.upper() if s else None


def obj(
    v: Any, field: str, allowed: frozenset[str], *, lenient: Adjustments | None = None
) -> Mapping[str, Any]:
    """A JSON object holding only `allowed` keys ({} for null); `field` "" is the document itself.

    Lenient: unknown keys are left out (0.1.0 ignored them), each noted.
    """
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise PayloadError(field or "body", "must be an object")
    if v.keys() <= allowed:
        return v
    unknown = sorted(set(v) - allowed)
    if lenient is None:
        name = unknown[0] or '""'  # an empty key is named as such, never as an empty path
        raise PayloadError(f"{field}.{name}" if field else name, "is not a known field")
    for name in unknown:
        lenient.note(f"{field}.{name}" if field else str(name), "ignored (not a known field)")
    return {k: x for k, x in v.items() if k in allowed}


def items(v: Any, field: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise PayloadError(field, "must be a list")
    return v
