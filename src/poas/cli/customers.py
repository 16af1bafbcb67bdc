"""CLI: `poas customers rebuild|list` — customer histories (new vs returning, figures per customer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.table import Table

from poas.cli.app import app, console, pick_shop, store
from poas.domain.money import Money
from poas.services.customers import customers_of, rebuild

customers_app = typer.Typer(
    help="Customers: who is new, who came back, what each is worth.", no_args_is_help=True
)
app.add_typer(customers_app, name="customers")


@customers_app.command("rebuild")
def rebuild_cmd(shop: str | None = typer.Option(None, "--shop")) -> None:
    """Place every stored order in its customer's history again (after an upgrade, or to repair)."""
    cfg = pick_shop(shop)
    found = rebuild(store(), cfg, now=datetime.now(UTC))
    console.print(f"shop {cfg.id}: {found} customers placed from the stored orders")


@customers_app.command("list")
def list_cmd(
    shop: str | None = typer.Option(None, "--shop"),
    limit: int = typer.Option(50, "--limit"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
) -> None:
    """Customers by first order (the key is a hash: no contact data is shown or kept)."""
    cfg = pick_shop(shop)
    rows = customers_of(store(), cfg)[-limit:] if limit > 0 else customers_of(store(), cfg)

    def money(minor: int, cur: str) -> str:
        return str(Money.from_minor(minor, cur).amount)

    if fmt == "json":
        out = [
            {
                "customer_key": r.customer_key,
                "first_order_id": r.first_order_id,
                "first_order_at": r.first_order_at.isoformat(),
                "last_order_at": r.last_order_at.isoformat(),
                "orders": r.orders,
                "currency": r.currency,
                "revenue": money(r.revenue_minor, r.currency),
                "gross_profit": money(r.gross_profit_minor, r.currency),
                "expected_profit": money(r.expected_profit_minor, r.currency),
                "realized_profit": money(r.realized_profit_minor, r.currency),
                "orders_without_cost": r.orders_without_cost,
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table("customer", "first order", "orders", "revenue", "expected profit", "realized profit")
    for r in rows:
        table.add_row(
            r.customer_key[:15] + "…",
            r.first_order_at.date().isoformat(),
            str(r.orders),
            money(r.revenue_minor, r.currency),
            money(r.expected_profit_minor, r.currency),
            money(r.realized_profit_minor, r.currency),
        )
    console.print(table)
