"""Numbers, money, ratios and times as the request's locale writes them (Babel), in the shop's time zone.

nb: `126 835,73 kr`, `2,27×`, `12,5 %`; en: `NOK 126,835.73`, `2.27×`, `12.5%`. Times are the shop's
local wall clock, `2026-09-05 00:30` (the zone is named once per page, not in every cell).
`plain` stays machine-readable (data attributes, chart JSON).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from poas.web.i18n import current

MISSING = "–"
_NUMBER_PART = re.compile(r"[#,0]*0(\.0+)?")


def _places_pattern(pattern: str, places: int) -> str:
    """The locale's pattern with exactly `places` fraction digits (`#,##0.00 ¤` → `#,##0 ¤`)."""
    return _NUMBER_PART.sub("#,##0" + ("." + "0" * places if places else ""), pattern, count=1)


@cache
def _locale_pattern(locale: str, kind: str, places: int) -> str:
    """The locale's currency or percent pattern with `places` decimals (looked up once per table)."""
    loc = Locale.parse(locale)
    pattern = loc.currency_formats["standard"] if kind == "currency" else loc.percent_formats[None]
    return _places_pattern(pattern.pattern, places)


def _space_after_code(text: str) -> str:
    """CLDR currency spacing Babel leaves out: `NOK126.00` → `NOK 126.00` (as Intl.NumberFormat writes)."""
    return re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", "\u00a0", text)


def fmt_money(value: Decimal | None, places: int | None = None, currency: str | None = None) -> str:
    """`126 835,73 kr` / `NOK 126,835.73`: the shop's currency with its digits unless `places` is given."""
    if value is None:
        return MISSING
    here = current()
    code = currency or here.currency
    if places is None:
        text = format_currency(value, code, locale=here.babel_locale)
    else:
        text = format_currency(
            value.quantize(Decimal(1).scaleb(-places)),
            code,
            format=_locale_pattern(here.babel_locale, "currency", places),
            locale=here.babel_locale,
            currency_digits=False,
        )
    return _space_after_code(text)


def fmt_amount(value: Decimal | None, places: int = 2) -> str:
    """A number without currency, grouped and with `places` decimals: `126 835,73` / `126,835.73`."""
    if value is None:
        return MISSING
    q = value.quantize(Decimal(1).scaleb(-places))
    return format_decimal(q, format=_places_pattern("#,##0", places), locale=current().babel_locale)


def fmt_ratio(value: Decimal | None) -> str:
    """`2,27×` / `2.27×`."""
    return MISSING if value is None else fmt_amount(value, 2) + "×"


def fmt_pct(value: Decimal | None, places: int = 1) -> str:
    """A share as a percentage with `places` decimals: `12,5 %` / `12.5%`."""
    if value is None:
        return MISSING
    loc = current().babel_locale
    q = value.quantize(Decimal(1).scaleb(-(places + 2)))
    return format_percent(q, format=_locale_pattern(loc, "percent", places), locale=loc)


def plain(value: Decimal | None, places: int = 2) -> str:
    """A machine-readable number for data attributes and chart JSON (no grouping, `.` decimals)."""
    return "" if value is None else str(value.quantize(Decimal(1).scaleb(-places)))


def fmt_count(value: int | None) -> str:
    """A whole count, grouped: `12 345` / `12,345`."""
    return MISSING if value is None else format_decimal(value, locale=current().babel_locale)


def fmt_age(seconds: int | None) -> str:
    """`45 s`, `12 min`, `3,5 h`, `2,0 d`; `–` when nothing waits."""
    if seconds is None:
        return MISSING
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{fmt_amount(Decimal(seconds) / 3600, 1)} h"
    return f"{fmt_amount(Decimal(seconds) / 86400, 1)} d"


def local_time(value: datetime) -> datetime:
    """An aware time on the shop's wall clock (a naive one is taken as UTC, as the store keeps it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(current().tz)


def fmt_when(value: datetime | date | None) -> str:
    """`2026-09-05 00:30` in the shop's time zone (a date stays a date)."""
    if value is None:
        return MISSING
    if not isinstance(value, datetime):
        return value.isoformat()
    return local_time(value).strftime("%Y-%m-%d %H:%M")


def fmt_day(value: datetime | date | None) -> str:
    """The shop-local calendar day, `2026-09-05`: a cost valid from Oslo midnight shows the day entered."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        value = local_time(value).date()
    return value.isoformat()


def fmt_date(value: datetime | date | None) -> str:
    """A day in words for headings: `5. sep. 2026` / `Sep 5, 2026`."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        value = local_time(value).date()
    return format_date(value, format="medium", locale=current().babel_locale)


def _places(text: str) -> int:
    """The fraction digits a plain number was written with (`2.45` → 2, `3` → 0)."""
    exponent = Decimal(text).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def fmt_exact(value: object) -> str:
    """A plain number with all the digits it was written with, in the request's language
    (an exchange rate `11.5342` → `11,5342` / `11.5342`); text that is no number stays as it is."""
    if value is None:
        return MISSING
    text = str(value)
    try:
        number = Decimal(text)
    except ArithmeticError:
        return text
    return fmt_amount(number, _places(text)) if number.is_finite() else text


def fmt_share(value: Decimal | None) -> str:
    """A share as a percentage with the digits it holds, no rounding: `0.4` → `40 %`, `0.375` → `37,5 %`."""
    if value is None:
        return MISSING
    return fmt_pct(value, max(0, _places(str(value.normalize())) - 2))


def word_args(args: dict[str, str], kinds: dict[str, str], currency: str | None = None) -> dict[str, str]:
    """A sentence's number args in the request's language (`kinds`: money, money:XXX, count, percent),
    from their exact plain values; other args as they are. `currency` is the page's money currency."""
    out = dict(args)
    for key, kind in kinds.items():
        text = args.get(key)
        if text is None:
            continue
        try:
            value = Decimal(text)
        except ArithmeticError:
            continue  # not a number after all: shown as written
        if kind == "count":
            out[key] = (
                fmt_count(int(value))
                if value == value.to_integral_value()
                else fmt_amount(value, _places(text))
            )
        elif kind == "percent":
            out[key] = fmt_pct(value / 100, _places(text))
        elif kind == "money":
            out[key] = fmt_money(value, currency=currency)
        elif kind.startswith("money:"):
            out[key] = fmt_money(value, currency=kind[6:])
    return out


FILTERS = {
    "money": fmt_money,
    "amount": fmt_amount,
    "ratio": fmt_ratio,
    "pct": fmt_pct,
    "plain": plain,
    "num2": lambda v: fmt_amount(v, 2),
    "count": fmt_count,
    "age": fmt_age,
    "when": fmt_when,
    "day": fmt_day,
    "date": fmt_date,
    "exact": fmt_exact,
    "share": fmt_share,
    "word_args": word_args,
}
