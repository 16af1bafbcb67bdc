"""Reports from the daily rollups: ROAS next to POAS by channel, campaign, ad set, ad, product, day or
week."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from poas.domain.advice import DecisionPolicy, ProfitBasis, check_basis
from poas.domain.margins import fixed_between, margins, new_customer_cac, split_fixed
from poas.domain.metrics import poas as poas_of
from poas.domain.money import exponent
from poas.domain.report_rows import Figures, ReportRow, flag_revenue_trap, report_row
from poas.services.channel_report import BLENDED_NOTE, entity_channels, with_other_channels
from poas.services.fixed_costs import list_fixed_costs
from poas.services.rollups import refresh_if_free
from poas.settings import ShopConfig
from poas.store.tables.spend import rollup_daily

By = Literal["channel", "campaign", "adset", "ad", "product", "day", "week"]
BY_CHOICES: tuple[By, ...] = ("channel", "campaign", "adset", "ad", "product", "day", "week")
DEFAULT_DAYS = 30

# rollup columns (0017) read into Figures fields of the same name without `_minor`
MARGIN_SUMS = (
    "cogs_minor",
    "shipping_cost_minor",
    "payment_fee_minor",
    "handling_cost_minor",
    "return_cost_minor",
    "new_orders",
    "new_revenue_minor",
    "new_gross_profit_minor",
    "new_expected_profit_minor",
    "new_realized_profit_minor",
    "returning_orders",
    "returning_revenue_minor",
    "returning_gross_profit_minor",
    "returning_expected_profit_minor",
    "returning_realized_profit_minor",
)

_SUMS = (
    "spend_minor",
    "orders",
    "revenue_minor",
    "gross_profit_minor",
    "expected_profit_minor",
    "final_orders",
    "realized_profit_minor",
    "meta_purchases",
    "meta_value_minor",
    "orders_without_cost",
    "revenue_without_cost_minor",
    *MARGIN_SUMS,
)


@dataclass(frozen=True, slots=True)
class Report:
    shop_id: str
    currency: str
    by: By
    date_from: date
    date_to: date
    rows: tuple[ReportRow, ...]
    total: ReportRow  # blended: all profit / all spend, attributed or not
    notes: tuple[str, ...] = field(default_factory=tuple)
    stale: bool = False  # the rollups could not be refreshed first (a writer held the store)
    channels: dict[str, str] = field(default_factory=dict)  # campaign / ad set / ad key -> its channel


STALE_NOTE = (
    "The rollups could not be refreshed before this report (another process was writing to the "
    "store): figures are as of the last complete refresh; the next report refreshes them."
)


def _figures(r: Any, currency: str) -> Figures:
    e = exponent(currency)

    def dec(minor: Any) -> Decimal:
        return Decimal(int(minor or 0)).scaleb(-e)

    split: dict[str, Any] = {
        c.removesuffix("_minor"): dec(getattr(r, c)) if c.endswith("_minor") else int(getattr(r, c) or 0)
        for c in MARGIN_SUMS
    }
    return Figures(
        spend=dec(r.spend_minor),
        orders=int(r.orders or 0),
        revenue=dec(r.revenue_minor),
        gross_profit=dec(r.gross_profit_minor),
        expected_profit=dec(r.expected_profit_minor),
        final_orders=int(r.final_orders or 0),
        realized_profit=dec(r.realized_profit_minor),
        meta_purchases=int(r.meta_purchases or 0),
        meta_value=dec(r.meta_value_minor),
        orders_without_cost=int(r.orders_without_cost or 0),
        revenue_without_cost=dec(r.revenue_without_cost_minor),
        **split,
    )


def decision_policy(shop: ShopConfig, basis: str | None = None) -> DecisionPolicy:
    """The shop's decision settings; `basis` (when given) replaces the shop's decision basis."""
    return DecisionPolicy(
        basis=check_basis(basis or shop.decision_basis),
        target_poas=shop.target_poas,
        pause_below=shop.pause_below_poas,
    )


def previous_range(date_from: date, date_to: date) -> tuple[date, date]:
    """The period of the same length just before [date_from, date_to], cut at the calendar's first
    day (a period that starts there has an empty one before it: from after to)."""
    if date_from == date.min:
        return date_from + timedelta(days=1), date_from
    days = (date_to - date_from).days + 1
    start = date.min + timedelta(days=max(0, (date_from - date.min).days - days))
    return start, date_from - timedelta(days=1)


def period_total(engine: Engine, shop: ShopConfig, date_from: date, date_to: date) -> ReportRow:
    """The shop's blended total for a period, read from the rollups as they are."""
    rd = rollup_daily
    sums = [func.sum(rd.c[c]).label(c) for c in _SUMS]
    with engine.connect() as conn:
        row = conn.execute(
            select(*sums).where(
                rd.c.shop_id == shop.id, rd.c.day >= date_from, rd.c.day <= date_to, rd.c.level == "shop"
            )
        ).one()
    return report_row("", "total (blended)", _figures(row, shop.currency))


def default_range(shop: ShopConfig, now: datetime) -> tuple[date, date]:
    today = now.astimezone(ZoneInfo(shop.timezone)).date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def build_report(
    engine: Engine,
    shop: ShopConfig,
    *,
    by: By,
    now: datetime,
    date_from: date | None = None,
    date_to: date | None = None,
    refresh_first: bool = True,
    daily: bool = False,
    basis: ProfitBasis | None = None,
) -> Report:
    """Read the rollups (refreshing the changed days first) and compute the report lines.

    The refresh is its own short writes (`refresh_if_free`), never part of the read: when a writer
    holds the store past READ_WAIT_S, the report reads the rollups as they are and says so (`stale`).
    """
    if by not in BY_CHOICES:
        raise ValueError(f"--by must be one of {', '.join(BY_CHOICES)}, not {by!r}")
    d_from, d_to = default_range(shop, now)
    date_from, date_to = date_from or d_from, date_to or d_to
    if date_from > date_to:
        raise ValueError(f"--from {date_from} is after --to {date_to}")
    stale = refresh_first and not refresh_if_free(engine, shop, now=now)
    rd = rollup_daily
    sums = [func.sum(rd.c[c]).label(c) for c in _SUMS]
    in_range = (rd.c.shop_id == shop.id, rd.c.day >= date_from, rd.c.day <= date_to)
    with engine.connect() as conn:  # a read: one snapshot, beside any writer
        total_row = conn.execute(select(*sums).where(*in_range, rd.c.level == "shop")).one()
        if by in ("day", "week"):
            grouped = conn.execute(
                select(rd.c.day, *sums)
                .where(*in_range, rd.c.level == "shop")
                .group_by(rd.c.day)
                .order_by(rd.c.day)
            ).all()
        elif daily:
            grouped = conn.execute(
                select(rd.c.key, rd.c.day, rd.c.name, *[rd.c[c] for c in _SUMS])
                .where(*in_range, rd.c.level == by)
                .order_by(rd.c.day, rd.c.key)
            ).all()
        else:
            grouped = conn.execute(
                select(rd.c.key, func.max(rd.c.name).label("name"), *sums)
                .where(*in_range, rd.c.level == by)
                .group_by(rd.c.key)
            ).all()
    if daily and by not in ("day", "week"):
        rows = [report_row(r.key, r.name, _figures(r, shop.currency), r.day.isoformat()) for r in grouped]
    else:
        rows = _rows(by, grouped, shop.currency, expected=(basis or shop.decision_basis) == "expected")
    total = report_row("", "total (blended)", _figures(total_row, shop.currency))
    if by == "channel" and not daily:
        rows, total = with_other_channels(
            engine,
            shop,
            rows,
            total,
            date_from,
            date_to,
            expected=(basis or shop.decision_basis) == "expected",
        )
    rows, total = with_fixed_costs(engine, shop, by, rows, total, date_from, date_to, daily=daily)
    notes = ["POAS = gross profit / spend; poas_expected uses expected profit (after expected returns)."]
    if by == "product":
        notes.append(
            "Product spend is allocated from each campaign by the product's share of the campaign's "
            "attributed revenue that day; spend with no attributed sales stays in its own row."
        )
    if by in ("campaign", "adset", "ad"):
        notes.append("Orders with no Meta or Google campaign match are in the '(unattributed)' row.")
    if by == "channel":
        notes.append(BLENDED_NOTE)
    if total.figures.orders_without_cost:
        notes.append(unknown_profit_note(total))
    if stale:
        notes.append(STALE_NOTE)
    channels = entity_channels(engine, shop.id, by) if by in ("campaign", "adset", "ad") else {}
    return Report(
        shop.id, shop.currency, by, date_from, date_to, tuple(rows), total, tuple(notes), stale, channels
    )


def with_fixed_costs(
    engine: Engine,
    shop: ShopConfig,
    by: By,
    rows: list[ReportRow],
    total: ReportRow,
    date_from: date,
    date_to: date,
    *,
    daily: bool = False,
) -> tuple[list[ReportRow], ReportRow]:
    """Each line's fixed costs (docs/metrics.md): the total over the period; a day or week its own
    days; campaigns, ad sets, ads and products a share of the period's by their revenue."""
    costs = list_fixed_costs(engine, shop)
    if not costs:  # none entered: every line's net profit is its CM3
        return [replace(r, fixed_costs=Decimal(0)) for r in rows], replace(total, fixed_costs=Decimal(0))
    places = exponent(shop.currency)
    total_fixed = fixed_between(costs, date_from, date_to, places)
    if by == "day":
        rows = [
            replace(r, fixed_costs=fixed_between(costs, *(date.fromisoformat(r.key),) * 2, places))
            for r in rows
        ]
    elif by == "week":
        out = []
        for r in rows:
            year, week = r.key.split("-W")
            monday = date.fromisocalendar(int(year), int(week), 1)
            start, end = max(monday, date_from), min(monday + timedelta(days=6), date_to)
            out.append(replace(r, fixed_costs=fixed_between(costs, start, end, places)))
        rows = out
    elif not daily:
        shares = split_fixed(total_fixed, {r.key: r.figures.revenue for r in rows}, places)
        rows = [replace(r, fixed_costs=shares.get(r.key, Decimal(0))) for r in rows]
    return rows, replace(total, fixed_costs=total_fixed)


def unknown_profit_note(total: ReportRow) -> str:
    """What a reader must know when some orders have no cost: POAS and margin cover only part."""
    f = total.figures
    return (
        f"{f.orders_without_cost} of {f.orders} orders ({f.revenue_without_cost} of {f.revenue} revenue) "
        "have no cost and no fallback margin: their profit is unknown, so they are in revenue and ROAS "
        "but left out of profit, POAS and margin. `poas costs missing` lists the SKUs to cost."
    )


def _rows(by: By, grouped: Sequence[Any], currency: str, *, expected: bool) -> list[ReportRow]:
    if by == "day":
        return [report_row(r.day.isoformat(), r.day.isoformat(), _figures(r, currency)) for r in grouped]
    if by == "week":
        weeks: dict[str, Figures] = defaultdict(Figures)
        for r in grouped:
            year, week, _ = r.day.isocalendar()
            weeks[f"{year}-W{week:02d}"] += _figures(r, currency)
        return [report_row(k, k, f) for k, f in sorted(weeks.items())]
    rows = [report_row(r.key, r.name, _figures(r, currency)) for r in grouped]
    rows.sort(key=lambda r: (r.key == "", -r.figures.spend, -r.figures.revenue, r.key))
    return flag_revenue_trap(rows, expected=expected)


# --- rendering (JSON numbers only here, at the edge) -------------------------------------------


def _num(value: Decimal | None, places: int) -> float | None:
    if value is None:
        return None
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def row_dict(by: By, row: ReportRow, currency: str, channel: str | None = None) -> dict[str, Any]:
    f = row.figures
    e = exponent(currency)
    unknown = f.no_profit_known  # no order with a known profit: no profit figure at all, not 0
    out: dict[str, Any] = {"day": row.day} if row.day else {}
    out[by] = row.name
    if by in ("channel", "campaign", "adset", "ad", "product"):
        out[f"{by}_id"] = row.key or None
    if channel is not None:
        out["channel"] = channel or None
    out.update(
        {
            "spend": _num(f.spend, e),
            "orders": f.orders,
            "revenue": _num(f.revenue, e),
            "profit": None if unknown else _num(f.gross_profit, e),
            "expected_profit": None if unknown else _num(f.expected_profit, e),
            "realized_profit": _num(row.realized_profit, e),
            "final_orders": f.final_orders,
            "roas": _num(row.roas, 4),
            "poas": _num(row.poas, 4),
            "poas_expected": _num(row.poas_expected, 4),
            "margin": _num(row.margin, 4),
            "break_even_roas": _num(row.break_even_roas, 4),
            "meta_purchases": f.meta_purchases,
            "meta_value": _num(f.meta_value, e),
            # the ROAS Ads Manager shows: Meta's own reported value / spend
            "meta_roas": _num(f.meta_value / f.spend, 4) if f.spend else None,
            "revenue_trap": row.revenue_trap,
            "orders_without_cost": f.orders_without_cost,
            "revenue_without_cost": _num(f.revenue_without_cost, e),
        }
    )
    out.update(margin_dict(row, e))
    return out


def margin_dict(row: ReportRow, e: int) -> dict[str, Any]:
    """CM1–CM3, fixed costs, net profit and break-evens; new vs returning (docs/metrics.md)."""
    f = row.figures
    unknown = f.no_profit_known
    m = margins(
        priced_revenue=f.priced_revenue,
        cogs=f.cogs,
        cm2=f.expected_profit,
        spend=f.spend,
        fixed_costs=row.fixed_costs,
    )
    new_poas = None if f.new_orders == 0 or unknown else poas_of(f.new_expected_profit, f.spend)
    return {
        "cm1": None if unknown else _num(m.cm1, e),
        "cm2": None if unknown else _num(m.cm2, e),
        "cm3": None if unknown else _num(m.cm3, e),
        "fixed_costs": _num(row.fixed_costs, e),
        "net_profit": None if unknown else _num(m.net_profit, e),
        "break_even_roas_cm3": None if unknown else _num(m.break_even_roas_cm3, 4),
        "break_even_revenue_net": None if unknown else _num(m.break_even_revenue_net, e),
        "break_even_roas_net": None if unknown else _num(m.break_even_roas_net, 4),
        "new_orders": f.new_orders,
        "new_revenue": _num(f.new_revenue, e),
        "new_expected_profit": None if unknown else _num(f.new_expected_profit, e),
        "returning_orders": f.returning_orders,
        "returning_revenue": _num(f.returning_revenue, e),
        "returning_expected_profit": None if unknown else _num(f.returning_expected_profit, e),
        "unknown_customer_orders": f.orders - f.new_orders - f.returning_orders,
        "new_customer_cac": _num(new_customer_cac(f.spend, f.new_orders), e),
        "first_order_poas": _num(new_poas, 4),
    }


def report_json(report: Report) -> dict[str, Any]:
    return {
        "shop": report.shop_id,
        "currency": report.currency,
        "by": report.by,
        "from": report.date_from.isoformat(),
        "to": report.date_to.isoformat(),
        "rows": [row_dict(report.by, r, report.currency, _channel(report, r)) for r in report.rows],
        "total": row_dict(report.by, report.total, report.currency),
        "notes": list(report.notes),
    }


def _channel(report: Report, row: ReportRow) -> str | None:
    """The channel of a campaign / ad set / ad line ("" when no spend row names it); None otherwise."""
    return report.channels.get(row.key, "") if report.by in ("campaign", "adset", "ad") else None


def report_csv(report: Report) -> str:
    rows = [row_dict(report.by, r, report.currency, _channel(report, r)) for r in report.rows]
    rows.append(row_dict(report.by, report.total, report.currency))
    buf = io.StringIO()
    header = list(rows[0]) if rows else []
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()
