"""Ads Manager CSV exports (English and Norwegian headers) parsed into daily `SpendRow`s."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from poas.domain.money import CurrencyError, check_currency
from poas.domain.report_rows import ZERO, SpendRow


class SpendFileError(ValueError):
    """A spend export that cannot be read; the message names the file, row and column."""


def _norm(header: str) -> str:
    return re.sub(r"[^0-9a-zæøå]", "", header.casefold())


# Canonical field -> header labels (English, Norwegian). Compared after `_norm`.
_ALIASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "day": (("Day",), ("Dag",)),
    "starts": (("Reporting starts",), ("Rapportering starter", "Rapporteringsstart")),
    "ends": (("Reporting ends",), ("Rapportering slutter", "Rapporteringsslutt")),
    "account_id": (("Account ID",), ("Konto-ID", "Kontoens ID")),
    "campaign_id": (("Campaign ID",), ("Kampanje-ID",)),
    "campaign_name": (("Campaign name",), ("Kampanjenavn", "Navn på kampanje")),
    "adset_id": (("Ad set ID",), ("Annonsesett-ID",)),
    "adset_name": (("Ad set name",), ("Annonsesettnavn", "Navn på annonsesett")),
    "ad_id": (("Ad ID",), ("Annonse-ID",)),
    "ad_name": (("Ad name",), ("Annonsenavn", "Navn på annonse")),
    "currency": (("Currency",), ("Valuta",)),
    "spend": (("Amount spent",), ("Beløp brukt",)),
    "impressions": (("Impressions",), ("Eksponeringer", "Visninger")),
    "clicks": (("Link clicks", "Clicks (all)"), ("Klikk på lenke", "Lenkeklikk", "Klikk (alle)")),
    "purchases": (("Purchases", "Website purchases"), ("Kjøp", "Kjøp på nettsted")),
    "purchase_value": (
        ("Purchases conversion value", "Website purchases conversion value"),
        ("Konverteringsverdi for kjøp", "Konverteringsverdi for kjøp på nettsted"),
    ),
}
_LOOKUP: dict[str, tuple[str, bool]] = {}
for _field, (_en, _no) in _ALIASES.items():
    for _label in _en:
        _LOOKUP.setdefault(_norm(_label), (_field, False))
    for _label in _no:
        _LOOKUP.setdefault(_norm(_label), (_field, True))

_CURRENCY_IN_HEADER = re.compile(r"^(?P<label>.*?)\s*\((?P<code>[A-Za-z]{3})\)\s*$")
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    header: str
    field: str
    norwegian: bool
    currency: str | None


def _columns(headers: list[str], where: str) -> dict[str, _Column]:
    found: dict[str, _Column] = {}
    for i, raw in enumerate(headers):
        header = raw.strip().lstrip("\ufeff")
        currency = None
        match = _CURRENCY_IN_HEADER.match(header)
        key = _norm(header)
        if key not in _LOOKUP and match:
            key = _norm(match.group("label"))
            currency = match.group("code").upper()
        if key not in _LOOKUP:
            continue  # columns we do not use (reach, CPM, results, …)
        field, norwegian = _LOOKUP[key]
        if field not in found:
            found[field] = _Column(i, header, field, norwegian, currency)
    if "spend" not in found:
        raise SpendFileError(
            f"{where}: no spend column (expected 'Amount spent (XXX)' or 'Beløp brukt (XXX)'); "
            f"headers are {', '.join(h.strip() for h in headers)}"
        )
    if "day" not in found and "starts" not in found:
        raise SpendFileError(f"{where}: no date column (expected 'Day'/'Dag' or 'Reporting starts')")
    return found


def parse_amount(text: str, *, decimal_comma: bool, where: str) -> Decimal:
    """Parse '1,234.56', '1 234,56', '1.234,56' or '-12'. Blank means zero (no delivery)."""
    s = _SPACES.sub("", text.strip())
    if s in ("", "-", "—"):
        return ZERO
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
    else:
        dec = "," if decimal_comma else "."
    thousands = "." if dec == "," else ","
    s = s.replace(thousands, "").replace(dec, ".")
    if not _NUMBER.match(s):
        raise SpendFileError(f"{where}: {text!r} is not a number")
    try:
        return Decimal(s)
    except InvalidOperation:
        raise SpendFileError(f"{where}: {text!r} is not a number") from None


def _parse_day(text: str, where: str) -> date:
    s = text.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d.%m.%y"):
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise SpendFileError(f"{where}: {text!r} is not a date (expected YYYY-MM-DD or DD.MM.YYYY)")


def _sniff_delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def parse_ads_manager_csv(
    text: str,
    *,
    name: str = "spend.csv",
    default_account: str | None = None,
    default_currency: str | None = None,
    decimal_comma: bool | None = None,
) -> list[SpendRow]:
    """Parse an Ads Manager export with a daily breakdown into one row per ad and day.

    Rows without any campaign/ad set/ad name or id (the export's total row) are skipped. Decimal
    commas are assumed for `;`-separated files and Norwegian headers unless `decimal_comma` says.
    """
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(first))
    try:
        headers = next(reader)
    except StopIteration:
        raise SpendFileError(f"{name}: the file is empty") from None
    cols = _columns(headers, name)
    if decimal_comma is None:
        decimal_comma = _sniff_delimiter(first) == ";" or any(c.norwegian for c in cols.values())
    header_currency = cols["spend"].currency
    rows: list[SpendRow] = []
    for line_no, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        row = _parse_row(record, cols, line_no, name, decimal_comma, header_currency)
        if row is None:
            continue
        rows.append(_finish(row, name, line_no, default_account, default_currency))
    return rows


def _cell(record: list[str], cols: dict[str, _Column], field: str) -> str:
    col = cols.get(field)
    if col is None or col.index >= len(record):
        return ""
    return record[col.index].strip()


def _parse_row(
    record: list[str],
    cols: dict[str, _Column],
    line_no: int,
    name: str,
    decimal_comma: bool,
    header_currency: str | None,
) -> dict[str, object] | None:
    def where(field: str) -> str:
        return f"{name} row {line_no}, column {cols[field].header!r}"

    ident = {f: _cell(record, cols, f) or None for f in _ID_FIELDS}
    if not any(ident.values()):
        return None
    if "day" in cols and _cell(record, cols, "day"):
        day = _parse_day(_cell(record, cols, "day"), where("day"))
    else:
        if not _cell(record, cols, "starts"):
            raise SpendFileError(f"{name} row {line_no}: no date")
        day = _parse_day(_cell(record, cols, "starts"), where("starts"))
        if "ends" in cols and _cell(record, cols, "ends"):
            end = _parse_day(_cell(record, cols, "ends"), where("ends"))
            if end != day:
                raise SpendFileError(
                    f"{name} row {line_no}: the row covers {day}..{end}, not one day; "
                    "export with a daily breakdown (Breakdown → By time → Day)"
                )
    currency_cell = _cell(record, cols, "currency").upper() or None
    if currency_cell and header_currency and currency_cell != header_currency:
        raise SpendFileError(
            f"{name} row {line_no}: currency {currency_cell} differs from the spend column's "
            f"{header_currency}"
        )

    def amount(field: str) -> Decimal:
        if field not in cols:
            return ZERO
        return parse_amount(_cell(record, cols, field), decimal_comma=decimal_comma, where=where(field))

    def count(field: str) -> int:
        value = amount(field)
        if value != value.to_integral_value():
            raise SpendFileError(f"{where(field)}: {_cell(record, cols, field)!r} is not a whole number")
        return int(value)

    spend = amount("spend")
    if spend < 0:
        raise SpendFileError(f"{where('spend')}: spend cannot be negative")
    return {
        **ident,
        "account_id": _cell(record, cols, "account_id") or None,
        "day": day,
        "currency": currency_cell or header_currency,
        "spend": spend,
        "impressions": count("impressions"),
        "clicks": count("clicks"),
        "meta_purchases": count("purchases"),
        "meta_purchase_value": amount("purchase_value"),
    }


_ID_FIELDS = ("campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name")


def _finish(
    row: dict[str, object],
    name: str,
    line_no: int,
    default_account: str | None,
    default_currency: str | None,
) -> SpendRow:
    account = row.pop("account_id") or default_account
    if not account:
        raise SpendFileError(
            f"{name} row {line_no}: no 'Account ID' column; pass the ad account (--account) or set "
            "ad_account_id on the shop"
        )
    currency = row.pop("currency") or default_currency
    if not currency:
        raise SpendFileError(f"{name} row {line_no}: no currency in the spend header or a Currency column")
    try:
        code = check_currency(str(currency))
    except CurrencyError as exc:
        raise SpendFileError(f"{name} row {line_no}: {exc}") from None
    return SpendRow(account_id=str(account), currency=code, **row)  # type: ignore[arg-type]


def read_ads_manager_csv(
    path: Path,
    *,
    default_account: str | None = None,
    default_currency: str | None = None,
    decimal_comma: bool | None = None,
) -> list[SpendRow]:
    """Read a file (UTF-8, with or without BOM; UTF-16 as Excel saves it) and parse it."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
    return parse_ads_manager_csv(
        text,
        name=path.name,
        default_account=default_account,
        default_currency=default_currency,
        decimal_comma=decimal_comma,
    )
