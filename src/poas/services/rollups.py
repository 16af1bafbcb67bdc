"""Daily rollups per shop and per channel / campaign / ad set / ad / product, rebuilt idempotently
per day.

An order belongs to the day of its `created_at` in the shop's time zone; test, cancelled and voided
orders are left out, and so are orders dated outside the shop's day window (`earliest_order_date` to
tomorrow). Rebuilds run in short write transactions of bounded size (`_rebuild`); a reader refreshes
with `refresh_if_free`, which never waits long for the write lock (docs/contracts.md, Transactions).
Figures come from each order's latest profit snapshot; realized profit counts only orders whose
profit is final (a "final" row in the correction ledger). An order whose profit is unknown (a cost
missing with no fallback margin) keeps its revenue but is left out of every profit sum and counted
in `orders_without_cost` / `revenue_without_cost_minor` instead. Product rows get spend allocated
from each campaign by the product's share of the campaign's attributed revenue that day. Channel
rows (`meta`, `google`, and "" for orders no channel claims) hold each channel's spend rows and the
orders `domain.attribution` gives it, whether or not a campaign matched.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, delete, func, select, text

from poas.domain.attribution import (
    CHANNEL_NAMES,
    META,
    TOUCH_COLUMNS,
    UNATTRIBUTED,
    UNATTRIBUTED_NAME,
    AdCatalog,
    AttributionConfig,
    Touch,
    attribute,
    entity_ids,
)
from poas.domain.fx import FxTable
from poas.domain.money import Money
from poas.settings import ShopConfig
from poas.store.costs import load_fx_table
from poas.store.customers import order_types, rebuild_customers
from poas.store.db import write_if_free
from poas.store.orders import upsert_insert
from poas.store.tables.customers import customer_orders
from poas.store.tables.foundation import order_lines, orders, profit_snapshots
from poas.store.tables.returns import profit_corrections
from poas.store.tables.spend import ad_spend, rollup_daily, rollup_marks

LEVELS = ("shop", "channel", "campaign", "adset", "ad", "product")
OVERLAP = timedelta(minutes=5)  # changes committed a little after their own timestamp are still seen
CHUNK_DAYS = 31  # days per chunk (one read to compute, one write to store) at most
CHUNK_ROWS = 2000  # a chunk ends after the day that passes this many rollup rows
CHUNK_SECONDS = 0.05  # ... or after the day whose computing passes this long
READ_WAIT_S = 0.1  # how long a reader's refresh waits for the write lock before reading as is


@dataclass
class _Fig:
    name: str = ""
    spend_minor: int = 0
    orders: int = 0
    revenue_minor: int = 0
    gross_profit_minor: int = 0
    expected_profit_minor: int = 0
    final_orders: int = 0
    realized_profit_minor: int = 0
    meta_purchases: int = 0
    meta_value_minor: int = 0
    orders_without_cost: int = 0  # unknown profit: counted here, left out of every profit sum
    revenue_without_cost_minor: int = 0
    # contribution-margin components of the known-profit orders (docs/metrics.md)
    cogs_minor: int = 0
    shipping_cost_minor: int = 0
    payment_fee_minor: int = 0
    handling_cost_minor: int = 0
    return_cost_minor: int = 0
    # new vs returning customers (poas.domain.customers); orders of neither are "unknown"
    new_orders: int = 0
    new_revenue_minor: int = 0
    new_gross_profit_minor: int = 0
    new_expected_profit_minor: int = 0
    new_realized_profit_minor: int = 0
    returning_orders: int = 0
    returning_revenue_minor: int = 0
    returning_gross_profit_minor: int = 0
    returning_expected_profit_minor: int = 0
    returning_realized_profit_minor: int = 0


_SUMMED = [f.name for f in fields(_Fig) if f.name != "name"]


@dataclass
class _Context:
    shop: ShopConfig
    tz: ZoneInfo
    catalog: AdCatalog
    fx: FxTable | None
    config: AttributionConfig


def _bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tz).astimezone(UTC)
    return start, end


def ad_catalog(conn: Connection, shop_id: str) -> AdCatalog:
    """The campaigns, ad sets and ads seen in the shop's spend rows (ids, names, parents, channel)."""
    cat = AdCatalog()
    cols = [
        ad_spend.c[n]
        for n in ("campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name", "channel")
    ]
    for r in conn.execute(select(*cols).where(ad_spend.c.shop_id == shop_id).distinct()):
        cat.add(*r)
    return cat


def _to_shop(ctx: _Context, minor: int, currency: str, day: date) -> int:
    if currency == ctx.shop.currency or minor == 0:
        return minor
    if ctx.fx is None:
        raise ValueError(f"no FX table to convert {currency} to {ctx.shop.currency}")
    converted, _ = ctx.fx.convert(Money.from_minor(minor, currency), ctx.shop.currency, day)
    return converted.minor_units()


@dataclass(frozen=True, slots=True)
class _DayOrder:
    order_id: str
    touch: Touch
    currency: str
    revenue_ex_vat: int
    gross_profit: int
    expected_profit: int
    realized_profit: int
    missing_cost_lines: int = 0  # > 0: the profit is unknown (a cost missing, no fallback)
    components: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # cogs, shipping, fee, handling, returns
    customer: str = "unknown"  # new | returning | unknown


_COMPONENTS = ("cogs", "shipping_cost", "payment_fee", "handling_cost", "expected_return_cost")
_COMPONENT_FIELDS = (
    "cogs_minor",
    "shipping_cost_minor",
    "payment_fee_minor",
    "handling_cost_minor",
    "return_cost_minor",
)
_CHUNK = 500  # ids per IN (...): every per-day read goes orders-first, then by primary key


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _day_orders(conn: Connection, shop_id: str, start: datetime, end: datetime) -> list[_DayOrder]:
    """The day's orders (index range on created_at) with their latest snapshot (by primary key)."""
    o = orders
    heads = conn.execute(
        select(o.c.order_id, *(o.c[c] for c in TOUCH_COLUMNS)).where(
            o.c.shop_id == shop_id,
            o.c.created_at >= start,
            o.c.created_at < end,
            o.c.test.is_(False),
            o.c.cancelled_at.is_(None),
            o.c.financial_status != "voided",  # a failed or voided payment: nothing was sold
        )
    ).all()
    ps = profit_snapshots
    latest: dict[str, Any] = {}
    for ids in _chunks([h.order_id for h in heads]):
        rows = conn.execute(
            select(
                ps.c.order_id,
                ps.c.version,
                ps.c.currency,
                ps.c.revenue_ex_vat,
                ps.c.gross_profit,
                ps.c.expected_profit,
                ps.c.realized_profit,
                ps.c.missing_cost_lines,
                *(ps.c[c] for c in _COMPONENTS),
            ).where(ps.c.shop_id == shop_id, ps.c.order_id.in_(ids))
        )
        for r in rows:
            if r.order_id not in latest or r.version > latest[r.order_id].version:
                latest[r.order_id] = r
    kinds = order_types(conn, shop_id, [h.order_id for h in heads])
    out = []
    for h in heads:
        snap = latest.get(h.order_id)
        if snap is None:  # not priced (yet): nothing to add up
            continue
        touch = Touch(*(h._mapping[c] for c in TOUCH_COLUMNS))
        out.append(
            _DayOrder(
                h.order_id,
                touch,
                snap.currency,
                snap.revenue_ex_vat,
                snap.gross_profit,
                snap.expected_profit,
                snap.realized_profit,
                int(snap.missing_cost_lines or 0),
                tuple(int(snap._mapping[c]) for c in _COMPONENTS),  # type: ignore[arg-type]
                kinds.get(h.order_id, "unknown"),
            )
        )
    return out


def _day_lines(conn: Connection, shop_id: str, order_ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    ol = order_lines
    for ids in _chunks(order_ids):
        rows = conn.execute(
            select(
                ol.c.order_id,
                ol.c.product_id,
                ol.c.sku,
                ol.c.title,
                ol.c.quantity,
                ol.c.unit_price,
                ol.c.discount,
                ol.c.tax,
                ol.c.gift_card,
                orders.c.prices_include_vat,
            )
            .select_from(ol)
            .join(orders, and_(orders.c.shop_id == ol.c.shop_id, orders.c.order_id == ol.c.order_id))
            .where(ol.c.shop_id == shop_id, ol.c.order_id.in_(ids))
        )
        for r in rows:
            out[r.order_id].append(r)
    return out


def _finals(conn: Connection, shop_id: str, order_ids: list[str]) -> set[str]:
    pc = profit_corrections
    found: set[str] = set()
    for ids in _chunks(order_ids):
        rows = conn.execute(
            select(pc.c.order_id).where(
                pc.c.shop_id == shop_id, pc.c.correction_key == "final", pc.c.order_id.in_(ids)
            )
        )
        found.update(r.order_id for r in rows)
    return found


def _line_revenue(line: Any) -> int:
    gross = int(line.unit_price) * int(line.quantity) - int(line.discount)
    return gross - int(line.tax) if line.prices_include_vat else gross


def _split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split an integer by weights, exactly (the rounding remainder goes to the largest weight)."""
    whole = sum(weights.values())
    if whole == 0 or not weights:
        return {}
    parts = {k: total * w // whole for k, w in weights.items()}
    biggest = max(weights, key=lambda k: (weights[k], k))
    parts[biggest] += total - sum(parts.values())
    return parts


def _build_day(conn: Connection, ctx: _Context, day: date) -> dict[tuple[str, str], _Fig]:
    shop_id = ctx.shop.id
    start, end = _bounds(day, ctx.tz)
    figs: dict[tuple[str, str], _Fig] = defaultdict(_Fig)
    figs[("shop", "")].name = shop_id

    campaign_spend: dict[str, int] = defaultdict(int)
    for r in conn.execute(select(ad_spend).where(ad_spend.c.shop_id == shop_id, ad_spend.c.day == day)):
        cid, sid, aid = entity_ids(_spend_row_view(r))
        spend = _to_shop(ctx, r.spend_minor, r.currency, day)
        value = _to_shop(ctx, r.meta_purchase_value_minor, r.currency, day)
        campaign_spend[cid] += spend
        channel = ("channel", r.channel or META)
        for key in (("shop", ""), channel, ("campaign", cid), ("adset", sid), ("ad", aid)):
            f = figs[key]
            f.spend_minor += spend
            f.meta_purchases += r.meta_purchases
            f.meta_value_minor += value

    day_orders = _day_orders(conn, shop_id, start, end)
    ids = [o.order_id for o in day_orders]
    lines = _day_lines(conn, shop_id, ids)
    finals = _finals(conn, shop_id, ids)
    product_rev: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # campaign -> product
    for o in day_orders:
        got = attribute(o.touch, ctx.catalog, ctx.config)
        known = o.missing_cost_lines == 0  # unknown profit: revenue kept, counted apart, never profit
        rev = _to_shop(ctx, o.revenue_ex_vat, o.currency, day)
        amounts = {"revenue_minor": rev}
        if known:
            amounts["gross_profit_minor"] = _to_shop(ctx, o.gross_profit, o.currency, day)
            amounts["expected_profit_minor"] = _to_shop(ctx, o.expected_profit, o.currency, day)
            for name, minor in zip(_COMPONENT_FIELDS, o.components, strict=True):
                amounts[name] = _to_shop(ctx, minor, o.currency, day)
        else:
            amounts["revenue_without_cost_minor"] = rev
        final = known and o.order_id in finals
        realized = _to_shop(ctx, o.realized_profit, o.currency, day) if final else 0
        if o.customer != "unknown":
            kind = o.customer
            amounts[f"{kind}_orders"] = 1
            amounts[f"{kind}_revenue_minor"] = rev
            if known:
                amounts[f"{kind}_gross_profit_minor"] = amounts["gross_profit_minor"]
                amounts[f"{kind}_expected_profit_minor"] = amounts["expected_profit_minor"]
            if final:
                amounts[f"{kind}_realized_profit_minor"] = realized
        keys = [("shop", ""), ("channel", got.channel)]
        keys += [("campaign", got.campaign_id), ("adset", got.adset_id), ("ad", got.ad_id)]
        for key in keys:
            _add_order(figs[key], amounts, final, realized, known)
        weights = _product_weights(lines.get(o.order_id, []))
        if not weights:
            continue
        shares = {name: _split(v, weights) for name, v in amounts.items() if not name.endswith("_orders")}
        real_shares = _split(realized, weights)
        for pid in weights:
            f = figs[("product", pid)]
            f.orders += 1
            f.orders_without_cost += 0 if known else 1
            for name in amounts:
                add = amounts[name] if name.endswith("_orders") else shares[name][pid]
                setattr(f, name, getattr(f, name) + add)
            if final:
                f.final_orders += 1
                f.realized_profit_minor += real_shares[pid]
            product_rev[got.campaign_id][pid] += shares["revenue_minor"][pid]

    for cid, spend in campaign_spend.items():
        revenue = product_rev.get(cid, {}) if cid != UNATTRIBUTED else {}
        alloc = _split(spend, dict(revenue)) or {UNATTRIBUTED: spend}
        for pid, part in alloc.items():
            figs[("product", pid)].spend_minor += part
    _names(figs, ctx.catalog, lines)
    return figs


def _add_order(f: _Fig, amounts: dict[str, int], final: bool, realized: int, known: bool) -> None:
    f.orders += 1
    f.orders_without_cost += 0 if known else 1
    for name, value in amounts.items():
        setattr(f, name, getattr(f, name) + value)
    if final:
        f.final_orders += 1
        f.realized_profit_minor += realized


def _product_key(line: Any) -> str:
    return str(line.product_id or (f"sku:{line.sku}" if line.sku else f"title:{line.title}"))


def _product_weights(lines: list[Any]) -> dict[str, int]:
    weights: dict[str, int] = defaultdict(int)
    for line in lines:
        if not line.gift_card:
            weights[_product_key(line)] += max(_line_revenue(line), 0)
    return {k: v for k, v in weights.items() if v > 0}


def _names(figs: dict[tuple[str, str], _Fig], catalog: AdCatalog, lines: dict[str, list[Any]]) -> None:
    titles = {_product_key(ln): ln.title for rows in lines.values() for ln in rows}
    sources = {"campaign": catalog.campaign_names, "adset": catalog.adset_names, "ad": catalog.ad_names}
    for (level, key), f in figs.items():
        if level == "shop":
            continue
        if level == "channel":
            f.name = CHANNEL_NAMES.get(key, key)
        elif key == UNATTRIBUTED:
            f.name = "(spend without attributed sales)" if level == "product" else UNATTRIBUTED_NAME
        elif level == "product":
            f.name = titles.get(key, key)
        else:
            f.name = sources[level].get(key, key)


@dataclass(frozen=True, slots=True)
class _RowView:
    campaign_id: str | None
    campaign_name: str | None
    adset_id: str | None
    adset_name: str | None
    ad_id: str | None
    ad_name: str | None


def _spend_row_view(r: Any) -> Any:
    return _RowView(r.campaign_id, r.campaign_name, r.adset_id, r.adset_name, r.ad_id, r.ad_name)


def attribution_config(shop: ShopConfig) -> AttributionConfig:
    """The shop's `[shops.attribution]` settings as the domain's attribution config."""
    a = shop.attribution
    return AttributionConfig(
        campaign_param=a.campaign_param,
        adset_param=a.adset_param,
        ad_param=a.ad_param,
        id_param=a.id_param,
        mapping=dict(a.mapping),
        match_names=a.match_names,
        require_meta_source=a.require_meta_source,
    )


def _context(conn: Connection, shop: ShopConfig, config: AttributionConfig | None) -> _Context:
    needs_fx = conn.execute(
        select(func.count())
        .select_from(ad_spend)
        .where(ad_spend.c.shop_id == shop.id, ad_spend.c.currency != shop.currency)
    ).scalar_one()
    fx = load_fx_table(conn) if needs_fx else None
    return _Context(
        shop, ZoneInfo(shop.timezone), ad_catalog(conn, shop.id), fx, config or attribution_config(shop)
    )


def _write(conn: Connection, shop: ShopConfig, day: date, figs: dict[tuple[str, str], _Fig]) -> int:
    conn.execute(delete(rollup_daily).where(rollup_daily.c.shop_id == shop.id, rollup_daily.c.day == day))
    rows = [
        {
            "shop_id": shop.id,
            "day": day,
            "level": level,
            "key": key,
            "currency": shop.currency,
            "spend_allocated": 1 if level == "product" else 0,
            "name": f.name,
            **{n: getattr(f, n) for n in _SUMMED},
        }
        for (level, key), f in figs.items()
    ]
    if rows:
        conn.execute(rollup_daily.insert(), rows)
    return len(rows)


def _lock_shop(conn: Connection, shop_id: str, *, wait: bool = True) -> bool:
    """One rebuild per shop at a time on PostgreSQL (SQLite's BEGIN IMMEDIATE already serializes).

    Without it two processes refreshing at once (two dashboards, a report and a worker) both delete a
    day, and the second insert hits the first one's rows: a unique violation, a 500 on the page.
    With `wait=False` it does not queue behind another rebuild: False when one holds the shop.
    """
    if conn.dialect.name != "postgresql":
        return True
    key = {"key": f"poas.rollups:{shop_id}"}
    if wait:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), key)
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), key).scalar())


def day_window(shop: ShopConfig, now: datetime) -> tuple[date, date]:
    """The days a shop's rollups cover: its `earliest_order_date` to tomorrow in the shop's time zone.

    An order dated outside it (1970, 1800, 9999: refused at intake, but a store may hold one from
    before that check or from a direct import) is left out of the rollups instead of making them span
    centuries of empty days (or overflow the calendar).
    """
    return shop.earliest_order_date, _local_day(now, ZoneInfo(shop.timezone)) + timedelta(days=1)


def _utc_window(shop: ShopConfig, now: datetime) -> tuple[datetime, datetime]:
    first, last = day_window(shop, now)
    tz = ZoneInfo(shop.timezone)
    return _bounds(first, tz)[0], _bounds(last, tz)[1]


def _writer(engine: Engine, wait_s: float | None) -> contextlib.AbstractContextManager[Connection | None]:
    return engine.begin() if wait_s is None else write_if_free(engine, wait_s)


def _rebuild(
    engine: Engine,
    shop: ShopConfig,
    days: Iterable[date],
    *,
    now: datetime,
    config: AttributionConfig | None,
    wait_s: float | None,
) -> tuple[int, bool]:
    """Rebuild `days` (those inside the shop's day window) in short write transactions.

    Days are computed in chunks of at most CHUNK_DAYS days, a chunk ending after the day that passes
    CHUNK_ROWS rows or CHUNK_SECONDS. Each chunk is computed in a read (on SQLite a deferred
    transaction beside the writers) and then written in its own write transaction, which only deletes
    and inserts rows: webhooks and other writers get the lock in between and never wait for the
    computing. With `wait_s`, a write that cannot get the lock within that many seconds (or the shop's
    rebuild lock on PostgreSQL) stops the rebuild: (rows written, False). Otherwise (rows, True).

    Two refreshes at once may write a day in the other order than they read it; the older figures
    stay only until the next refresh, which redoes every day changed since the watermark minus
    OVERLAP (the watermark is the `now` taken before reading).
    """
    first, last = day_window(shop, now)
    wanted = sorted(d for d in set(days) if first <= d <= last)
    written, i = 0, 0
    ctx: _Context | None = None
    while i < len(wanted):
        batch: list[tuple[date, dict[tuple[str, str], _Fig]]] = []
        started, rows = monotonic(), 0
        with engine.connect() as conn:  # compute in a read: one snapshot, beside any writer
            ctx = ctx or _context(conn, shop, config)
            while i < len(wanted) and len(batch) < CHUNK_DAYS and rows < CHUNK_ROWS:
                if batch and monotonic() - started >= CHUNK_SECONDS:
                    break
                figs = _build_day(conn, ctx, wanted[i])
                batch.append((wanted[i], figs))
                rows, i = rows + len(figs), i + 1
        with _writer(engine, wait_s) as wconn:
            if wconn is None or not _lock_shop(wconn, shop.id, wait=wait_s is None):
                return written, False
            for day, figs in batch:
                written += _write(wconn, shop, day, figs)
    return written, True


def rebuild_days(
    engine: Engine,
    shop: ShopConfig,
    days: Iterable[date],
    *,
    now: datetime | None = None,
    config: AttributionConfig | None = None,
) -> int:
    """Recompute the rollups of `days` from orders, snapshots and spend; returns rows written.

    Days outside the shop's day window (`day_window`) are skipped; the work is split into short
    write transactions (see `_rebuild`), each waiting for the write lock as any writer does.
    """
    written, _ = _rebuild(engine, shop, days, now=now or datetime.now(UTC), config=config, wait_s=None)
    return written


def _local_day(ts: datetime, tz: ZoneInfo) -> date:
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(tz).date()


def _all_days(engine: Engine, shop: ShopConfig, now: datetime) -> list[date]:
    """Every day from the shop's first order or spend row to its last, inside its day window."""
    tz = ZoneInfo(shop.timezone)
    first, last = day_window(shop, now)
    lo, hi = _utc_window(shop, now)
    o = orders.c
    with engine.connect() as conn:  # a read: deferred on SQLite, beside any writer
        o_min, o_max = conn.execute(
            select(func.min(o.created_at), func.max(o.created_at)).where(
                o.shop_id == shop.id, o.created_at >= lo, o.created_at < hi
            )
        ).one()
        s_min, s_max = conn.execute(
            select(func.min(ad_spend.c.day), func.max(ad_spend.c.day)).where(
                ad_spend.c.shop_id == shop.id, ad_spend.c.day >= first, ad_spend.c.day <= last
            )
        ).one()
    bounds = [d for d in (s_min, s_max) if d is not None]
    bounds += [_local_day(t, tz) for t in (o_min, o_max) if t is not None]
    if not bounds:
        return []
    start, end = max(min(bounds), first), min(max(bounds), last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _ensure_customers(engine: Engine, shop: ShopConfig, now: datetime, wait_s: float | None) -> None:
    """Place the shop's orders in customer histories once, when it has orders but none are placed
    (a store upgraded to 0017): a full rebuild needs them for new vs returning. One long write, so
    only writers' rebuilds do it (a reader's refresh, `wait_s` set, leaves it to them or to `poas
    customers rebuild`; its orders count as unknown customers until then)."""
    if wait_s is not None:
        return
    with engine.connect() as conn:
        has_orders = conn.execute(
            select(orders.c.order_id).where(orders.c.shop_id == shop.id).limit(1)
        ).first()
        placed = conn.execute(
            select(customer_orders.c.order_id).where(customer_orders.c.shop_id == shop.id).limit(1)
        ).first()
    if has_orders is None or placed is not None:
        return
    with engine.begin() as conn:
        rebuild_customers(conn, shop.id, now=now)


def _rebuild_all(
    engine: Engine, shop: ShopConfig, now: datetime, config: AttributionConfig | None, wait_s: float | None
) -> tuple[int, bool]:
    _ensure_customers(engine, shop, now, wait_s)
    written, done = _rebuild(
        engine, shop, _all_days(engine, shop, now), now=now, config=config, wait_s=wait_s
    )
    return written, done and _set_mark(engine, shop.id, now, wait_s)


def rebuild_all(
    engine: Engine, shop: ShopConfig, *, now: datetime, config: AttributionConfig | None = None
) -> int:
    """Rebuild every day from the first order or spend row to the last, and move the watermark."""
    written, _ = _rebuild_all(engine, shop, now, config, None)
    return written


def _set_mark(engine: Engine, shop_id: str, now: datetime, wait_s: float | None = None) -> bool:
    with _writer(engine, wait_s) as conn:
        if conn is None:
            return False
        stmt = upsert_insert(conn, rollup_marks).values(shop_id=shop_id, watermark=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["shop_id"], set_={"watermark": now}))
    return True


def changed_days(
    conn: Connection, shop: ShopConfig, since: datetime, *, now: datetime | None = None
) -> set[date]:
    """Days touched by orders, snapshots, final corrections or spend recorded at or after `since`
    (inside the shop's day window)."""
    tz = ZoneInfo(shop.timezone)
    lo, hi = _utc_window(shop, now or datetime.now(UTC))
    first, last = day_window(shop, now or datetime.now(UTC))
    o, ps, pc, co = orders, profit_snapshots, profit_corrections, customer_orders
    dated = (o.c.shop_id == shop.id, o.c.created_at >= lo, o.c.created_at < hi)
    stamps = [
        select(o.c.created_at).where(*dated, o.c.ingested_at >= since),
        select(o.c.created_at)
        .join(ps, and_(ps.c.shop_id == o.c.shop_id, ps.c.order_id == o.c.order_id))
        .where(*dated, ps.c.created_at >= since),
        # the corrections first, as a set (a join let SQLite scan the recent corrections once per order:
        # 6 s for 6,000 orders and 5,000 corrections)
        select(o.c.created_at).where(
            *dated,
            o.c.order_id.in_(select(pc.c.order_id).where(pc.c.shop_id == shop.id, pc.c.created_at >= since)),
        ),
        # an order renumbered (an earlier order of its customer arrived or was cancelled)
        select(co.c.placed_at).where(
            co.c.shop_id == shop.id, co.c.placed_at >= lo, co.c.placed_at < hi, co.c.changed_at >= since
        ),
    ]
    days: set[date] = set()
    for stmt in stamps:
        days.update(_local_day(r[0], tz) for r in conn.execute(stmt.distinct()))
    sp = ad_spend.c
    spend_days = select(sp.day).where(
        sp.shop_id == shop.id, sp.fetched_at >= since, sp.day >= first, sp.day <= last
    )
    days.update(r[0] for r in conn.execute(spend_days.distinct()))
    return days


def _refresh(
    engine: Engine, shop: ShopConfig, now: datetime, config: AttributionConfig | None, wait_s: float | None
) -> tuple[int, bool]:
    _ensure_customers(engine, shop, now, wait_s)  # placed orders are new changes: their days follow
    with engine.connect() as conn:  # a read: deferred on SQLite, beside any writer
        mark = conn.execute(
            select(rollup_marks.c.watermark).where(rollup_marks.c.shop_id == shop.id)
        ).scalar()
        days = None if mark is None else changed_days(conn, shop, mark - OVERLAP, now=now)
    if days is None:
        return _rebuild_all(engine, shop, now, config, wait_s)
    written, done = _rebuild(engine, shop, days, now=now, config=config, wait_s=wait_s)
    return written, done and _set_mark(engine, shop.id, now, wait_s)


def refresh(
    engine: Engine, shop: ShopConfig, *, now: datetime, config: AttributionConfig | None = None
) -> int:
    """Bring the rollups up to date: everything the first time, then only the days that changed.

    It waits for the write lock like any writer (the worker, `poas report --rebuild`, a spend sync).
    """
    written, _ = _refresh(engine, shop, now, config, None)
    return written


def refresh_if_free(
    engine: Engine,
    shop: ShopConfig,
    *,
    now: datetime,
    wait_s: float = READ_WAIT_S,
    config: AttributionConfig | None = None,
) -> bool:
    """`refresh` for a reader: each short write waits at most `wait_s` for the write lock (on
    PostgreSQL: does not queue behind another rebuild of the shop). True when the rollups are up to
    date; False when a writer was in the way and they are as of the last complete refresh (the next
    refresh redoes the days, since the watermark moves only when every day is written)."""
    _, done = _refresh(engine, shop, now, config, wait_s)
    return done
