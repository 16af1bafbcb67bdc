"""The canonical import files (docs/formats.md): orders as JSONL or CSV, product costs as CSV, streamed.

Readers yield an `Order` (or `CostRow`) per record, or a `RowError` naming the file, the line and the
field; a bad record never stops the ones after it. Memory stays flat: one record (one order's rows
for CSV) is held at a time, plus the set of order ids a CSV file has finished. The fields are mapped
by `canonical_order`, the same mapping the JSON API uses.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from poas.domain.costs import CostRow
from poas.domain.order import Order, OrderLine
from poas.sources.canonical_fields import currency, money, timestamp
from poas.sources.canonical_order import ATTRIBUTION_FIELDS, read_order
from poas.sources.canonical_order import ImportDefaults as ImportDefaults  # part of this module's API
from poas.sources.payload import PayloadError, bounded_int, check_values


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected record: where it is and what is wrong (never the record's contents)."""

    file: str
    line: int  # 1-based line of the file (JSONL line, CSV physical line of the row)
    field: str | None
    message: str
    order_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        order = f" (order {self.order_id})" if self.order_id else ""
        return (
            f"{where}: {self.field}: {self.message}{order}"
            if self.field
            else f"{where}: {self.message}{order}"
        )


@dataclass(frozen=True, slots=True)
class Parsed:
    """One accepted record and the file line it starts on."""

    line: int
    value: Order


def order_from_dict(d: Any, defaults: ImportDefaults) -> Order:
    """Build an Order from one canonical JSON object; PayloadError names the bad field."""
    if not isinstance(d, dict):
        raise PayloadError("order", "each line must be a JSON object")
    return read_order(d, defaults)


# ---- JSONL -----------------------------------------------------------------------------------


def _record_error(name: str, n: int, obj: Any, exc: PayloadError) -> RowError:
    oid = obj.get("order_id") if isinstance(obj, dict) else None
    return RowError(name, n, exc.field, exc.message, str(oid) if oid is not None else None)


def parse_jsonl_record(name: str, n: int, data: bytes, defaults: ImportDefaults) -> Parsed | RowError | None:
    """One JSONL line (`n` = its 1-based number) as an order or a RowError; None for a blank line.

    orjson reads the common case. Amounts are decimal strings there; a JSON number with a fraction
    becomes a float, which every field reader refuses, so any record orjson cannot read or whose
    fields fail is read again with the standard library and exact Decimals, and judged on that.
    """
    if not data.strip():
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    else:
        try:
            return Parsed(n, order_from_dict(obj, defaults))
        except PayloadError:
            pass
    try:
        obj = json.loads(data.decode("utf-8"), parse_float=Decimal, parse_int=bounded_int)
    except UnicodeDecodeError as exc:
        return RowError(name, n, None, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return RowError(name, n, None, f"malformed JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return RowError(name, n, None, "malformed JSON: nested too deeply")
    try:
        check_values(obj)  # integers too long to be a field, strings with a lone surrogate
        return Parsed(n, order_from_dict(obj, defaults))
    except PayloadError as exc:
        return _record_error(name, n, obj, exc)


def read_jsonl_records(
    path: Path, *, on_progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, bytes]]:
    """The raw lines of a JSONL file with their 1-based numbers (parse them with parse_jsonl_record)."""
    with open(path, "rb") as raw:
        for n, data in enumerate(raw, start=1):
            if on_progress is not None and n % 1000 == 0:
                on_progress(raw.tell())
            yield n, data
        if on_progress is not None:
            on_progress(raw.tell())


def read_jsonl(
    path: Path, defaults: ImportDefaults, *, on_progress: Callable[[int], None] | None = None
) -> Iterator[Parsed | RowError]:
    """Stream a canonical JSONL file: one order per line; blank lines are skipped."""
    name = str(path)
    for n, data in read_jsonl_records(path, on_progress=on_progress):
        item = parse_jsonl_record(name, n, data, defaults)
        if item is not None:
            yield item


# ---- CSV -------------------------------------------------------------------------------------

_CUSTOMER_COLS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "state",
    "zip",
    "country",
    "external_id",
)
_ATTR_COLS = tuple(sorted(ATTRIBUTION_FIELDS))
_HEAD_COLS = (
    *("order_id", "name", "currency", "prices_include_vat", "created_at", "processed_at", "updated_at"),
    *("cancelled_at", "financial_status", "gateway", "shipping_country", "test", "actual_payment_fee"),
)
_SHIP_COLS = tuple(f"shipping_{n}" for n in ("price", "method", "title", "discount", "tax", "tax_rate"))
CSV_ORDER_COLUMNS = (
    *_HEAD_COLS,
    *_SHIP_COLS,
    *_CUSTOMER_COLS,
    *_ATTR_COLS,
    "consent_marketing",
    "consent_ads_tracking",
)
CSV_LINE_COLUMNS = tuple(f.name for f in fields(OrderLine))
_CSV_REQUIRED = ("order_id", "currency", "created_at", "quantity", "unit_price")


def _csv_order(first: Mapping[str, str], rows: Sequence[tuple[int, Mapping[str, str]]]) -> dict[str, Any]:
    """Turn one order's CSV rows into the canonical dict (order columns from the first row)."""
    for line_no, row in rows[1:]:
        for col in CSV_ORDER_COLUMNS:
            v = row.get(col, "")
            if v and v != first.get(col, ""):
                raise _CsvRowError(
                    line_no, col, "differs from the order's first row (order columns must repeat)"
                )
    d: dict[str, Any] = {c: first.get(c) or None for c in _HEAD_COLS}
    d["customer"] = {c: first.get(c) or None for c in _CUSTOMER_COLS}
    d["attribution"] = {c: first.get(c) or None for c in _ATTR_COLS}
    d["consent"] = {
        "marketing": first.get("consent_marketing"),
        "ads_tracking": first.get("consent_ads_tracking"),
    }
    if first.get("shipping_price"):
        d["shipping_lines"] = [
            {
                "price": first.get("shipping_price"),
                "method": first.get("shipping_method"),
                "title": first.get("shipping_title"),
                "discount": first.get("shipping_discount"),
                "tax": first.get("shipping_tax"),
                "tax_rate": first.get("shipping_tax_rate"),
            }
        ]
    d["lines"] = [{c: row.get(c) or None for c in CSV_LINE_COLUMNS} for _, row in rows]
    return d


class _CsvRowError(Exception):
    def __init__(self, line: int, field: str | None, message: str) -> None:
        self.line, self.field, self.message = line, field, message


def _csv_line_of_field(field: str, rows: Sequence[tuple[int, Mapping[str, str]]]) -> tuple[int, str]:
    """Map a canonical field name (lines[2].tax) back to the CSV row and column."""
    if field.startswith("lines[") and "]" in field:
        idx = int(field[6 : field.index("]")])
        rest = field[field.index("]") + 2 :] if "." in field else ""
        if 0 <= idx < len(rows):
            return rows[idx][0], rest or field
    if field.startswith("shipping_lines[0]."):
        return rows[0][0], "shipping_" + field.split(".", 1)[1]
    for prefix in ("customer.", "attribution."):
        if field.startswith(prefix):
            return rows[0][0], field[len(prefix) :]
    if field.startswith("consent."):
        return rows[0][0], "consent_" + field[len("consent.") :]
    return rows[0][0], field


CsvGroup = tuple[str, list[tuple[int, dict[str, str]]]]  # an order id and its (line, row) pairs


def parse_csv_group(name: str, group: CsvGroup, defaults: ImportDefaults) -> Parsed | RowError:
    """One order's CSV rows as an order, or a RowError naming the row and column at fault."""
    oid, rows = group
    try:
        d = _csv_order(rows[0][1], rows)
        return Parsed(rows[0][0], order_from_dict(d, defaults))
    except _CsvRowError as exc:
        return RowError(name, exc.line, exc.field, exc.message, oid)
    except PayloadError as exc:
        line_no, col = _csv_line_of_field(exc.field, rows)
        return RowError(name, line_no, col, exc.message, oid)


def read_csv_groups(
    path: Path, *, on_progress: Callable[[int], None] | None = None
) -> Iterator[CsvGroup | RowError]:
    """Stream a canonical CSV file as each order's rows (parse them with parse_csv_group), or RowErrors
    for rows that cannot belong to an order. The rows of an order must be next to each other."""
    name = str(path)
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield RowError(name, 1, None, f"unreadable header: {exc}")
            return
        cols = [h.strip().lower() for h in header]
        known = set(CSV_ORDER_COLUMNS) | set(CSV_LINE_COLUMNS)
        unknown = [c for c in cols if c not in known]
        missing = [c for c in _CSV_REQUIRED if c not in cols]
        if unknown or missing:
            what = f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}"
            yield RowError(name, 1, unknown[0] if unknown else missing[0], what)
            return
        done: set[str] = set()
        group: list[tuple[int, dict[str, str]]] = []
        current: str | None = None
        rows_seen = 0

        def flush() -> Iterator[CsvGroup | RowError]:
            if not group:
                return
            oid = current or ""
            if oid in done:
                yield RowError(
                    name, group[0][0], "order_id", "rows of this order are not next to each other", oid
                )
                return
            done.add(oid)
            yield oid, group

        while True:
            line_no = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                yield from flush()
                group, current = [], None
                yield RowError(name, line_no, None, f"malformed CSV row: {exc}")
                continue
            rows_seen += 1
            if on_progress is not None and rows_seen % 1000 == 0:
                on_progress(raw.tell())
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(cols):
                yield RowError(name, line_no, None, f"has {len(values)} fields, the header has {len(cols)}")
                continue
            row = dict(zip(cols, (v.strip() for v in values), strict=True))
            oid = row.get("order_id", "")
            if not oid:
                yield RowError(name, line_no, "order_id", "is required")
                continue
            if oid != current:
                yield from flush()
                group, current = [], oid
            group.append((line_no, row))
        yield from flush()
        if on_progress is not None:
            on_progress(raw.tell())


def read_csv(
    path: Path, defaults: ImportDefaults, *, on_progress: Callable[[int], None] | None = None
) -> Iterator[Parsed | RowError]:
    """Stream a canonical CSV file: one row per order line, the rows of an order next to each other."""
    name = str(path)
    for item in read_csv_groups(path, on_progress=on_progress):
        yield item if isinstance(item, RowError) else parse_csv_group(name, item, defaults)


def read_orders(
    path: Path,
    defaults: ImportDefaults,
    *,
    fmt: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Parsed | RowError]:
    """Read orders in the format named by `fmt` ("jsonl" / "csv") or by the file's suffix."""
    kind = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if kind == "csv":
        return read_csv(path, defaults, on_progress=on_progress)
    if kind == "jsonl":
        return read_jsonl(path, defaults, on_progress=on_progress)
    raise ValueError(f"unknown format {fmt!r} (jsonl or csv)")


# ---- product costs (CSV) --------------------------------------------------------------------

COST_COLUMNS = ("sku", "variant_id", "unit_cost", "currency", "valid_from")


@dataclass(frozen=True, slots=True)
class ParsedCost:
    line: int
    rows: tuple[CostRow, ...]  # one per key given (variant id and/or SKU)


def _valid_from(v: str, field: str, tz: ZoneInfo) -> datetime:
    s = v.strip()
    if not s:
        return datetime(1970, 1, 1, tzinfo=UTC)
    if len(s) == 10:
        try:
            return datetime.combine(date.fromisoformat(s), time(0), tz).astimezone(UTC)
        except ValueError:
            raise PayloadError(field, f"{v!r} is not a date (YYYY-MM-DD)") from None
    t = timestamp(s, field, required=True)
    assert t is not None
    return t


def read_costs_csv(
    path: Path, *, default_currency: str, timezone: str = "UTC"
) -> Iterator[ParsedCost | RowError]:
    """Stream a cost CSV: sku and/or variant_id, unit_cost, currency (default the shop's), valid_from.

    A date-only `valid_from` means midnight in the shop's `timezone`; empty means "always".
    """
    name = str(path)
    tz = ZoneInfo(timezone)
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(name, 1, None, f"unreadable header: {exc}")
            return
        unknown = [c for c in header if c not in COST_COLUMNS]
        if unknown:
            yield RowError(name, 1, unknown[0], f"unknown column (expected {', '.join(COST_COLUMNS)})")
            return
        if "unit_cost" not in header or not ({"sku", "variant_id"} & set(header)):
            yield RowError(name, 1, None, "needs a unit_cost column and a sku or variant_id column")
            return
        while True:
            line_no = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(name, line_no, None, f"malformed CSV row: {exc}")
                continue
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield RowError(name, line_no, None, f"has {len(values)} fields, the header has {len(header)}")
                continue
            row = dict(zip(header, (v.strip() for v in values), strict=True))
            try:
                keys = [k for k in (row.get("variant_id", ""), row.get("sku", "")) if k]
                if not keys:
                    raise PayloadError("sku", "a row needs a sku or a variant_id")
                cur = currency(row.get("currency") or default_currency, "currency")
                amount = money(row.get("unit_cost"), "unit_cost", cur, required=True)
                valid = _valid_from(row.get("valid_from", ""), "valid_from", tz)
                rows = tuple(CostRow.of(k, amount, cur, valid, source="csv") for k in keys)
            except PayloadError as exc:
                yield RowError(name, line_no, exc.field, exc.message)
                continue
            except ValueError as exc:
                yield RowError(name, line_no, None, str(exc))
                continue
            yield ParsedCost(line_no, rows)
