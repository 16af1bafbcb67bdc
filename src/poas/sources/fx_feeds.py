"""Exchange-rate feeds: the ECB's euro reference rates (eurofxref XML) and Norges Bank's EXR (SDMX CSV).

Each parser returns the rates it could read and one `FxRowError` per row it could not, so one bad
row never loses the good ones. A payload that is not the feed at all raises `FxFeedError`, naming
the feed and what is wrong.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from poas.domain.fx import ECB_FEED as ECB
from poas.domain.fx import NORGES_BANK_FEED as NORGES_BANK
from poas.domain.fx import FxError, FxRate
from poas.domain.money import CurrencyError
from poas.sources.fx_csv import FxRowError

# The ECB's files, https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/
# (downloads: "XML", "XML (last 90 days only)", time series "XML"); all share one layout:
# gesmes:Envelope > Cube > Cube time='YYYY-MM-DD' > Cube currency='USD' rate='1.0892', 1 EUR = rate.
ECB_DAILY = "eurofxref-daily.xml"
ECB_HIST_90D = "eurofxref-hist-90d.xml"
ECB_HIST = "eurofxref-hist.xml"
_GESMES = "{http://www.gesmes.org/xml/2002-08-01}"
_EUROFXREF = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"

# Norges Bank's EXR dataflow as `format=csv&locale=en` (norges-bank.no/en/Statistics/open-data/): one
# row per observation, `;`-separated, columns FREQ;Frequency;BASE_CUR;Base Currency;QUOTE_CUR;
# Quote Currency;TENOR;Tenor;DECIMALS;CALCULATED;UNIT_MULT;Unit Multiplier;COLLECTION;
# Collection Indicator;TIME_PERIOD;OBS_VALUE. OBS_VALUE × 10^-UNIT_MULT is NOK per 1 BASE_CUR
# (SEK, DKK and JPY are quoted per 100 units, UNIT_MULT 2). Columns are found by name, not position.
NB_COLUMNS = ("BASE_CUR", "QUOTE_CUR", "UNIT_MULT", "TIME_PERIOD", "OBS_VALUE")
_MAX_UNIT_MULT = 6


class FxFeedError(ValueError):
    """The payload is not the feed it should be (not XML, no rates, a missing column...)."""


@dataclass(slots=True)
class FeedRates:
    """What a feed payload held: good rates, bad rows, and rows left out on purpose (synthetic indices)."""

    rates: list[FxRate] = field(default_factory=list)
    errors: list[FxRowError] = field(default_factory=list)
    ignored: int = 0


def parse_ecb_xml(payload: bytes, *, name: str = ECB_DAILY) -> FeedRates:
    """The ECB reference rates in one of its XML files (`name` is used in messages): 1 EUR = rate X."""
    where = f"{ECB} {name}"
    head = payload[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:  # the ECB's files declare none; refuse entity tricks
        raise FxFeedError(f"{where}: a DOCTYPE or ENTITY declaration is not part of the ECB's format")
    try:
        root = ET.fromstring(payload)
    except ET.ParseError as exc:
        raise FxFeedError(f"{where}: not well-formed XML ({exc})") from None
    if root.tag != f"{_GESMES}Envelope":
        raise FxFeedError(f"{where}: the root element is <{_local(root.tag)}>, expected <gesmes:Envelope>")
    outer = root.find(f"{_EUROFXREF}Cube")
    days = outer.findall(f"{_EUROFXREF}Cube") if outer is not None else []
    if not days:
        raise FxFeedError(f"{where}: no <Cube time='…'> element holds any rates")
    out = FeedRates()
    for day_cube in days:
        raw_day = day_cube.get("time", "")
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            count = len(day_cube)
            out.errors.append(
                FxRowError(
                    f"{where} Cube time={raw_day!r}", f"not a YYYY-MM-DD date; its {count} rates skipped"
                )
            )
            continue
        for cube in day_cube.findall(f"{_EUROFXREF}Cube"):
            currency, rate = cube.get("currency", ""), cube.get("rate", "")
            try:
                out.rates.append(FxRate.of("EUR", currency, rate, day, ECB))
            except (FxError, CurrencyError) as exc:
                out.errors.append(FxRowError(f"{where} {day} currency={currency!r}", str(exc)))
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_norges_bank_csv(payload: bytes, *, name: str = "EXR") -> FeedRates:
    """Norges Bank's exchange rates as SDMX CSV (`locale=en` or `no`): 1 BASE_CUR = rate NOK."""
    where = f"{NORGES_BANK} {name}"
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FxFeedError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise FxFeedError(f"{where}: empty answer, expected a CSV header ({';'.join(NB_COLUMNS)}, …)")
    delimiter = ";" if ";" in lines[0] else ","
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().upper() for h in next(rows)]
    missing = [c for c in NB_COLUMNS if c not in header]
    if missing:
        raise FxFeedError(f"{where}: missing column(s) {', '.join(missing)} in the header")
    col = {c: header.index(c) for c in (*NB_COLUMNS, "CALCULATED") if c in header}
    out = FeedRates()
    for n, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            out.errors.append(
                FxRowError(f"{where} line {n}", f"{len(row)} fields, the header has {len(header)}")
            )
            continue
        cell = {c: row[i].strip() for c, i in col.items()}
        if cell.get("CALCULATED", "").lower() == "true":  # synthetic indices (I44, TWI), not currencies
            out.ignored += 1
            continue
        item = _nb_rate(cell)
        if isinstance(item, str):
            out.errors.append(FxRowError(f"{where} line {n} {cell['BASE_CUR'] or '?'}", item))
        else:
            out.rates.append(item)
    return out


def _nb_rate(cell: dict[str, str]) -> FxRate | str:
    """The rate of one CSV row, or what is wrong with it."""
    try:
        day = date.fromisoformat(cell["TIME_PERIOD"])
    except ValueError:
        return f"TIME_PERIOD {cell['TIME_PERIOD']!r} is not a YYYY-MM-DD date"
    try:
        mult = int(cell["UNIT_MULT"])
    except ValueError:
        return f"UNIT_MULT {cell['UNIT_MULT']!r} is not a whole number"
    if not 0 <= mult <= _MAX_UNIT_MULT:
        return f"UNIT_MULT {mult} is outside 0..{_MAX_UNIT_MULT}"
    raw = cell["OBS_VALUE"]
    # locale=no writes a decimal comma; a comma next to a point can only group thousands
    number = raw.replace(",", "") if "." in raw else raw.replace(",", ".")
    try:
        value = Decimal(number)
    except InvalidOperation:
        return f"OBS_VALUE {raw!r} is not a number"
    if not value.is_finite():
        return f"OBS_VALUE {raw!r} is not a number"
    try:
        return FxRate.of(cell["BASE_CUR"], cell["QUOTE_CUR"], value.scaleb(-mult), day, NORGES_BANK)
    except (FxError, CurrencyError) as exc:
        return str(exc)
