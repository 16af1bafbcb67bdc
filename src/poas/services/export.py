"""Streaming exports (CSV or JSON Lines): orders, the profit ledger, the delivery log, spend rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, TextIO

from sqlalchemy import Engine, Select, and_, func, select

from poas.domain.destinations import is_google
from poas.domain.money import exponent
from poas.domain.profit import COST_DEPENDENT
from poas.store.breakdown_pack import unpack
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import orders, profit_snapshots
from poas.store.tables.spend import ad_spend

Kind = Literal["orders", "profit", "events", "spend"]
KINDS: tuple[Kind, ...] = ("orders", "profit", "events", "spend")
Format = Literal["csv", "jsonl"]
YIELD_PER = 2000
_COMPONENTS = (
    "revenue_ex_vat",
    "vat",
    "cogs",
    "shipping_cost",
    "payment_fee",
    "handling_cost",
    "gross_profit",
    "expected_return_cost",
    "expected_profit",
    "realized_profit",
)


def _money(minor: int | None, currency: str) -> str | None:
    return None if minor is None else str(Decimal(int(minor)).scaleb(-exponent(currency)))


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _window(col: Any, date_from: date | None, date_to: date | None) -> list[Any]:
    """UTC calendar days, both ends included."""
    out = []
    if date_from:
        out.append(col >= datetime.combine(date_from, time.min, UTC))
    if date_to:
        out.append(col < datetime.combine(date_to + timedelta(days=1), time.min, UTC))
    return out


def _orders_query(
    shop: str | None, f: date | None, t: date | None
) -> tuple[Select[Any], Callable[[Any], dict[str, Any]]]:
    o = orders
    stmt = select(
        o.c.shop_id,
        o.c.order_id,
        o.c.name,
        o.c.created_at,
        o.c.processed_at,
        o.c.updated_at,
        o.c.cancelled_at,
        o.c.currency,
        o.c.financial_status,
        o.c.gateway,
        o.c.shipping_country,
        o.c.test,
        o.c.consent_marketing,
        o.c.consent_ads_tracking,
        o.c.utm_source,
        o.c.utm_medium,
        o.c.utm_campaign,
        o.c.utm_content,
        o.c.utm_term,
        o.c.fbclid,
        o.c.gclid,
        o.c.gbraid,
        o.c.wbraid,
        o.c.source,
    ).where(*_window(o.c.created_at, f, t), *([o.c.shop_id == shop] if shop else []))
    stmt = stmt.order_by(o.c.shop_id, o.c.created_at, o.c.order_id)

    def row(r: Any) -> dict[str, Any]:
        d = dict(r._mapping)
        d["has_fbclid"] = bool(d.pop("fbclid"))  # the click id itself is left out
        d["has_google_click"] = any([d.pop("gclid"), d.pop("gbraid"), d.pop("wbraid")])  # likewise
        for k in ("created_at", "processed_at", "updated_at", "cancelled_at"):
            d[k] = _ts(d[k])
        return d

    return stmt, row


def _profit_query(
    shop: str | None, f: date | None, t: date | None
) -> tuple[Select[Any], Callable[[Any], dict[str, Any]]]:
    ps = profit_snapshots
    latest = (
        select(ps.c.shop_id, ps.c.order_id, func.max(ps.c.version).label("v"))
        .group_by(ps.c.shop_id, ps.c.order_id)
        .subquery()
    )
    stmt = (
        select(orders.c.created_at.label("order_created_at"), ps)
        .join(
            latest,
            and_(
                latest.c.shop_id == ps.c.shop_id,
                latest.c.order_id == ps.c.order_id,
                latest.c.v == ps.c.version,
            ),
        )
        .join(orders, and_(orders.c.shop_id == ps.c.shop_id, orders.c.order_id == ps.c.order_id))
        .where(*_window(orders.c.created_at, f, t), *([ps.c.shop_id == shop] if shop else []))
        .order_by(ps.c.shop_id, orders.c.created_at, ps.c.order_id)
    )

    def row(r: Any) -> dict[str, Any]:
        m = r._mapping
        cur = m["currency"]
        d: dict[str, Any] = {
            "shop_id": m["shop_id"],
            "order_id": m["order_id"],
            "order_created_at": _ts(m["order_created_at"]),
            "version": m["version"],
            "snapshot_created_at": _ts(m["created_at"]),
            "reason": m["reason"],
            "currency": cur,
        }
        known = not m["missing_cost_lines"]  # a cost missing, no fallback: no profit, never 0 or revenue
        d.update({c: _money(m[c], cur) if known or c not in COST_DEPENDENT else None for c in _COMPONENTS})
        d["sendable"] = m["sendable"]
        d["sendable_reason"] = m["sendable_reason"]
        d["profit_known"] = known
        d["missing_cost_lines"] = int(m["missing_cost_lines"] or 0)
        d["breakdown"] = unpack(m["breakdown"])  # stored packed (store.breakdown_pack)
        return d

    return stmt, row


def _events_query(
    shop: str | None, f: date | None, t: date | None
) -> tuple[Select[Any], Callable[[Any], dict[str, Any]]]:
    ob = outbox
    stmt = select(
        ob.c.id,
        ob.c.shop_id,
        ob.c.pixel_id,
        ob.c.event_name,
        ob.c.event_id,
        ob.c.order_id,
        ob.c.event_time,
        ob.c.state,
        ob.c.attempts,
        ob.c.last_error,
        ob.c.meta_response,
        ob.c.created_at,
        ob.c.sent_at,
        ob.c.payload,
    ).where(*_window(ob.c.event_time, f, t), *([ob.c.shop_id == shop] if shop else []))
    stmt = stmt.order_by(ob.c.id)

    def row(r: Any) -> dict[str, Any]:
        d = dict(r._mapping)
        try:
            payload = json.loads(d.pop("payload") or "{}")
            custom = payload.get("custom_data") or {}
        except (ValueError, AttributeError):
            payload, custom = {}, {}
        response = d.pop("meta_response") or {}
        d["currency"] = custom.get("currency")
        d["value"] = custom.get("value")  # as sent to Meta (the Graph edge uses JSON numbers)
        d["net_revenue"] = custom.get("net_revenue")
        if is_google(d["pixel_id"]) and isinstance(payload, dict):  # conversionValue / an adjustment's value
            restated = payload.get("restatementValue") or {}
            d["currency"] = payload.get("currency") or restated.get("currencyCode")
            d["value"] = payload.get("conversionValue", restated.get("adjustedValue"))
        d["fbtrace_id"] = response.get("fbtrace_id") if isinstance(response, dict) else None
        for k in ("event_time", "created_at", "sent_at"):
            d[k] = _ts(d[k])
        return d

    return stmt, row


def _spend_query(
    shop: str | None, f: date | None, t: date | None
) -> tuple[Select[Any], Callable[[Any], dict[str, Any]]]:
    s = ad_spend
    conds = [s.c.day >= f] if f else []
    conds += [s.c.day <= t] if t else []
    stmt = (
        select(s)
        .where(*conds, *([s.c.shop_id == shop] if shop else []))
        .order_by(s.c.shop_id, s.c.day, s.c.row_key)
    )

    def row(r: Any) -> dict[str, Any]:
        d = dict(r._mapping)
        d.pop("id")
        d["day"] = d["day"].isoformat()
        d["spend"] = _money(d.pop("spend_minor"), d["currency"])
        d["meta_purchase_value"] = _money(d.pop("meta_purchase_value_minor"), d["currency"])
        d["fetched_at"] = _ts(d["fetched_at"])
        return d

    return stmt, row


_QUERIES = {"orders": _orders_query, "profit": _profit_query, "events": _events_query, "spend": _spend_query}


def iter_export(
    engine: Engine,
    kind: Kind,
    *,
    shop: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows one at a time; the database streams them (server-side cursor on PostgreSQL)."""
    if kind not in _QUERIES:
        raise ValueError(f"unknown export {kind!r}; choose one of {', '.join(KINDS)}")
    stmt, convert = _QUERIES[kind](shop, date_from, date_to)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=YIELD_PER).execute(stmt)
        for r in result:
            yield convert(r)


def write_export(rows: Iterator[dict[str, Any]], out: TextIO, fmt: Format) -> int:
    """Write CSV (header from the first row; nested values as JSON text) or JSON Lines."""
    n = 0
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        if fmt == "jsonl":
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
        else:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
                writer.writeheader()
            writer.writerow({k: _cell(v) for k, v in row.items()})
        n += 1
    return n


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value
