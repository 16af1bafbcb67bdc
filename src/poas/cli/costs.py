"""CLI: `poas costs missing` (variants / SKUs sold without a cost) and `poas costs fixed set|list|total`
(monthly fixed costs, effective-dated: net profit = CM3 − fixed costs, docs/metrics.md)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime

import typer
from rich.table import Table

from poas.cli.app import app, console, fail, pick_shop, store
from poas.services.fixed_costs import (
    FixedCostError,
    fixed_costs_between,
    list_fixed_costs,
    parse_amount,
    set_fixed_cost,
)
from poas.services.missing_costs import DEFAULT_DAYS, missing_costs, unknown_profit
from poas.services.rule_coverage import RuleGaps, gap_summary, returns_summary, rule_gaps

costs_app = typer.Typer(help="Product costs (what is missing) and fixed costs.", no_args_is_help=True)
app.add_typer(costs_app, name="costs")

_COLUMNS = ("key", "title", "orders", "units", "revenue_ex_vat", "currency", "first_sold_at", "last_sold_at")


@costs_app.command("missing")
def costs_missing(
    shop: str | None = typer.Option(None, "--shop", help="Shop id (default: the only configured shop)."),
    days: int = typer.Option(DEFAULT_DAYS, "--days", help="Orders created in the last N days."),
    fmt: str = typer.Option("table", "--format", help="table | json | csv"),
) -> None:
    """List SKUs / variants sold without a cost (and no fallback margin), newest sale first.

    Their orders have an unknown profit: reports keep them in revenue and ROAS but out of profit,
    POAS and margin. Import the costs (`poas import costs`) and the stored orders are priced again.
    Also named: the payment gateways and shipping methods no cost rule prices (counted as 0).
    """
    if fmt not in ("table", "json", "csv"):
        raise fail("--format must be table, json or csv")
    if days < 1:
        raise fail(f"--days {days}: must be 1 or more")
    cfg = pick_shop(shop)
    now = datetime.now(UTC)
    rows = missing_costs(store(), cfg, now=now, days=days)
    total = unknown_profit(store(), cfg, now=now, days=days)
    gaps = rule_gaps(store(), cfg, now=now, days=days)
    if fmt == "json":
        doc = {
            "shop": cfg.id,
            "currency": cfg.currency,
            "days": days,
            "orders_without_cost": total.orders,
            "revenue_without_cost": str(total.revenue_ex_vat),
            "missing": [m.to_dict() for m in rows],
            "rule_gaps": {
                "orders": gaps.orders,
                "payment_fees": [{"gateway": g, "orders": n} for g, n in gaps.fees],
                "shipping": [{"method": m, "country": c, "orders": n} for m, c, n in gaps.shipping],
                "refunded_orders": gaps.refunded,
                "return_rate": gaps.return_rate,
            },
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for m in rows:
            writer.writerow({k: "" if v is None else v for k, v in m.to_dict().items()})
        return
    if not rows:
        console.print(f"{cfg.id}: every order of the last {days} days has a cost or a fallback margin")
        _print_gaps(gaps, cfg.id)
        return
    t = Table(title=f"{cfg.id}: sold without a cost, last {days} days ({cfg.currency}), newest first")
    for col in ("variant / SKU", "product", "orders", "units", "revenue at stake", "last sold"):
        t.add_column(col, justify="right" if col in ("orders", "units", "revenue at stake") else "left")
    for m in rows:
        t.add_row(
            m.key or "(no SKU or variant id)",
            m.title,
            str(m.orders),
            str(m.units),
            str(m.revenue_ex_vat),
            m.last_sold_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    console.print(t)
    console.print(
        f"{total.orders} order(s), {total.revenue_ex_vat} {cfg.currency} revenue, have an unknown profit: "
        "import these costs (`poas import costs FILE`) or set default_margin.",
        highlight=False,
    )
    _print_gaps(gaps, cfg.id)


def _print_gaps(gaps: RuleGaps, shop_id: str) -> None:
    for line in gap_summary(gaps, limit=10):
        if line:
            console.print(f"[yellow]{line}[/yellow]", highlight=False)
    if gaps.fees or gaps.shipping:
        console.print(
            f"price them in cost rules: `poas rules --example > rules.toml`, edit, "
            f"`poas rules --load rules.toml --shop {shop_id}`",
            highlight=False,
        )
    returned = returns_summary(gaps)
    if returned:
        console.print(f"[yellow]{returned}[/yellow]", highlight=False)
        console.print(f"`poas returns fit --shop {shop_id}` learns return rates from them", highlight=False)


fixed_app = typer.Typer(
    help="Fixed costs per month (apps, salaries, rent): net profit = CM3 − fixed costs.", no_args_is_help=True
)
costs_app.add_typer(fixed_app, name="fixed")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r}: expected a date like 2026-03-01") from None


@fixed_app.command("set")
def set_cmd(
    name: str = typer.Argument(..., help="The cost's name, e.g. 'Shopify plan' or 'rent'."),
    amount: str = typer.Argument(..., help="Monthly amount in the shop currency, ex VAT (0 ends the cost)."),
    valid_from: str = typer.Option(..., "--from", help="First day the amount applies (YYYY-MM-DD)."),
    category: str = typer.Option("", "--category", help="apps | salaries | rent | … (free text)."),
    note: str = typer.Option("", "--note"),
    shop: str | None = typer.Option(None, "--shop"),
) -> None:
    """Set a monthly fixed cost from a date on (a later entry of the same name replaces it)."""
    cfg = pick_shop(shop)
    try:
        monthly = parse_amount(amount, cfg.currency)
        set_fixed_cost(
            store(),
            cfg,
            name=name,
            monthly=monthly,
            valid_from=_day(valid_from, "--from"),
            category=category,
            note=note,
            now=datetime.now(UTC),
        )
    except FixedCostError as exc:
        raise fail(str(exc)) from None
    console.print(f"{cfg.id}: {name} = {monthly} {cfg.currency} a month from {valid_from}", highlight=False)


@fixed_app.command("list")
def list_cmd(
    shop: str | None = typer.Option(None, "--shop"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
) -> None:
    """Every fixed-cost entry, by name and date."""
    cfg = pick_shop(shop)
    rows = list_fixed_costs(store(), cfg)
    if fmt == "json":
        doc = [
            {
                "name": r.name,
                "valid_from": r.valid_from.isoformat(),
                "monthly": str(r.monthly),
                "category": r.category,
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    t = Table("name", "from", f"monthly ({cfg.currency})", "category", title=f"{cfg.id}: fixed costs")
    for r in rows:
        t.add_row(r.name, r.valid_from.isoformat(), str(r.monthly), r.category)
    console.print(t)


@fixed_app.command("total")
def total_cmd(
    date_from: str = typer.Option(..., "--from"),
    date_to: str = typer.Option(..., "--to"),
    shop: str | None = typer.Option(None, "--shop"),
) -> None:
    """The fixed costs of a period: each day carries its month's amounts / the month's days."""
    cfg = pick_shop(shop)
    start, end = _day(date_from, "--from"), _day(date_to, "--to")
    if start > end:
        raise fail(f"--from {start} is after --to {end}")
    total = fixed_costs_between(store(), cfg, start, end)
    console.print(f"{cfg.id}: fixed costs {start} – {end}: {total} {cfg.currency}", highlight=False)
