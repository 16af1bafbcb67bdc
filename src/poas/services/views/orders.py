"""Order read models: the searchable order list and one order's profit waterfall, lines, events, history."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, and_, case, exists, func, or_, select
from sqlalchemy.sql import ColumnElement

from poas.domain.attribution import TOUCH_COLUMNS, Touch, attribute
from poas.domain.destinations import is_google
from poas.domain.money import exponent
from poas.services.new_customer_value import recorded
from poas.services.rollups import ad_catalog, attribution_config
from poas.services.views.common import ZERO, utcnow
from poas.services.views.delivery_reasons import reason_words
from poas.services.views.order_story import (
    CorrectionNote,
    CostSource,
    MetaStatus,
    Words,
    component_text,
    component_words,
    correction_note,
    cost_source,
    meta_status,
    not_queued_reason,
    profit_status,
    snapshot_reason,
)
from poas.services.views.order_values import RevenueView, SentValue, revenue_view, sent_value, sent_values
from poas.settings import ShopConfig
from poas.store import corrections
from poas.store import snapshots as snapshot_store
from poas.store.customers import order_types
from poas.store.orders import from_minor, load_orders
from poas.store.snapshots import Snapshot
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import order_lines, orders, profit_snapshots


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
    expected_profit: Decimal | None = Field(None, description="None when the profit is unknown")
    realized_profit: Decimal | None = None
    sendable: bool | None = None
    profit_known: bool | None = Field(
        None, description="false: a cost is missing with no fallback margin, so there is no profit figure"
    )
    events_sent: int = 0
    events_total: int = 0


class OrderFilters(BaseModel):
    """What the order list is narrowed to (all optional; combined with AND)."""

    created_from: datetime | None = Field(None, description="created at or after (aware)")
    created_before: datetime | None = Field(None, description="created before (aware)")
    campaign_id: str | None = Field(None, description="attributed to this Meta campaign (as the reports do)")
    negative_profit: bool = Field(False, description="expected profit below zero (known profit only)")
    missing_cost: bool = Field(False, description="a line has no cost and no fallback: profit unknown")
    status: str | None = Field(None, description="financial status, or `cancelled` (cancelled or voided)")

    def any(self) -> bool:
        return any(v not in (None, False) for v in self.model_dump().values())


class OrderPage(BaseModel):
    orders: list[OrderSummary]
    total: int
    limit: int
    offset: int
    query: str | None
    filters: OrderFilters = Field(default_factory=OrderFilters)


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
                t.missing_cost_lines,
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
    engine: Engine,
    *,
    shops: list[str] | None,
    query: str | None,
    limit: int = 50,
    offset: int = 0,
    filters: OrderFilters | None = None,
    shop: ShopConfig | None = None,
) -> OrderPage:
    """Orders newest first, optionally matching `query` (order id, or part of the order name) and the
    `filters`; a campaign filter needs the `shop` (its attribution settings)."""
    with engine.connect() as conn:
        return _order_page(
            conn,
            shops=shops,
            query=query,
            limit=limit,
            offset=offset,
            filters=filters or OrderFilters(),
            shop=shop,
        )


def local_day_bounds(
    timezone: str, day_from: date | None, day_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """Calendar days in the shop's zone as aware bounds: [`day_from` 00:00, the day after `day_to` 00:00)."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(day_from, time.min, tz) if day_from else None
    end = datetime.combine(day_to + timedelta(days=1), time.min, tz) if day_to else None
    return start, end


def _latest_snapshot_has(cond: Any) -> ColumnElement[bool]:
    """The order's newest profit snapshot satisfies `cond` (on the `ps` alias)."""
    o = orders.c
    newest = (
        select(func.max(_PS2.c.version))
        .where(_PS2.c.shop_id == o.shop_id, _PS2.c.order_id == o.order_id)
        .scalar_subquery()
    )
    return exists(
        select(_PS.c.version).where(
            _PS.c.shop_id == o.shop_id, _PS.c.order_id == o.order_id, _PS.c.version == newest, cond
        )
    )


_PS = profit_snapshots.alias("ps")
_PS2 = profit_snapshots.alias("ps2")


def filter_conditions(f: OrderFilters) -> list[ColumnElement[bool]]:
    """SQL conditions for every filter but the campaign (which needs attribution)."""
    o = orders.c
    where: list[ColumnElement[bool]] = []
    if f.created_from is not None:
        where.append(o.created_at >= f.created_from)
    if f.created_before is not None:
        where.append(o.created_at < f.created_before)
    if f.status == "cancelled":
        where.append(or_(o.cancelled_at.is_not(None), o.financial_status == "voided"))
    elif f.status:
        where.append(o.financial_status == f.status)
    if f.negative_profit:
        where.append(_latest_snapshot_has(and_(_PS.c.missing_cost_lines == 0, _PS.c.expected_profit < 0)))
    if f.missing_cost:
        where.append(_latest_snapshot_has(_PS.c.missing_cost_lines > 0))
    return where


def _campaign_keys(
    conn: Connection, where: list[ColumnElement[bool]], shop: ShopConfig | None, campaign_id: str
) -> list[tuple[str, str]]:
    """(shop, order) keys, newest first, whose click the reports attribute to `campaign_id`."""
    if shop is None:
        return []
    o = orders.c
    catalog = ad_catalog(conn, shop.id)
    config = attribution_config(shop)
    cols = tuple(o[c] for c in TOUCH_COLUMNS)
    rows = conn.execute(
        select(o.shop_id, o.order_id, *cols)
        .where(*where, o.shop_id == shop.id)
        .order_by(o.created_at.desc(), o.order_id.desc())
    )
    keys = []
    for r in rows.mappings():
        touch = Touch(**{c.name: r[c.name] for c in cols})
        if attribute(touch, catalog, config).campaign_id == campaign_id:
            keys.append((str(r["shop_id"]), str(r["order_id"])))
    return keys


def campaign_choices(engine: Engine, shop: ShopConfig) -> list[tuple[str, str]]:
    """(campaign id, name) of the shop's campaigns, by name, for the order list's campaign filter."""
    with engine.connect() as conn:
        names = ad_catalog(conn, shop.id).campaign_names
    return sorted(names.items(), key=lambda kv: (kv[1].lower(), kv[0]))


def _order_page(
    conn: Connection,
    *,
    shops: list[str] | None,
    query: str | None,
    limit: int,
    offset: int,
    filters: OrderFilters,
    shop: ShopConfig | None,
) -> OrderPage:
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
    where.extend(filter_conditions(filters))
    if filters.campaign_id:
        keys = _campaign_keys(conn, where, shop, filters.campaign_id)
        total = len(keys)
        page_keys = keys[offset : offset + limit]
        where = [o.shop_id == (shop.id if shop else ""), o.order_id.in_([k[1] for k in page_keys])]
        offset_sql = 0
    else:
        total = conn.execute(select(func.count()).select_from(orders).where(*where)).scalar_one()
        offset_sql = offset
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
        .offset(offset_sql)
    ).all()
    snaps, events = _page_extras(conn, [(r.shop_id, r.order_id) for r in rows])
    out = []
    for r in rows:
        snap = snaps.get((r.shop_id, r.order_id))
        sent, total_events = events.get((r.shop_id, r.order_id), (0, 0))
        known = snap is not None and not snap.missing_cost_lines
        out.append(
            OrderSummary(
                shop_id=r.shop_id,
                order_id=r.order_id,
                name=r.name,
                created_at=r.created_at,
                currency=r.currency,
                financial_status=r.financial_status,
                test=r.test,
                cancelled=r.cancelled_at is not None or r.financial_status == "voided",
                revenue_ex_vat=None if snap is None else from_minor(snap.revenue_ex_vat, snap.currency),
                expected_profit=from_minor(snap.expected_profit, snap.currency) if snap and known else None,
                realized_profit=from_minor(snap.realized_profit, snap.currency) if snap and known else None,
                sendable=None if snap is None else snap.sendable,
                profit_known=None if snap is None else known,
                events_sent=sent,
                events_total=total_events,
            )
        )
    return OrderPage(
        orders=out, total=int(total), limit=limit, offset=offset, query=q or None, filters=filters
    )


class WaterfallStep(BaseModel):
    """One bar: a running total (`kind` total) or a change from the previous bar (`kind` delta)."""

    key: str
    label: str
    kind: Literal["total", "delta"]
    amount: Decimal  # the bar's value: the total, or the signed change
    start: Decimal
    end: Decimal
    source: str = ""
    source_words: list[Words] = Field(default_factory=list, description="`source` as translatable sentences")


class OrderLineView(BaseModel):
    line_id: str
    key: str | None
    title: str
    quantity: int
    revenue_ex_vat: Decimal
    vat: Decimal
    cogs: Decimal | None = Field(description="None when the line has no cost and no fallback margin")
    cost_source: str = Field(description="where the unit cost came from, in words")
    cost: CostSource | None = Field(None, description="the same, in parts (unit cost, valid from, origin)")
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
    delivery: str = Field("queued", description="queued (pending, sending, retrying), sent or dead")
    value: Decimal | None = Field(None, description="custom_data.value told to Meta")
    net_revenue: Decimal | None = Field(None, description="custom_data.net_revenue (the profit) told to Meta")
    currency: str | None = None
    why: str | None = Field(None, description="why it is dead or retrying, in words")


class SnapshotView(BaseModel):
    version: int
    created_at: datetime
    reason: str
    reason_words: Words | None = Field(None, description="`reason` as a message and its args (known reasons)")
    expected_profit: Decimal | None = Field(description="None when the profit is unknown (missing cost)")
    realized_profit: Decimal | None
    sendable: bool
    profit_known: bool = True


class CorrectionView(BaseModel):
    correction_key: str
    trigger: str
    state: str
    reason: str
    final_profit: Decimal
    sent_net_revenue: Decimal | None
    append_net_revenue: Decimal | None
    append_event_id: str | None
    created_at: datetime


def _corrections(conn: Connection, shop_id: str, order_id: str) -> list[CorrectionView]:
    out = []
    for c in corrections.for_order(conn, shop_id, order_id):
        exp = exponent(c["currency"])

        def dec(v: int | None, exp: int = exp) -> Decimal | None:
            return None if v is None else Decimal(v).scaleb(-exp)

        out.append(
            CorrectionView(
                correction_key=c["correction_key"],
                trigger=c["trigger"],
                state=c["state"],
                reason=c["reason"],
                final_profit=Decimal(c["final_profit"]).scaleb(-exp),
                sent_net_revenue=dec(c["sent_net_revenue"]),
                append_net_revenue=dec(c["append_net_revenue"]),
                append_event_id=c["append_event_id"],
                created_at=c["created_at"],
            )
        )
    return out


def _profit_status(row: Any, snap: Snapshot | None, fixes: list[CorrectionView]) -> tuple[bool, Words]:
    """(final, wording) for the realized profit: never "final" or "realized" for what is not."""
    cancelled = row["cancelled_at"] is not None or row["financial_status"] == "voided"
    what = None if not cancelled else "voided" if row["cancelled_at"] is None else "cancelled"
    before = cancelled and snap is not None and "cancellation" not in (snap.breakdown.get("components") or {})
    final = next((c for c in fixes if c.correction_key == "final"), None)
    trigger = final.trigger if final is not None and not before else None
    return (not before and (final is not None or cancelled)), profit_status(trigger, what, before)


class NewCustomerValueView(BaseModel):
    """A new customer's predicted value on her Purchase (`[shops.customer_value]`), as recorded."""

    horizon_days: int
    predicted_future_profit: Decimal = Field(description="her later orders' profit within the horizon")
    predicted_ltv: Decimal | None = Field(None, description="custom_data.predicted_ltv sent, if any")
    share: Decimal = Field(description="new_customer_share: the part of the prediction added to net_revenue")
    added: Decimal = Field(description="added to net_revenue (and to AppendValue corrections)")
    currency: str
    model_fitted_at: datetime


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
    profit_known: bool | None = Field(
        None, description="false: a cost is missing with no fallback margin; the waterfall stops at revenue"
    )
    missing_cost_lines: int = Field(0, description="lines without a cost and without a fallback margin")
    waterfall: list[WaterfallStep]
    realized: list[WaterfallStep] = Field(
        description="after refunds and cancellation: gross profit to realized profit"
    )
    profit_final: bool = Field(
        False, description="the realized profit is final (ledger entry, or the order is cancelled / voided)"
    )
    profit_status: str = Field("", description="why the realized profit is final, or that it is not yet")
    profit_status_words: Words | None = Field(None, description="`profit_status` as a message and its args")
    lines: list[OrderLineView]
    fallbacks: list[str]
    notes: list[str]
    fx: list[dict[str, Any]]
    events: list[EventView]
    snapshots: list[SnapshotView]
    corrections: list[CorrectionView] = Field(
        default_factory=list, description="final-profit corrections: AppendValue queued, or why not"
    )
    revenue: RevenueView | None = Field(None, description="revenue ex VAT after refunds (latest snapshot)")
    sent_to_meta: list[SentValue] = Field(
        default_factory=list, description="every event's value, net_revenue and currency, oldest first"
    )
    last_sent_to_meta: SentValue | None = Field(
        None, description="the newest event for this order (its state says queued, sent or dead)"
    )
    meta: MetaStatus | None = Field(
        None, description="what Meta was told: sent, queued, dead, or not sent and why"
    )
    correction: CorrectionNote | None = Field(
        None, description="Meta's figure against today's profit, and whether an AppendValue will follow"
    )
    new_customer_value: NewCustomerValueView | None = Field(
        None, description="the new-customer value its Purchase carried (predicted_ltv, amount added)"
    )
    expected_profit: Decimal | None = Field(None, description="latest snapshot; None when unknown")
    realized_profit: Decimal | None = Field(None, description="latest snapshot; None when unknown")
    realized_first: bool = Field(
        False, description="show realized before expected: the profit is final or partly realized (refunds)"
    )
    customer_type: str = Field(
        "unknown", description="new (the customer's first paid order) | returning | unknown (docs/metrics.md)"
    )


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
    ("cancellation", "Cancelled: never earned or incurred", -1),
)
_MASKED_USER_DATA = ("client_ip_address", "client_user_agent")


def _amount(components: dict[str, Any], name: str, fallback: Decimal) -> Decimal:
    entry = components.get(name)
    if isinstance(entry, dict) and "amount" in entry:
        return Decimal(str(entry["amount"]))
    return fallback


def _total(key: str, label: str, amount: Decimal, entry: Any = None) -> WaterfallStep:
    step = WaterfallStep(key=key, label=label, kind="total", amount=amount, start=ZERO, end=amount)
    step.source, step.source_words = component_text(key, entry), component_words(key, entry)
    return step


def _delta(key: str, label: str, delta: Decimal, running: Decimal, entry: Any = None) -> WaterfallStep:
    step = WaterfallStep(key=key, label=label, kind="delta", amount=delta, start=running, end=running + delta)
    step.source, step.source_words = component_text(key, entry), component_words(key, entry)
    return step


def waterfall(snap: Snapshot) -> tuple[list[WaterfallStep], list[WaterfallStep]]:
    """Revenue incl. VAT → VAT → COGS → shipping → fees → handling → expected returns → profit.

    The second list walks gross profit to realized profit after refunds (empty without refunds).
    An order whose profit is unknown (a cost missing, no fallback) stops at revenue ex VAT.
    """
    a = snap.amounts
    comps: dict[str, Any] = dict(snap.breakdown.get("components") or {})
    running = a["revenue_ex_vat"] + a["vat"]
    steps = [_total("revenue", "Revenue incl. VAT", running)]
    if not snap.profit_known:
        steps.append(_delta("vat", "VAT", -a["vat"], running, comps.get("vat")))
        steps.append(_total("revenue_ex_vat", "Revenue ex VAT", a["revenue_ex_vat"]))
        return steps, []
    for key, label, subtotal in _WATERFALL:
        steps.append(_delta(key, label, -a[key], running, comps.get(key)))
        running -= a[key]
        if subtotal:
            steps.append(_total(subtotal, "Revenue ex VAT", running, comps.get(subtotal)))
    steps.append(_total("expected_profit", "Expected profit", a["expected_profit"]))
    realized: list[WaterfallStep] = []
    if any(_amount(comps, k, ZERO) != 0 for k, _, _ in _REALIZED):
        running = a["gross_profit"]
        realized.append(_total("gross_profit", "Gross profit", running))
        for key, label, sign in _REALIZED:
            delta = sign * _amount(comps, key, ZERO)
            realized.append(_delta(key, label, delta, running, comps.get(key)))
            running += delta
        realized.append(_total("realized_profit", "Realized profit", a["realized_profit"]))
    return steps, realized


def _cost_text(cost: CostSource) -> str:
    """The cost source in words for the API (`cost book: 150 NOK per unit from <valid_from> (file x)`)."""
    if cost.kind in ("cost_book", "platform"):
        since = f" from {cost.valid_from.isoformat()}" if cost.valid_from else ""
        origin = f" ({cost.origin})" if cost.origin else ""
        where = "cost book" if cost.kind == "cost_book" else "platform cost"
        return f"{where}: {cost.unit_cost} {cost.currency or ''} per unit{since}{origin}".replace("  ", " ")
    return cost.text


def _no_cost(line: Any) -> bool:
    cost = line.get("cost")
    return isinstance(cost, dict) and cost.get("source") == "missing"


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


def order_detail(
    engine: Engine,
    shop_id: str,
    order_id: str,
    *,
    shop: ShopConfig | None = None,
    now: datetime | None = None,
) -> OrderDetail | None:
    """One order's profit waterfall, lines, events, snapshots and corrections; None when not stored.

    With the shop's settings (`shop`), the page also says why nothing was sent and whether an
    AppendValue will correct what Meta was told."""
    if "\x00" in shop_id or "\x00" in order_id:  # no stored id holds NUL (PostgreSQL cannot)
        return None
    with engine.connect() as conn:
        return _order_detail(conn, shop_id, order_id, shop, now or utcnow())


def _order_detail(
    conn: Connection, shop_id: str, order_id: str, shop: ShopConfig | None, now: datetime
) -> OrderDetail | None:
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
                    cogs=None if _no_cost(ln) else Decimal(str(ln.get("cogs", "0"))),
                    cost_source=_cost_text(cost_source(ln.get("cost"))),
                    cost=cost_source(ln.get("cost")),
                    p_return=Decimal(str(ln.get("p_return", "0"))),
                    return_rule=ln.get("return_rule"),
                    expected_return_cost=Decimal(str(ln.get("expected_return_cost", "0"))),
                )
            )
    event_rows = list(
        conn.execute(
            select(outbox)
            .where(outbox.c.shop_id == shop_id, outbox.c.order_id == order_id)
            .order_by(outbox.c.id)
        ).mappings()
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
            delivery=v.state,
            value=v.value,
            net_revenue=v.net_revenue,
            currency=v.currency,
            why=reason_words(e["last_error"])[0] if e["state"] in ("dead", "retry") else None,
        )
        for e, v in zip(event_rows, [sent_value(e) for e in event_rows], strict=True)
    ]
    told = sent_values([e for e in event_rows if not is_google(e["pixel_id"])])  # what Meta was told
    fixes = _corrections(conn, shop_id, order_id)
    final, status = _profit_status(row, latest, fixes)
    loaded = load_orders(conn, shop_id, [order_id]).get(order_id) if not event_rows else None
    why_not = not_queued_reason(
        shop, loaded, latest.sendable if latest else None, latest.sendable_reason if latest else None
    )
    meta = meta_status(told, {e["id"]: e["last_error"] for e in event_rows}, why_not)
    known = latest is not None and latest.profit_known
    expected = latest.amounts["expected_profit"] if latest is not None and known else None
    realized_now = latest.amounts["realized_profit"] if latest is not None and known else None
    ncv = recorded(conn, shop_id, order_id)
    now_profit = realized_now if final else expected
    if now_profit is not None and ncv is not None:  # on the basis sent: with the new-customer value
        now_profit += ncv.added
    note = correction_note(
        meta,
        shop=shop,
        profit_now=now_profit,
        final=final,
        corrections=fixes,
        purchase_time=min(row["created_at"], now),
        now=now,
    )
    return OrderDetail(
        new_customer_value=None
        if ncv is None
        else NewCustomerValueView(
            horizon_days=ncv.horizon_days,
            predicted_future_profit=ncv.predicted_future,
            predicted_ltv=ncv.predicted_ltv,
            share=ncv.share,
            added=ncv.added,
            currency=ncv.currency,
            model_fitted_at=ncv.model_fitted_at,
        ),
        customer_type=order_types(conn, shop_id, [order_id])[order_id],
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
        profit_known=latest.profit_known if latest else None,
        missing_cost_lines=latest.missing_cost_lines if latest else 0,
        waterfall=steps,
        realized=realized,
        lines=lines,
        fallbacks=[str(f) for f in bd.get("fallbacks") or []],
        notes=[str(n) for n in bd.get("notes") or []],
        fx=[dict(f) for f in bd.get("fx") or [] if isinstance(f, dict)],
        events=events,
        corrections=fixes,
        revenue=revenue_view(latest) if latest else None,
        sent_to_meta=told,
        last_sent_to_meta=told[-1] if told else None,
        profit_final=final,
        profit_status=str(status),
        profit_status_words=status,
        meta=meta,
        correction=note,
        expected_profit=expected,
        realized_profit=realized_now,
        realized_first=final or bool(realized),
        snapshots=[
            SnapshotView(
                version=s.version,
                created_at=s.created_at,
                reason=s.reason,
                reason_words=snapshot_reason(s.reason),
                expected_profit=s.amounts["expected_profit"] if s.profit_known else None,
                realized_profit=s.amounts["realized_profit"] if s.profit_known else None,
                sendable=s.sendable,
                profit_known=s.profit_known,
            )
            for s in snaps
        ],
    )
