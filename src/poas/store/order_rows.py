"""Orders as plain row tuples in table column order: what the bulk writers send to SQLite and PostgreSQL.

Values are only str, int, bool and None, so the same tuple suits sqlite3's executemany and a
PostgreSQL COPY (run with the transaction's TimeZone set to UTC), and it pickles cheaply between
the import's worker processes and its writer. Timestamps are UTC text in SQLAlchemy's SQLite format
(`2026-03-01 11:00:00.000000`), which also sorts chronologically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson

from poas.domain.money import exponent
from poas.domain.order import Order
from poas.store.field_pickle import FieldPickle

ORDER_COLUMNS = (
    *("shop_id", "order_id", "name", "currency", "prices_include_vat", "created_at", "processed_at"),
    *("updated_at", "cancelled_at", "financial_status", "gateway", "shipping_country", "test"),
    *("consent_marketing", "consent_ads_tracking", "landing_url", "referrer", "utm_source"),
    *("utm_medium", "utm_campaign", "utm_content", "utm_term", "fbclid", "fbc", "fbp"),
    *("gclid", "gbraid", "wbraid"),
    *("actual_payment_fee", "user_data", "source", "ingested_at"),
)
LINE_COLUMNS = (
    *("shop_id", "order_id", "line_id", "position", "quantity", "unit_price", "discount", "tax"),
    *("tax_rate", "sku", "variant_id", "product_id", "title", "category", "gift_card", "grams"),
    "unit_cost",
)
SHIPPING_COLUMNS = (
    *("shop_id", "order_id", "position", "price", "method", "title", "discount", "tax", "tax_rate"),
)
REFUND_COLUMNS = (
    *("shop_id", "order_id", "refund_id", "position", "processed_at", "shipping", "shipping_tax"),
    *("adjustment", "adjustment_tax", "note"),
)
REFUND_LINE_COLUMNS = (
    *("shop_id", "order_id", "refund_id", "position", "line_id", "quantity", "restock_type"),
    *("amount", "tax"),
)

Key = tuple[str, str]


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units, rounded half-even (NOK 12.345 -> 1234)."""
    return int(amount.scaleb(exponent(currency)).to_integral_value(ROUND_HALF_EVEN))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def utc_text(value: datetime) -> str:
    """An aware timestamp as UTC text with microseconds (naive timestamps are refused)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive timestamp {value.isoformat()} cannot be stored (need a timezone)")
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:26]


def _opt_utc(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


UPDATED_AT = ORDER_COLUMNS.index("updated_at")


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(slots=True)
class OrderRows(FieldPickle):
    """One order's rows; `head` lacks `ingested_at`, which the writer adds per batch."""

    key: Key
    head: tuple[Any, ...]
    lines: list[tuple[Any, ...]]
    shipping: list[tuple[Any, ...]]
    refunds: list[tuple[Any, ...]]
    refund_lines: list[tuple[Any, ...]]


def order_rows(order: Order, user_data: Mapping[str, Any] | None) -> OrderRows:
    """The order as row tuples; amounts become minor units of the order currency (half-even)."""
    sid, oid, cur = order.shop_id, order.order_id, order.currency
    e = exponent(cur)

    def m(v: Decimal) -> int:
        return int(v.scaleb(e).to_integral_value(ROUND_HALF_EVEN))

    def om(v: Decimal | None) -> int | None:
        return None if v is None else int(v.scaleb(e).to_integral_value(ROUND_HALF_EVEN))

    a, c = order.attribution, order.consent
    head = (
        sid, oid, order.name, cur, order.prices_include_vat, utc_text(order.created_at),
        _opt_utc(order.processed_at), _opt_utc(order.updated_at), _opt_utc(order.cancelled_at),
        order.financial_status, order.gateway, order.shipping_country, order.test, c.marketing,
        c.ads_tracking, a.landing_url, a.referrer, a.utm_source, a.utm_medium, a.utm_campaign,
        a.utm_content, a.utm_term, a.fbclid, a.fbc, a.fbp, a.gclid, a.gbraid, a.wbraid,
        om(order.actual_payment_fee),
        json_text(dict(user_data)) if user_data else None, order.source,
    )  # fmt: skip
    lines = [
        (sid, oid, ln.line_id, pos, ln.quantity, m(ln.unit_price), m(ln.discount), m(ln.tax),
         None if ln.tax_rate is None else str(ln.tax_rate), ln.sku, ln.variant_id, ln.product_id,
         ln.title, ln.category, ln.gift_card, ln.grams, om(ln.unit_cost))
        for pos, ln in enumerate(order.lines)
    ]  # fmt: skip
    shipping = [
        (sid, oid, pos, m(s.price), s.method, s.title, m(s.discount), m(s.tax),
         None if s.tax_rate is None else str(s.tax_rate))
        for pos, s in enumerate(order.shipping_lines)
    ]  # fmt: skip
    refunds: list[tuple[Any, ...]] = []
    refund_lines: list[tuple[Any, ...]] = []
    for pos, rf in enumerate(order.refunds):
        refunds.append(
            (sid, oid, rf.refund_id, pos, utc_text(rf.processed_at), m(rf.shipping), m(rf.shipping_tax),
             m(rf.adjustment), m(rf.adjustment_tax), rf.note)
        )  # fmt: skip
        refund_lines.extend(
            (sid, oid, rf.refund_id, lpos, rl.line_id, rl.quantity, rl.restock_type.value, om(rl.amount),
             om(rl.tax))
            for lpos, rl in enumerate(rf.lines)
        )  # fmt: skip
    return OrderRows((sid, oid), head, lines, shipping, refunds, refund_lines)
