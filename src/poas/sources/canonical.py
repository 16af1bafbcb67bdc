"""The canonical import formats (docs/formats.md): orders as JSONL or CSV, product costs as CSV, streamed.

Readers yield an `Order` (or `CostRow`) per record, or a `RowError` naming the file, the line and the
field; a bad record never stops the ones after it. Memory stays flat: one record (one order's rows
for CSV) is held at a time, plus the set of order ids a CSV file has finished.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from poas.domain.costs import CostRow
from poas.domain.money import CurrencyError, check_currency, exponent
from poas.domain.order import (
    Attribution,
    Consent,
    Customer,
    Order,
    OrderLine,
    Refund,
    RefundLine,
    RestockType,
    ShippingLine,
)

ZERO = Decimal(0)


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


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Parsed:
    """One accepted record and the file line it starts on."""

    line: int
    value: Order


# ---- field readers ---------------------------------------------------------------------------


def _text(v: Any, field: str, *, required: bool = False, max_len: int = 500) -> str | None:
    if type(v) is str:  # the common case first; anything unusual takes the checks below
        s = v.strip()
        if s and len(s) <= max_len:
            return s
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise FieldError(field, "is required")
        return None
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise FieldError(field, f"must be a string, not {type(v).__name__}")
    s = str(v).strip()
    if len(s) > max_len:
        raise FieldError(field, f"is longer than {max_len} characters")
    return s


def _req_text(v: Any, field: str, max_len: int = 100) -> str:
    s = _text(v, field, required=True, max_len=max_len)
    assert s is not None
    return s


def _decimal(v: Any, field: str, *, required: bool = False, default: Decimal | None = None) -> Decimal | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise FieldError(field, "is required")
        return default
    if isinstance(v, bool | float):
        raise FieldError(field, f'{v!r} must be a decimal string such as "499.00"')
    if isinstance(v, Decimal | int):
        d = Decimal(v)
    elif isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise FieldError(field, f"{v!r} is not a number") from None
    else:
        raise FieldError(field, f"must be a decimal string, not {type(v).__name__}")
    if not d.is_finite():
        raise FieldError(field, f"{v!r} is not a finite number")
    return d


# Amount texts already accepted (non-negative, within the currency's decimals): prices and taxes
# repeat across a file, and Decimals are immutable, so one parse serves every repeat.
_ACCEPTED: dict[tuple[str, str], Decimal] = {}
_ACCEPTED_MAX = 100_000


def _remember(v: Any, currency: str, d: Decimal) -> Decimal:
    if type(v) is str and d >= 0:
        if len(_ACCEPTED) >= _ACCEPTED_MAX:
            _ACCEPTED.clear()
        _ACCEPTED[(v, currency)] = d
    return d


def _money(v: Any, field: str, currency: str, *, required: bool = False, signed: bool = False) -> Decimal:
    if type(v) is str:
        hit = _ACCEPTED.get((v, currency))
        if hit is not None:
            return hit
    d = _decimal(v, field, required=required, default=ZERO)
    assert d is not None
    return _remember(v, currency, _check_money(d, field, currency, signed))


def _opt_money(v: Any, field: str, currency: str, *, signed: bool = False) -> Decimal | None:
    if v is None:
        return None
    if type(v) is str:
        hit = _ACCEPTED.get((v, currency))
        if hit is not None:
            return hit
    d = _decimal(v, field)
    return None if d is None else _remember(v, currency, _check_money(d, field, currency, signed))


def _check_money(d: Decimal, field: str, currency: str, signed: bool) -> Decimal:
    if not signed and d < 0:
        raise FieldError(field, f"{d} is negative")
    e = exponent(currency)
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < -e and d != d.quantize(Decimal(1).scaleb(-e)):
        raise FieldError(field, f"{d} has more decimals than {currency} allows ({e})")
    return d


def _rate(v: Any, field: str) -> Decimal | None:
    if v is None:
        return None
    if type(v) is str:
        hit = _ACCEPTED.get((v, "rate"))
        if hit is not None:
            return hit
    d = _decimal(v, field)
    if d is not None and ZERO <= d < 1 and type(v) is str:
        _remember(v, "rate", d)
    if d is not None and not ZERO <= d < 1:
        raise FieldError(field, f"{d} must be a fraction in [0, 1) (0.25 for 25 %)")
    return d


def _int(v: Any, field: str, *, default: int | None = None, minimum: int = 0) -> int:
    if type(v) is int and v >= minimum:
        return v
    if v is None or (isinstance(v, str) and not v.strip()):
        if default is None:
            raise FieldError(field, "is required")
        return default
    if isinstance(v, bool):
        raise FieldError(field, f"{v!r} is not a whole number")
    try:
        n = int(v.strip()) if isinstance(v, str) else int(v) if isinstance(v, int) else None
    except ValueError:
        n = None
    if n is None:
        if isinstance(v, Decimal) and v == v.to_integral_value():
            n = int(v)
        else:
            raise FieldError(field, f"{v!r} is not a whole number")
    if n < minimum:
        raise FieldError(field, f"{n} is below {minimum}" if minimum else f"{n} is negative")
    return n


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _bool(v: Any, field: str, default: bool | None = None) -> bool | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise FieldError(field, f"{v!r} is not true/false")


def _time(v: Any, field: str, *, required: bool = False) -> datetime | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise FieldError(field, "is required")
        return None
    if not isinstance(v, str):
        raise FieldError(field, f"must be an ISO 8601 string, not {type(v).__name__}")
    try:
        dt = datetime.fromisoformat(v.strip())
    except ValueError:
        raise FieldError(field, f"{v!r} is not an ISO 8601 timestamp") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise FieldError(field, f"{v!r} has no timezone offset (add Z or +01:00)")
    return dt.astimezone(UTC)


def _currency(v: Any, field: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise FieldError(field, "is required (an ISO 4217 code such as NOK)")
    try:
        return check_currency(v)
    except CurrencyError as exc:
        raise FieldError(field, str(exc)) from None


def _country(v: Any, field: str) -> str | None:
    s = _text(v, field, max_len=2)
    if s is not None and (len(s) != 2 or not s.isalpha()):
        raise FieldError(field, f"{s!r} is not a two-letter country code")
    return s.upper() if s else None


def _object(v: Any, field: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise FieldError(field, "must be an object")
    if v.keys() <= allowed:
        return v
    unknown = sorted(set(v) - allowed)
    if unknown:
        raise FieldError(f"{field}.{unknown[0]}", "is not a known field")
    return v


def _list(v: Any, field: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise FieldError(field, "must be a list")
    return v


# ---- JSONL -----------------------------------------------------------------------------------


def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


_ORDER_FIELDS = _names(Order)
_LINE_FIELDS = _names(OrderLine)
_SHIP_FIELDS = _names(ShippingLine)
_REFUND_FIELDS = _names(Refund)
_REFUND_LINE_FIELDS = _names(RefundLine)
_CUSTOMER_FIELDS = _names(Customer)
_ATTRIBUTION_FIELDS = _names(Attribution)
_CONSENT_FIELDS = _names(Consent)
_NO_CUSTOMER, _NO_ATTRIBUTION, _NO_CONSENT = Customer(), Attribution(), Consent()  # immutable: shared


@dataclass(frozen=True, slots=True)
class ImportDefaults:
    """What the import supplies: the shop, and the VAT basis for records that don't say."""

    shop_id: str
    prices_include_vat: bool = True
    source: str = "import"


@lru_cache(maxsize=256)
def _line_names(i: int) -> dict[str, str]:
    """The error names of line `i`'s fields ("lines[2].tax"), built once per position."""
    return {n: f"lines[{i}].{n}" for n in ("", *_LINE_FIELDS)}


def _line(d: Any, i: int, cur: str) -> OrderLine:
    f = _line_names(i)
    obj = _object(d, f"lines[{i}]", _LINE_FIELDS)
    if "unit_price" not in obj or obj["unit_price"] in (None, ""):
        raise FieldError(f["unit_price"], "is required (a line without a price cannot be priced)")
    g = obj.get
    return OrderLine(
        line_id=_text(g("line_id"), f["line_id"], max_len=100) or str(i + 1),
        quantity=_int(g("quantity"), f["quantity"]),
        unit_price=_money(g("unit_price"), f["unit_price"], cur, required=True),
        sku=_text(g("sku"), f["sku"], max_len=200),
        variant_id=_text(g("variant_id"), f["variant_id"], max_len=100),
        product_id=_text(g("product_id"), f["product_id"], max_len=100),
        title=_text(g("title"), f["title"]) or "",
        category=_text(g("category"), f["category"], max_len=200),
        discount=_money(g("discount"), f["discount"], cur),
        tax=_money(g("tax"), f["tax"], cur),
        tax_rate=_rate(g("tax_rate"), f["tax_rate"]),
        gift_card=bool(_bool(g("gift_card"), f["gift_card"], False)),
        grams=_int(g("grams"), f["grams"], default=0),
        unit_cost=_opt_money(g("unit_cost"), f["unit_cost"], cur),
    )


def _shipping(d: Any, i: int, cur: str) -> ShippingLine:
    f = f"shipping_lines[{i}]"
    obj = _object(d, f, _SHIP_FIELDS)
    return ShippingLine(
        price=_money(obj.get("price"), f"{f}.price", cur, required=True),
        method=_text(obj.get("method"), f"{f}.method", max_len=200) or "",
        title=_text(obj.get("title"), f"{f}.title") or "",
        discount=_money(obj.get("discount"), f"{f}.discount", cur),
        tax=_money(obj.get("tax"), f"{f}.tax", cur),
        tax_rate=_rate(obj.get("tax_rate"), f"{f}.tax_rate"),
    )


def _restock(v: Any, field: str) -> RestockType:
    if v is None or v == "":
        return RestockType.NO_RESTOCK
    try:
        return RestockType(str(v).strip().lower())
    except ValueError:
        raise FieldError(field, f"{v!r} must be one of {', '.join(t.value for t in RestockType)}") from None


def _refund(d: Any, i: int, cur: str, line_ids: set[str]) -> Refund:
    f = f"refunds[{i}]"
    obj = _object(d, f, _REFUND_FIELDS)
    lines = []
    for j, rl in enumerate(_list(obj.get("lines"), f"{f}.lines")):
        g = f"{f}.lines[{j}]"
        rlo = _object(rl, g, _REFUND_LINE_FIELDS)
        line_id = _req_text(rlo.get("line_id"), f"{g}.line_id")
        if line_id not in line_ids:
            raise FieldError(f"{g}.line_id", f"{line_id!r} is not a line of this order")
        lines.append(
            RefundLine(
                line_id=line_id,
                quantity=_int(rlo.get("quantity"), f"{g}.quantity", minimum=1),
                restock_type=_restock(rlo.get("restock_type"), f"{g}.restock_type"),
                amount=_opt_money(rlo.get("amount"), f"{g}.amount", cur),
                tax=_opt_money(rlo.get("tax"), f"{g}.tax", cur),
            )
        )
    processed = _time(obj.get("processed_at"), f"{f}.processed_at", required=True)
    assert processed is not None
    return Refund(
        refund_id=_text(obj.get("refund_id"), f"{f}.refund_id", max_len=100) or str(i + 1),
        processed_at=processed,
        lines=tuple(lines),
        shipping=_money(obj.get("shipping"), f"{f}.shipping", cur),
        shipping_tax=_money(obj.get("shipping_tax"), f"{f}.shipping_tax", cur),
        adjustment=_money(obj.get("adjustment"), f"{f}.adjustment", cur, signed=True),
        adjustment_tax=_money(obj.get("adjustment_tax"), f"{f}.adjustment_tax", cur, signed=True),
        note=_text(obj.get("note"), f"{f}.note", max_len=2000) or "",
    )


def _str_fields(obj: Mapping[str, Any], prefix: str, names: frozenset[str]) -> dict[str, str | None]:
    """The fields present (`obj` holds only `names`, see `_object`); absent ones keep their None default."""
    return {n: _text(v, f"{prefix}.{n}", max_len=2000) for n, v in obj.items()}


def order_from_dict(d: Any, defaults: ImportDefaults) -> Order:
    """Build an Order from one canonical JSON object; FieldError names the bad field."""
    obj = _object(d, "order", _ORDER_FIELDS) if isinstance(d, dict) else None
    if obj is None:
        raise FieldError("order", "each line must be a JSON object")
    order_id = _req_text(obj.get("order_id"), "order_id")
    shop_id = _text(obj.get("shop_id"), "shop_id", max_len=100)
    if shop_id is not None and shop_id != defaults.shop_id:
        raise FieldError("shop_id", f"{shop_id!r} differs from the import's shop {defaults.shop_id!r}")
    cur = _currency(obj.get("currency"), "currency")
    raw_lines = _list(obj.get("lines"), "lines")
    if not raw_lines:
        raise FieldError("lines", "an order needs at least one line")
    lines = tuple(_line(ln, i, cur) for i, ln in enumerate(raw_lines))
    ids = [ln.line_id for ln in lines]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise FieldError("lines", f"line_id {dup!r} appears twice")
    created = _time(obj.get("created_at"), "created_at", required=True)
    assert created is not None
    cust = _object(obj.get("customer"), "customer", _CUSTOMER_FIELDS)
    attr = _object(obj.get("attribution"), "attribution", _ATTRIBUTION_FIELDS)
    cons = _object(obj.get("consent"), "consent", _CONSENT_FIELDS)
    return Order(
        shop_id=defaults.shop_id,
        order_id=order_id,
        created_at=created,
        currency=cur,
        lines=lines,
        prices_include_vat=bool(
            _bool(obj.get("prices_include_vat"), "prices_include_vat", defaults.prices_include_vat)
        ),
        processed_at=_time(obj.get("processed_at"), "processed_at"),
        updated_at=_time(obj.get("updated_at"), "updated_at"),
        name=_text(obj.get("name"), "name", max_len=200) or "",
        shipping_lines=tuple(
            _shipping(s, i, cur) for i, s in enumerate(_list(obj.get("shipping_lines"), "shipping_lines"))
        ),
        gateway=_text(obj.get("gateway"), "gateway", max_len=100),
        financial_status=_text(obj.get("financial_status"), "financial_status", max_len=40) or "paid",
        shipping_country=_country(obj.get("shipping_country"), "shipping_country"),
        customer=Customer(**_str_fields(cust, "customer", _CUSTOMER_FIELDS)) if cust else _NO_CUSTOMER,
        attribution=Attribution(**_str_fields(attr, "attribution", _ATTRIBUTION_FIELDS))
        if attr
        else _NO_ATTRIBUTION,
        consent=Consent(
            marketing=_bool(cons.get("marketing"), "consent.marketing"),
            ads_tracking=_bool(cons.get("ads_tracking"), "consent.ads_tracking"),
        )
        if cons
        else _NO_CONSENT,
        test=bool(_bool(obj.get("test"), "test", False)),
        cancelled_at=_time(obj.get("cancelled_at"), "cancelled_at"),
        refunds=tuple(
            _refund(r, i, cur, set(ids)) for i, r in enumerate(_list(obj.get("refunds"), "refunds"))
        ),
        actual_payment_fee=_opt_money(obj.get("actual_payment_fee"), "actual_payment_fee", cur),
        source=_text(obj.get("source"), "source", max_len=40) or defaults.source,
    )


def _record_error(name: str, n: int, obj: Any, exc: FieldError) -> RowError:
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
        except FieldError:
            pass
    try:
        obj = json.loads(data.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        return RowError(name, n, None, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return RowError(name, n, None, f"malformed JSON: {exc.msg} at column {exc.colno}")
    try:
        return Parsed(n, order_from_dict(obj, defaults))
    except FieldError as exc:
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
_ATTR_COLS = tuple(sorted(_ATTRIBUTION_FIELDS))
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
    except FieldError as exc:
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
            raise FieldError(field, f"{v!r} is not a date (YYYY-MM-DD)") from None
    t = _time(s, field, required=True)
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
                    raise FieldError("sku", "a row needs a sku or a variant_id")
                cur = _currency(row.get("currency") or default_currency, "currency")
                amount = _money(row.get("unit_cost"), "unit_cost", cur, required=True)
                valid = _valid_from(row.get("valid_from", ""), "valid_from", tz)
                rows = tuple(CostRow.of(k, amount, cur, valid, source="csv") for k in keys)
            except FieldError as exc:
                yield RowError(name, line_no, exc.field, exc.message)
                continue
            except ValueError as exc:
                yield RowError(name, line_no, None, str(exc))
                continue
            yield ParsedCost(line_no, rows)
