"""Google Ads UI report exports ("Campaign report", "Ad group report"; English or Norwegian) → `SpendRow`s.

The Ads UI writes a title line and a date-range line before the header, then one row per day and
campaign (or ad group), then totals rows ("Total: Account", "Totalt: Konto" …), with the number
format of the UI's language: `1,234.56` in English, `1 234,56` in Norwegian; a blank cost is `--`.
Tab- (UTF-16, "Excel CSV"), comma- and semicolon-separated files are read. Errors name the file,
the line in it and the column, as the Ads Manager reader does.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from poas.domain.money import CurrencyError, check_currency
from poas.domain.report_rows import SpendRow
from poas.sources.ads_manager_csv import SpendFileError, parse_amount

HEADER_SEARCH_LINES = 10

# Canonical field -> header labels (English, Norwegian), compared casefolded without punctuation.
_ALIASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "day": (("Day", "Date"), ("Dag", "Dato")),
    "campaign": (("Campaign",), ("Kampanje",)),
    "campaign_id": (("Campaign ID",), ("Kampanje-ID",)),
    "ad_group": (("Ad group",), ("Annonsegruppe",)),
    "ad_group_id": (("Ad group ID",), ("Annonsegruppe-ID",)),
    "cost": (("Cost",), ("Kostnad",)),
    "currency": (("Currency code", "Currency"), ("Valutakode", "Valuta")),
}


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-zæøå]", "", text.casefold())


_LOOKUP: dict[str, tuple[str, bool]] = {}
for _field, (_en, _no) in _ALIASES.items():
    for _label in _en:
        _LOOKUP[_norm(_label)] = (_field, False)
    for _label in _no:
        _LOOKUP[_norm(_label)] = (_field, True)

_TOTAL = re.compile(r"^\s*(total|totalt|totals|sum)\b", re.I)
_NO_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "mai": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "okt": 10, "nov": 11, "des": 12,
}  # fmt: skip
_NO_DAY = re.compile(r"^(\d{1,2})\.\s*([a-zæøå]{3})[a-zæøå]*\.?\s+(\d{4})$", re.I)


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    header: str


def _header(cells: list[str]) -> tuple[dict[str, _Column], bool] | None:
    cols: dict[str, _Column] = {}
    norwegian = False
    for i, raw in enumerate(cells):
        header = raw.strip().lstrip("\ufeff")
        hit = _LOOKUP.get(_norm(header))
        if hit and hit[0] not in cols:
            cols[hit[0]] = _Column(i, header)
            norwegian = norwegian or hit[1]
    if "cost" in cols and "day" in cols and ("campaign" in cols or "campaign_id" in cols):
        return cols, norwegian
    return None


def _parse_day(text: str, where: str) -> date:
    s = text.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%b %d, %Y", "%a, %b %d, %Y", "%B %d, %Y"):
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    m = _NO_DAY.match(s)
    if m and m.group(2).casefold() in _NO_MONTHS:
        try:
            return date(int(m.group(3)), _NO_MONTHS[m.group(2).casefold()], int(m.group(1)))
        except ValueError:
            pass
    raise SpendFileError(f"{where}: {text!r} is not a date (expected YYYY-MM-DD or DD.MM.YYYY)")


def _locate(text: str, name: str) -> tuple[int, str, dict[str, _Column], bool]:
    """The header's line index, the delimiter, its columns and whether the labels are Norwegian."""
    lines = text.splitlines()
    for i, line in enumerate(lines[:HEADER_SEARCH_LINES]):
        for delimiter in ("\t", ";", ","):
            if delimiter not in line:
                continue
            found = _header(next(csv.reader([line], delimiter=delimiter)))
            if found:
                return i, delimiter, found[0], found[1]
    raise SpendFileError(
        f"{name}: no header with a day, a campaign and a cost column in its first "
        f"{HEADER_SEARCH_LINES} lines "
        "(expected 'Day, Campaign, Ad group, Cost, Currency code' or 'Dag, Kampanje, Annonsegruppe, "
        "Kostnad, Valutakode'; download the report with the Day segment)"
    )


def parse_google_ads_csv(
    text: str, *, name: str = "google-ads.csv", account: str, default_currency: str | None = None
) -> list[SpendRow]:
    """One row per day and campaign or ad group; totals rows and blank lines are skipped."""
    text = text.lstrip("\ufeff")
    start, delimiter, cols, norwegian = _locate(text, name)
    decimal_comma = norwegian or delimiter == ";"
    body = "\n".join(text.splitlines()[start + 1 :])
    reader = csv.reader(io.StringIO(body), delimiter=delimiter)
    rows: list[SpendRow] = []
    for record in reader:
        line_no = start + 1 + reader.line_num
        if not any(cell.strip() for cell in record) or any(_TOTAL.match(c) for c in record if c.strip()):
            continue
        rows.append(_row(record, cols, name, line_no, decimal_comma, account, default_currency))
    return rows


def _row(
    record: list[str],
    cols: dict[str, _Column],
    name: str,
    line_no: int,
    decimal_comma: bool,
    account: str,
    default_currency: str | None,
) -> SpendRow:
    def cell(field: str) -> str:
        col = cols.get(field)
        value = record[col.index].strip() if col is not None and col.index < len(record) else ""
        return "" if value in ("--", " --") else value

    def where(field: str) -> str:
        return f"{name} line {line_no}, column {cols[field].header!r}"

    if not cell("day"):
        raise SpendFileError(f"{where('day')}: no date")
    day = _parse_day(cell("day"), where("day"))
    campaign, campaign_id = cell("campaign"), cell("campaign_id")
    if not campaign and not campaign_id:
        raise SpendFileError(f"{name} line {line_no}: no campaign")
    spend = parse_amount(cell("cost"), decimal_comma=decimal_comma, where=where("cost"))
    if spend < 0:
        raise SpendFileError(f"{where('cost')}: cost cannot be negative")
    currency = cell("currency").upper() or default_currency
    if not currency:
        raise SpendFileError(f"{name} line {line_no}: no 'Currency code' column and no shop currency")
    try:
        code = check_currency(currency)
    except CurrencyError as exc:
        raise SpendFileError(f"{name} line {line_no}: {exc}") from None
    return SpendRow(
        account_id=account,
        day=day,
        currency=code,
        spend=spend,
        campaign_id=campaign_id or None,
        campaign_name=campaign or None,
        adset_id=cell("ad_group_id") or None,
        adset_name=cell("ad_group") or None,
        channel="google",
    )


def read_google_ads_csv(path: Path, *, account: str, default_currency: str | None = None) -> list[SpendRow]:
    """Read an export (UTF-16 as the Ads UI's "Excel CSV", UTF-8 with or without BOM) and parse it."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
    return parse_google_ads_csv(text, name=path.name, account=account, default_currency=default_currency)
