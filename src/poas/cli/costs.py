"""CLI: `poas costs missing` — the variants / SKUs sold without a cost, so their profit is unknown."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime

import typer
from rich.table import Table

from poas.cli.app import app, console, fail, pick_shop, store
from poas.services.missing_costs import DEFAULT_DAYS, missing_costs, unknown_profit

costs_app = typer.Typer(help="Product costs: what is missing.", no_args_is_help=True)
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
    """
    if fmt not in ("table", "json", "csv"):
        raise fail("--format must be table, json or csv")
    if days < 1:
        raise fail(f"--days {days}: must be 1 or more")
    cfg = pick_shop(shop)
    now = datetime.now(UTC)
    rows = missing_costs(store(), cfg, now=now, days=days)
    total = unknown_profit(store(), cfg, now=now, days=days)
    if fmt == "json":
        doc = {
            "shop": cfg.id,
            "currency": cfg.currency,
            "days": days,
            "orders_without_cost": total.orders,
            "revenue_without_cost": str(total.revenue_ex_vat),
            "missing": [m.to_dict() for m in rows],
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
