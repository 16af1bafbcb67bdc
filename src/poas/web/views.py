"""Read models shared by the JSON API and the dashboard: one builder per view, rendered twice.

A page and its API endpoint render the same pydantic model, so they can never disagree. Money
travels as decimal strings; timestamps are aware UTC.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from weakref import WeakKeyDictionary

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, and_, case, func, or_, select
from sqlalchemy.sql import ColumnElement

from poas.domain.advice import CampaignFigures, advise
from poas.domain.costs import CostRow
from poas.domain.fx import FxError
from poas.domain.money import exponent
from poas.domain.report_rows import ReportRow
from poas.services.ingest import recompute_profits
from poas.services.report import By, Report, build_report
from poas.settings import ShopConfig
from poas.sources.canonical import ParsedCost, RowError, read_costs_csv
from poas.store import costs as cost_store
from poas.store import outbox as outbox_store
from poas.store import rules as rule_store
from poas.store import snapshots as snapshot_store
from poas.store.orders import ensure_shop, from_minor
from poas.store.snapshots import Snapshot
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import order_lines, orders, profit_snapshots

# Match rate: Purchase events created in the window (minus a grace period for ones still in
# flight) that Meta accepted; below the threshold the dashboard raises an alert.
MATCH_WINDOW = timedelta(days=7)
MATCH_GRACE = timedelta(hours=1)
MATCH_ALERT_BELOW = Decimal("0.90")
DEAD_LIST_LIMIT = 200
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]
ZERO = Decimal(0)


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- delivery


class DeliveryPixel(BaseModel):
    pixel_id: str
    pending: int = 0
    sending: int = 0
    retry: int = 0
    sent: int = 0
    dead: int = 0
    oldest_waiting_age_s: int | None = Field(None, description="age of the oldest unsent event")
    paused: bool = False
    pause_reason: str | None = None
    paused_since: datetime | None = None
    paused_until: datetime | None = Field(None, description="null while paused: until resumed by hand")
    throttled_until: datetime | None = None
    purchases_eligible: int = Field(0, description="Purchase events queued in the match window")
    purchases_accepted: int = Field(0, description="of those, accepted by Meta")
    match_rate: Decimal | None = None
    match_alert: bool = False


class DeadEvent(BaseModel):
    id: int
    shop_id: str
    pixel_id: str
    event_name: str
    event_id: str
    order_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime


class DeliveryView(BaseModel):
    generated_at: datetime
    depth: int = Field(description="events waiting to be sent (pending, retry, sending)")
    oldest_waiting_age_s: int | None
    match_window_days: int
    match_alert_below: Decimal
    match_rate: Decimal | None
    match_alert: bool
    pixels: list[DeliveryPixel]
    dead: list[DeadEvent]


def _rate(accepted: int, eligible: int) -> Decimal | None:
    return None if eligible == 0 else (Decimal(accepted) / Decimal(eligible)).quantize(Decimal("0.0001"))


def purchase_match_query(now: datetime) -> Any:
    """Per pixel: Purchase events queued in the match window, and how many Meta accepted.

    Group by `outbox.c.pixel_id` before running it.
    """
    return select(
        outbox.c.pixel_id, func.count(), func.sum(case((outbox.c.state == "sent", 1), else_=0))
    ).where(
        outbox.c.event_name == "Purchase",
        outbox.c.created_at >= now - MATCH_WINDOW,
        outbox.c.created_at <= now - MATCH_GRACE,
    )


def delivery_view(conn: Connection, *, now: datetime, shops: list[str] | None) -> DeliveryView:
    shop_filter = outbox.c.shop_id.in_(shops) if shops is not None else None
    pixels: dict[str, DeliveryPixel] = {}

    def px(pixel_id: str) -> DeliveryPixel:
        return pixels.setdefault(pixel_id, DeliveryPixel(pixel_id=pixel_id))

    counts = select(outbox.c.pixel_id, outbox.c.state, func.count())
    oldest = select(outbox.c.pixel_id, func.min(outbox.c.created_at)).where(
        outbox.c.state.in_(("pending", "retry", "sending"))
    )
    eligible = purchase_match_query(now)
    dead = select(outbox).where(outbox.c.state == "dead").order_by(outbox.c.id.desc()).limit(DEAD_LIST_LIMIT)
    if shop_filter is not None:
        counts, oldest, eligible, dead = (q.where(shop_filter) for q in (counts, oldest, eligible, dead))
    for pixel_id, state, n in conn.execute(counts.group_by(outbox.c.pixel_id, outbox.c.state)):
        if state in ("pending", "sending", "retry", "sent", "dead"):
            setattr(px(pixel_id), state, int(n))
    for pixel_id, created in conn.execute(oldest.group_by(outbox.c.pixel_id)):
        if created is not None:
            px(pixel_id).oldest_waiting_age_s = max(0, int((now - created).total_seconds()))
    for pixel_id, n, accepted in conn.execute(eligible.group_by(outbox.c.pixel_id)):
        p = px(pixel_id)
        p.purchases_eligible, p.purchases_accepted = int(n), int(accepted or 0)
        p.match_rate = _rate(p.purchases_accepted, p.purchases_eligible)
        p.match_alert = p.match_rate is not None and p.match_rate < MATCH_ALERT_BELOW
    stats = outbox_store.stats(conn, now=now)
    for paused in stats.paused:
        if paused.pixel_id in pixels or shops is None:
            p = px(paused.pixel_id)
            p.paused, p.pause_reason = True, paused.reason or None
            p.paused_since, p.paused_until = paused.paused_at, paused.paused_until
    for pixel_id, until in stats.throttled.items():
        if pixel_id in pixels:
            pixels[pixel_id].throttled_until = until
    dead_rows = [
        DeadEvent(
            id=r["id"],
            shop_id=r["shop_id"],
            pixel_id=r["pixel_id"],
            event_name=r["event_name"],
            event_id=r["event_id"],
            order_id=r["order_id"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            created_at=r["created_at"],
        )
        for r in conn.execute(dead).mappings()
    ]
    rows = sorted(pixels.values(), key=lambda p: p.pixel_id)
    total_eligible = sum(p.purchases_eligible for p in rows)
    rate = _rate(sum(p.purchases_accepted for p in rows), total_eligible)
    ages = [p.oldest_waiting_age_s for p in rows if p.oldest_waiting_age_s is not None]
    return DeliveryView(
        generated_at=now,
        depth=sum(p.pending + p.sending + p.retry for p in rows),
        oldest_waiting_age_s=max(ages) if ages else None,
        match_window_days=MATCH_WINDOW.days,
        match_alert_below=MATCH_ALERT_BELOW,
        match_rate=rate,
        match_alert=rate is not None and rate < MATCH_ALERT_BELOW,
        pixels=rows,
        dead=dead_rows,
    )


def replay_dead(conn: Connection, *, ids: list[int] | None, shops: list[str] | None, now: datetime) -> int:
    """Dead events back to pending (same event_id); a shop caller can only touch its own events."""
    if shops is not None:
        q = select(outbox.c.id).where(and_(outbox.c.state == "dead", outbox.c.shop_id.in_(shops)))
        if ids is not None:
            q = q.where(outbox.c.id.in_(ids))
        ids = [int(i) for i in conn.execute(q).scalars()]
        if not ids:
            return 0
    return outbox_store.replay(conn, ids=ids, now=now)


# ---------------------------------------------------------------- orders


class OrderSummary(BaseModel):
    shop_id: str
    order_id: str
    name: str
    created_at: datetime
    currency: str
    financial_status: str
    test: bool
    cancelled: bool
    revenue_ex_vat: Decimal | None = Field(None, description="latest profit snapshot, shop currency")
    expected_profit: Decimal | None = None
    realized_profit: Decimal | None = None
    sendable: bool | None = None
    events_sent: int = 0
    events_total: int = 0


class OrderPage(BaseModel):
    orders: list[OrderSummary]
    total: int
    limit: int
    offset: int
    query: str | None


def _page_extras(
    conn: Connection, keys: list[tuple[str, str]]
) -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], tuple[int, int]]]:
    """Latest snapshot and (sent, total) event counts for one page of orders (index lookups only)."""
    snaps: dict[tuple[str, str], Any] = {}
    events: dict[tuple[str, str], tuple[int, int]] = {}
    t = profit_snapshots.c
    for shop_id in {k[0] for k in keys}:
        ids = [k[1] for k in keys if k[0] == shop_id]
        rows = conn.execute(
            select(
                t.order_id,
                t.version,
                t.currency,
                t.revenue_ex_vat,
                t.expected_profit,
                t.realized_profit,
                t.sendable,
            ).where(t.shop_id == shop_id, t.order_id.in_(ids))
        )
        for r in rows:
            key = (shop_id, r.order_id)
            if key not in snaps or r.version > snaps[key].version:
                snaps[key] = r
        counts = conn.execute(
            select(outbox.c.order_id, func.count(), func.sum(case((outbox.c.state == "sent", 1), else_=0)))
            .where(outbox.c.shop_id == shop_id, outbox.c.order_id.in_(ids))
            .group_by(outbox.c.order_id)
        )
        for order_id, total, sent in counts:
            events[(shop_id, order_id)] = (int(sent or 0), int(total))
    return snaps, events


def order_page(
    conn: Connection, *, shops: list[str] | None, query: str | None, limit: int = 50, offset: int = 0
) -> OrderPage:
    """Orders newest first, optionally matching `query` (order id, or part of the order name)."""
    o = orders.c
    # PostgreSQL refuses NUL in text: it is dropped from the search, on both engines.
    query = None if query is None else query.replace("\x00", "")
    where: list[ColumnElement[bool]] = []
    if shops is not None:
        where.append(o.shop_id.in_(shops))
    q = (query or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(o.order_id == q, o.name.ilike(pattern, escape="\\")))
    total = conn.execute(select(func.count()).select_from(orders).where(*where)).scalar_one()
    rows = conn.execute(
        select(
            o.shop_id,
            o.order_id,
            o.name,
            o.created_at,
            o.currency,
            o.financial_status,
            o.test,
            o.cancelled_at,
        )
        .where(*where)
        .order_by(o.created_at.desc(), o.order_id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    snaps, events = _page_extras(conn, [(r.shop_id, r.order_id) for r in rows])
    out = []
    for r in rows:
        snap = snaps.get((r.shop_id, r.order_id))
        sent, total_events = events.get((r.shop_id, r.order_id), (0, 0))
        out.append(
            OrderSummary(
                shop_id=r.shop_id,
                order_id=r.order_id,
                name=r.name,
                created_at=r.created_at,
                currency=r.currency,
                financial_status=r.financial_status,
                test=r.test,
                cancelled=r.cancelled_at is not None,
                revenue_ex_vat=None if snap is None else from_minor(snap.revenue_ex_vat, snap.currency),
                expected_profit=None if snap is None else from_minor(snap.expected_profit, snap.currency),
                realized_profit=None if snap is None else from_minor(snap.realized_profit, snap.currency),
                sendable=None if snap is None else snap.sendable,
                events_sent=sent,
                events_total=total_events,
            )
        )
    return OrderPage(orders=out, total=int(total), limit=limit, offset=offset, query=q or None)


class WaterfallStep(BaseModel):
    """One bar: a running total (`kind` total) or a change from the previous bar (`kind` delta)."""

    key: str
    label: str
    kind: Literal["total", "delta"]
    amount: Decimal  # the bar's value: the total, or the signed change
    start: Decimal
    end: Decimal
    source: str = ""


class OrderLineView(BaseModel):
    line_id: str
    key: str | None
    title: str
    quantity: int
    revenue_ex_vat: Decimal
    vat: Decimal
    cogs: Decimal
    cost_source: str
    p_return: Decimal
    return_rule: str | None
    expected_return_cost: Decimal


class EventView(BaseModel):
    id: int
    pixel_id: str
    event_name: str
    event_id: str
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    meta_response: dict[str, Any] | None
    payload: dict[str, Any] = Field(description="as sent; IP address and user agent masked")


class SnapshotView(BaseModel):
    version: int
    created_at: datetime
    reason: str
    expected_profit: Decimal
    realized_profit: Decimal
    sendable: bool


class OrderDetail(BaseModel):
    shop_id: str
    order_id: str
    name: str
    created_at: datetime
    currency: str
    financial_status: str
    gateway: str | None
    test: bool
    cancelled_at: datetime | None
    profit_currency: str | None
    sendable: bool | None
    sendable_reason: str | None
    waterfall: list[WaterfallStep]
    realized: list[WaterfallStep] = Field(description="after refunds: expected profit to realized profit")
    lines: list[OrderLineView]
    fallbacks: list[str]
    notes: list[str]
    fx: list[dict[str, Any]]
    events: list[EventView]
    snapshots: list[SnapshotView]


_WATERFALL = (
    ("vat", "VAT", "revenue_ex_vat"),
    ("cogs", "Cost of goods", None),
    ("shipping_cost", "Shipping cost", None),
    ("payment_fee", "Payment fees", None),
    ("handling_cost", "Handling", None),
    ("expected_return_cost", "Expected returns", None),
)
_REALIZED = (
    ("refunded_revenue_ex_vat", "Refunded revenue", -1),
    ("recovered_cogs", "Restocked goods recovered", 1),
    ("return_handling_cost", "Return handling", -1),
)
_MASKED_USER_DATA = ("client_ip_address", "client_user_agent")


def _describe(entry: Any) -> str:
    """A component's source (rule, cost row, basis) as `key: value` text."""
    if not isinstance(entry, dict):
        return ""
    parts = [f"{k}: {_short(v)}" for k, v in entry.items() if k != "amount" and v not in (None, "", [], {})]
    return "; ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_short(v) for v in value)
    return str(value)


def _amount(components: dict[str, Any], name: str, fallback: Decimal) -> Decimal:
    entry = components.get(name)
    if isinstance(entry, dict) and "amount" in entry:
        return Decimal(str(entry["amount"]))
    return fallback


def _total(key: str, label: str, amount: Decimal, source: str = "") -> WaterfallStep:
    step = WaterfallStep(key=key, label=label, kind="total", amount=amount, start=ZERO, end=amount)
    step.source = source
    return step


def _delta(key: str, label: str, delta: Decimal, running: Decimal, source: str = "") -> WaterfallStep:
    step = WaterfallStep(key=key, label=label, kind="delta", amount=delta, start=running, end=running + delta)
    step.source = source
    return step


def waterfall(snap: Snapshot) -> tuple[list[WaterfallStep], list[WaterfallStep]]:
    """Revenue incl. VAT → VAT → COGS → shipping → fees → handling → expected returns → profit.

    The second list walks gross profit to realized profit after refunds (empty without refunds).
    """
    a = snap.amounts
    comps: dict[str, Any] = dict(snap.breakdown.get("components") or {})
    running = a["revenue_ex_vat"] + a["vat"]
    steps = [_total("revenue", "Revenue incl. VAT", running)]
    for key, label, subtotal in _WATERFALL:
        steps.append(_delta(key, label, -a[key], running, _describe(comps.get(key))))
        running -= a[key]
        if subtotal:
            steps.append(_total(subtotal, "Revenue ex VAT", running, _describe(comps.get(subtotal))))
    steps.append(_total("expected_profit", "Expected profit", a["expected_profit"]))
    realized: list[WaterfallStep] = []
    if any(_amount(comps, k, ZERO) != 0 for k, _, _ in _REALIZED):
        running = a["gross_profit"]
        realized.append(_total("gross_profit", "Gross profit", running))
        for key, label, sign in _REALIZED:
            delta = sign * _amount(comps, key, ZERO)
            realized.append(_delta(key, label, delta, running, _describe(comps.get(key))))
            running += delta
        realized.append(_total("realized_profit", "Realized profit", a["realized_profit"]))
    return steps, realized


def _cost_source(cost: Any) -> str:
    """`cost book: 55.72 NOK from 2026-09-14 (row csv:…)`, or the fallback / missing verdict."""
    if not isinstance(cost, dict):
        return str(cost or "")
    if cost.get("source") == "cost book" and cost.get("unit_cost"):
        since = str(cost.get("valid_from") or "")[:10]
        unit = f"{cost['unit_cost']} {cost.get('currency', '')}"
        return f"cost book: {unit} from {since} (row {cost.get('row', '?')})"
    return _short(cost)


def _payload(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {"unreadable": True}
    if not isinstance(data, dict):
        return {"unreadable": True}
    user = data.get("user_data")
    if isinstance(user, dict):
        data["user_data"] = {k: ("(masked)" if k in _MASKED_USER_DATA else v) for k, v in user.items()}
    return data


def order_detail(conn: Connection, shop_id: str, order_id: str) -> OrderDetail | None:
    if "\x00" in shop_id or "\x00" in order_id:  # no stored id holds NUL (PostgreSQL cannot)
        return None
    row = (
        conn.execute(select(orders).where(orders.c.shop_id == shop_id, orders.c.order_id == order_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    snaps = snapshot_store.history(conn, shop_id, order_id)
    latest = snaps[-1] if snaps else None
    titles = {
        r.line_id: r.title
        for r in conn.execute(
            select(order_lines.c.line_id, order_lines.c.title).where(
                order_lines.c.shop_id == shop_id, order_lines.c.order_id == order_id
            )
        )
    }
    steps: list[WaterfallStep] = []
    realized: list[WaterfallStep] = []
    lines: list[OrderLineView] = []
    bd: dict[str, Any] = {}
    if latest is not None:
        steps, realized = waterfall(latest)
        bd = dict(latest.breakdown)
        for ln in bd.get("lines") or []:
            lines.append(
                OrderLineView(
                    line_id=str(ln.get("line_id")),
                    key=ln.get("key"),
                    title=titles.get(str(ln.get("line_id")), ""),
                    quantity=int(ln.get("quantity", 0)),
                    revenue_ex_vat=Decimal(str(ln.get("revenue_ex_vat", "0"))),
                    vat=Decimal(str(ln.get("vat", "0"))),
                    cogs=Decimal(str(ln.get("cogs", "0"))),
                    cost_source=_cost_source(ln.get("cost")),
                    p_return=Decimal(str(ln.get("p_return", "0"))),
                    return_rule=ln.get("return_rule"),
                    expected_return_cost=Decimal(str(ln.get("expected_return_cost", "0"))),
                )
            )
    events = [
        EventView(
            id=e["id"],
            pixel_id=e["pixel_id"],
            event_name=e["event_name"],
            event_id=e["event_id"],
            state=e["state"],
            attempts=e["attempts"],
            created_at=e["created_at"],
            sent_at=e["sent_at"],
            last_error=e["last_error"],
            meta_response=e["meta_response"],
            payload=_payload(e["payload"]),
        )
        for e in conn.execute(
            select(outbox)
            .where(outbox.c.shop_id == shop_id, outbox.c.order_id == order_id)
            .order_by(outbox.c.id)
        ).mappings()
    ]
    return OrderDetail(
        shop_id=row["shop_id"],
        order_id=row["order_id"],
        name=row["name"],
        created_at=row["created_at"],
        currency=row["currency"],
        financial_status=row["financial_status"],
        gateway=row["gateway"],
        test=row["test"],
        cancelled_at=row["cancelled_at"],
        profit_currency=latest.currency if latest else None,
        sendable=latest.sendable if latest else None,
        sendable_reason=latest.sendable_reason if latest else None,
        waterfall=steps,
        realized=realized,
        lines=lines,
        fallbacks=[str(f) for f in bd.get("fallbacks") or []],
        notes=[str(n) for n in bd.get("notes") or []],
        fx=[dict(f) for f in bd.get("fx") or [] if isinstance(f, dict)],
        events=events,
        snapshots=[
            SnapshotView(
                version=s.version,
                created_at=s.created_at,
                reason=s.reason,
                expected_profit=s.amounts["expected_profit"],
                realized_profit=s.amounts["realized_profit"],
                sendable=s.sendable,
            )
            for s in snaps
        ],
    )


# ---------------------------------------------------------------- reports and advice


class ReportLine(BaseModel):
    key: str = Field(description="campaign / ad set / ad id, product key or day; empty for the total")
    name: str
    spend: Decimal
    orders: int
    revenue: Decimal
    gross_profit: Decimal
    expected_profit: Decimal
    realized_profit: Decimal | None = Field(None, description="only when some orders' profit is final")
    roas: Decimal | None
    poas: Decimal | None
    poas_expected: Decimal | None
    margin: Decimal | None
    break_even_roas: Decimal | None
    meta_purchases: int
    meta_value: Decimal
    revenue_trap: bool


class AdviceLine(BaseModel):
    key: str
    name: str
    spend: Decimal
    proposed_spend: Decimal
    change: Decimal
    change_pct: Decimal | None
    poas: Decimal | None
    target_roas: Decimal | None
    reason: str


class AdviceView(BaseModel):
    budget: Decimal
    allocated: Decimal
    unallocated: Decimal
    target_poas: Decimal
    cap: Decimal
    rule: str
    disclaimer: str
    campaigns: list[AdviceLine]


class ReportView(BaseModel):
    shop_id: str
    currency: str
    by: str
    date_from: date
    date_to: date
    rows: list[ReportLine]
    total: ReportLine = Field(description="blended: all profit / all spend, attributed or not")
    notes: list[str]
    advice: AdviceView | None = Field(None, description="budget advice (campaign reports only)")


REFRESH_EVERY_S = 30.0
_REFRESHED: WeakKeyDictionary[Engine, dict[str, float]] = WeakKeyDictionary()  # shop -> last refresh
SORT_KEYS = ("name", "spend", "orders", "revenue", "gross_profit", "roas", "poas", "poas_expected", "margin")


def _q(value: Decimal | None, places: int) -> Decimal | None:
    return None if value is None else value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _line(row: ReportRow, places: int) -> ReportLine:
    f = row.figures
    return ReportLine(
        key=row.key,
        name=row.name,
        spend=f.spend,
        orders=f.orders,
        revenue=f.revenue,
        gross_profit=f.gross_profit,
        expected_profit=f.expected_profit,
        realized_profit=row.realized_profit,
        roas=_q(row.roas, 4),
        poas=_q(row.poas, 4),
        poas_expected=_q(row.poas_expected, 4),
        margin=_q(row.margin, 4),
        break_even_roas=_q(row.break_even_roas, 4),
        meta_purchases=f.meta_purchases,
        meta_value=f.meta_value,
        revenue_trap=row.revenue_trap,
    )


def advice_view(report: Report) -> AdviceView:
    figures = [
        CampaignFigures(r.key, r.name, r.figures.spend, r.figures.revenue, r.figures.gross_profit)
        for r in report.rows
        if r.key
    ]
    a = advise(figures)
    places = exponent(report.currency)
    return AdviceView(
        budget=a.budget,
        allocated=a.allocated,
        unallocated=a.unallocated,
        target_poas=a.target_poas,
        cap=a.cap,
        rule=a.rule,
        disclaimer=a.disclaimer,
        campaigns=[
            AdviceLine(
                key=c.key,
                name=c.name,
                spend=c.spend,
                proposed_spend=_q(c.proposed_spend, places) or ZERO,
                change=_q(c.change, places) or ZERO,
                change_pct=_q(c.change_pct, 4),
                poas=_q(c.poas, 4),
                target_roas=_q(c.target_roas, 4),
                reason=c.reason,
            )
            for c in a.campaigns
        ],
    )


def report_view(
    engine: Engine,
    shop: ShopConfig,
    *,
    by: By,
    now: datetime,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str | None = None,
    descending: bool = True,
) -> ReportView:
    """The report service's figures for one shop, optionally sorted.

    The rollups are refreshed first at most every REFRESH_EVERY_S per shop in this process: a
    refresh right after a large import rebuilds whole days, and a dashboard asks for several
    reports per page. Figures are therefore at most that many seconds behind the orders.
    """
    last = _REFRESHED.setdefault(engine, {})
    due = time.monotonic() - last.get(shop.id, -REFRESH_EVERY_S) >= REFRESH_EVERY_S
    report = build_report(
        engine, shop, by=by, now=now, date_from=date_from, date_to=date_to, refresh_first=due
    )
    if due:
        last[shop.id] = time.monotonic()
    places = exponent(report.currency)
    rows = [_line(r, places) for r in report.rows]
    if sort in SORT_KEYS:
        present = [r for r in rows if getattr(r, sort) is not None]
        missing = [r for r in rows if getattr(r, sort) is None]
        present.sort(key=lambda r: getattr(r, sort), reverse=descending)
        rows = present + missing
    return ReportView(
        shop_id=report.shop_id,
        currency=report.currency,
        by=report.by,
        date_from=report.date_from,
        date_to=report.date_to,
        rows=rows,
        total=_line(report.total, places),
        notes=list(report.notes),
        advice=advice_view(report) if by == "campaign" else None,
    )


# ---------------------------------------------------------------- costs


class CostLine(BaseModel):
    key: str = Field(description="variant id or SKU")
    unit_cost: Decimal
    currency: str
    valid_from: datetime
    valid_to: datetime | None = Field(None, description="when the next row for the key takes over")
    current: bool
    source: str


class RulesInfo(BaseModel):
    version: int
    format: str
    source: str
    loaded_at: datetime
    document: str


class CostsView(BaseModel):
    shop_id: str
    currency: str
    total: int
    query: str | None
    costs: list[CostLine]
    rules: RulesInfo | None


class UploadError(BaseModel):
    file: str
    line: int
    field: str | None
    message: str


class UploadResult(BaseModel):
    file: str
    imported: int = Field(description="cost rows written (one per variant id / SKU given)")
    rejected: int
    errors: list[UploadError] = Field(description="the first rejected rows (never their contents)")
    recomputed: int = Field(0, description="stored orders priced again")
    changed: int = Field(0, description="of those, orders whose profit changed (new snapshot)")


MAX_UPLOAD_ERRORS = 100


def costs_view(
    conn: Connection, shop: ShopConfig, *, now: datetime, query: str | None, limit: int = 500
) -> CostsView:
    """Every cost row with its validity window (the next row for the same key ends it)."""
    rows = sorted(cost_store.load_cost_rows(conn, shop.id), key=lambda r: (r.key, r.valid_from))
    q = (query or "").strip().lower()
    lines: list[CostLine] = []
    for i, r in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1].key == r.key else None
        valid_to = nxt.valid_from if nxt else None
        lines.append(
            CostLine(
                key=r.key,
                unit_cost=r.unit_cost,
                currency=r.currency,
                valid_from=r.valid_from,
                valid_to=valid_to,
                current=r.valid_from <= now and (valid_to is None or valid_to > now),
                source=r.source,
            )
        )
    if q:
        lines = [c for c in lines if q in c.key.lower()]
    stored = rule_store.latest_rules(conn, shop.id)
    rules = (
        RulesInfo(
            version=stored.version,
            format=stored.format,
            source=stored.source,
            loaded_at=stored.loaded_at,
            document=stored.document,
        )
        if stored
        else None
    )
    return CostsView(
        shop_id=shop.id,
        currency=shop.currency,
        total=len(lines),
        query=q or None,
        costs=lines[:limit],
        rules=rules,
    )


def _orders_with_keys(conn: Connection, shop_id: str, keys: set[str]) -> list[str]:
    found: set[str] = set()
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        found.update(
            conn.execute(
                select(order_lines.c.order_id)
                .where(order_lines.c.shop_id == shop_id)
                .where(or_(order_lines.c.variant_id.in_(chunk), order_lines.c.sku.in_(chunk)))
                .distinct()
            ).scalars()
        )
    return sorted(found)


def upload_costs(
    engine: Engine, shop: ShopConfig, path: Path, *, file_name: str, now: datetime
) -> UploadResult:
    """Import a cost CSV the way `poas import costs` does: good rows kept, bad rows listed by line.

    Affected stored orders are priced again, so their profit uses the new costs.
    """
    rows: list[CostRow] = []
    errors: list[UploadError] = []
    rejected = 0
    with engine.connect() as conn:
        fx = cost_store.load_fx_table(conn)
    for item in read_costs_csv(path, default_currency=shop.currency, timezone=shop.timezone):
        if isinstance(item, ParsedCost) and item.rows[0].currency != shop.currency:
            first = item.rows[0]
            try:
                fx.rate(
                    first.currency, shop.currency, first.valid_from if first.valid_from.year >= 1999 else now
                )
            except FxError:
                item = RowError(
                    file_name, item.line, "currency", f"no {first.currency}->{shop.currency} exchange rate"
                )
        if isinstance(item, RowError):
            rejected += 1
            if len(errors) < MAX_UPLOAD_ERRORS:
                errors.append(
                    UploadError(file=file_name, line=item.line, field=item.field, message=item.message)
                )
            continue
        rows.extend(item.rows)
    result = UploadResult(file=file_name, imported=0, rejected=rejected, errors=errors)
    if not rows:
        return result
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        result.imported = cost_store.import_costs(conn, shop.id, rows, now=now)
        ids = _orders_with_keys(conn, shop.id, {r.key for r in rows})
        if ids:
            done = recompute_profits(
                conn, shop, now=now, reason=f"costs uploaded from {file_name}", order_ids=ids
            )
            result.recomputed, result.changed = done.checked, done.changed
    _REFRESHED.pop(engine, None)  # profits changed: the next report refreshes its rollups
    return result
