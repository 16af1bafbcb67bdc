"""Shopify's admin orders export (CSV): one row per line item, order fields only on each order's first row.

The export has no per-line tax, so the order's `Taxes` are spread over the lines and shipping in
proportion to what each was charged (exact to the cent in total); a `Refunded Amount` becomes a refund
adjustment split at the order's tax ratio. Prices follow the shop's `prices_include_vat`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import IO

from poas.domain.money import check_currency, exponent, to_decimal
from poas.domain.order import Attribution, Customer, Order, OrderLine, Refund, ShippingLine
from poas.sources.payload import PayloadError, TimeBounds

ZERO = Decimal(0)
REQUIRED = ("Name", "Currency", "Created at", "Lineitem quantity", "Lineitem price")


@dataclass(frozen=True, slots=True)
class CsvError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


class _RowError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _dec(row: dict[str, str], key: str, default: Decimal = ZERO) -> Decimal:
    value = (row.get(key) or "").strip()
    if not value:
        return default
    try:
        return to_decimal(value, where=key)
    except ValueError:
        raise _RowError(key, "expected a decimal number") from None


def _time(
    row: dict[str, str], key: str, bounds: TimeBounds | None, required: bool = False
) -> datetime | None:
    value = (row.get(key) or "").strip()
    if not value:
        if required:
            raise _RowError(key, "is required")
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            dt = datetime.strptime(value, fmt).astimezone(UTC)
        except ValueError:
            continue
        except OverflowError:  # 0001-01-01 00:30:00 +0100 has no UTC time
            raise _RowError(key, "is out of range") from None
        try:
            return bounds.check(dt, key) if bounds is not None else dt
        except PayloadError as exc:
            raise _RowError(key, exc.message) from None
    raise _RowError(key, "expected a time like 2026-11-20 14:03:11 +0100")


def _spread(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """Split `total` over `weights` in proportion, rounded to the currency, summing exactly to `total`."""
    base = sum(weights, ZERO)
    if not weights or base == 0:
        return [ZERO] * len(weights)
    q = Decimal(1).scaleb(-exponent(currency))
    parts = [(total * w / base).quantize(q, ROUND_HALF_EVEN) for w in weights]
    parts[-1] += total - sum(parts, ZERO)
    return parts


def _order(
    rows: list[tuple[int, dict[str, str]]], shop_id: str, prices_include_vat: bool, bounds: TimeBounds | None
) -> Order:
    _, first = rows[0]
    try:
        currency = check_currency(first.get("Currency") or "")
    except ValueError:
        raise _RowError("Currency", "expected an ISO 4217 code") from None
    created = _time(first, "Created at", bounds, required=True)
    assert created is not None
    raw_lines = []
    for _no, row in rows:
        qty_text = (row.get("Lineitem quantity") or "").strip()
        if not qty_text.isdigit():
            raise _RowError("Lineitem quantity", "expected a whole number")
        qty = int(qty_text)
        price = _dec(row, "Lineitem price")
        raw_lines.append((row, qty, price, _dec(row, "Lineitem discount")))
    line_discounts = sum((d for *_, d in raw_lines), ZERO)
    order_discount = _dec(first, "Discount Amount") - line_discounts
    charged = [q * p - d for _, q, p, d in raw_lines]
    extra = _spread(order_discount, charged, currency) if order_discount > 0 else [ZERO] * len(raw_lines)
    shipping = _dec(first, "Shipping")
    net_charged = [c - e for c, e in zip(charged, extra, strict=True)]
    taxes = _spread(_dec(first, "Taxes"), [*net_charged, shipping], currency)
    lines = tuple(
        OrderLine(
            line_id=str(i + 1),
            quantity=q,
            unit_price=p,
            sku=(row.get("Lineitem sku") or "").strip() or None,
            title=(row.get("Lineitem name") or "").strip(),
            discount=d + extra[i],
            tax=taxes[i],
        )
        for i, (row, q, p, d) in enumerate(raw_lines)
    )
    ships = (
        (ShippingLine(price=shipping, method=(first.get("Shipping Method") or "").strip(), tax=taxes[-1]),)
        if shipping
        else ()
    )
    total = _dec(first, "Total")
    total_tax = _dec(first, "Taxes")
    refunded = _dec(first, "Refunded Amount")
    refunds: tuple[Refund, ...] = ()
    if refunded > 0:
        net_total = total - total_tax if prices_include_vat or total_tax == 0 else total
        ratio = total_tax / net_total if net_total > 0 else ZERO
        q = Decimal(1).scaleb(-exponent(currency))
        net = (refunded / (1 + ratio)).quantize(q, ROUND_HALF_EVEN)
        # The export has no refund time: the order's cancellation or creation time stands in.
        when = _time(first, "Cancelled at", bounds) or created
        # Refund amounts follow the order's VAT basis: gross when prices include VAT.
        amount = refunded if prices_include_vat else net
        refunds = (
            Refund(refund_id="export", processed_at=when, adjustment=amount, adjustment_tax=refunded - net),
        )
    order_id = (first.get("Id") or "").strip() or (first.get("Name") or "").strip()
    return Order(
        shop_id=shop_id,
        order_id=order_id,
        name=(first.get("Name") or "").strip(),
        created_at=created,
        processed_at=_time(first, "Paid at", bounds),
        currency=currency,
        prices_include_vat=prices_include_vat,
        lines=lines,
        shipping_lines=ships,
        gateway=(first.get("Payment Method") or "").strip() or None,
        financial_status=(first.get("Financial Status") or "pending").strip().lower() or "pending",
        shipping_country=(first.get("Shipping Country") or "").strip() or None,
        customer=Customer(
            email=(first.get("Email") or "").strip() or None,
            phone=(first.get("Phone") or "").strip() or None,
            city=(first.get("Shipping City") or "").strip() or None,
            zip=(first.get("Shipping Zip") or "").strip().lstrip("'") or None,
            country=(first.get("Shipping Country") or "").strip() or None,
        ),
        attribution=Attribution(),
        cancelled_at=_time(first, "Cancelled at", bounds),
        refunds=refunds,
        source="shopify_csv",
    )


def read_export(
    stream: IO[bytes],
    shop_id: str,
    *,
    prices_include_vat: bool = True,
    on_progress: Callable[[int], None] | None = None,
    bounds: TimeBounds | None = None,
) -> Iterator[Order | CsvError]:
    """Orders (or errors naming the row and column) from an export, streamed order by order; an
    order with a time outside `bounds` (when given) is an error."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        yield CsvError(1, missing[0], "column is missing from the header")
        return
    group: list[tuple[int, dict[str, str]]] = []

    def flush() -> Order | CsvError:
        try:
            return _order(group, shop_id, prices_include_vat, bounds)
        except _RowError as exc:
            return CsvError(group[0][0], exc.field, str(exc))

    for row_no, row in enumerate(reader, start=2):
        if on_progress is not None and row_no % 200 == 0:
            on_progress(stream.tell() if stream.seekable() else row_no)
        name = (row.get("Name") or "").strip()
        if not name:
            yield CsvError(row_no, "Name", "is required")
            continue
        if group and name != (group[0][1].get("Name") or "").strip():
            yield flush()
            group = []
        group.append((row_no, row))
    if group:
        yield flush()
