"""CLI: `poas calc`, ROAS next to POAS for one spend / revenue / margin (or profit) triple."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer
from rich.table import Table

from poas.cli.app import app, console, fail
from poas.domain import metrics


def _number(value: str, name: str) -> Decimal:
    try:
        result = Decimal(value.strip().replace("_", ""))
    except InvalidOperation:
        raise fail(f"--{name}: {value!r} is not a number") from None
    if not result.is_finite():
        raise fail(f"--{name}: {value!r} is not a finite number")
    return result


def _json_number(value: Decimal | None) -> str:
    """A JSON number literal written from the exact Decimal (no float on the way)."""
    if value is None:
        return "null"
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def _plain(value: Decimal | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{places}f}"


@app.command()
def calc(
    spend: str = typer.Option(..., "--spend", help="Ad spend."),
    revenue: str = typer.Option(..., "--revenue", help="Revenue from the ads (ex VAT)."),
    margin: str | None = typer.Option(None, "--margin", help="Gross margin, e.g. 0.20 for 20 %."),
    profit: str | None = typer.Option(None, "--profit", help="Gross profit instead of a margin."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """ROAS, POAS, gross profit, margin and break-even ROAS for one campaign's numbers."""
    if (margin is None) == (profit is None):
        raise fail("give exactly one of --margin or --profit")
    sp, rev = _number(spend, "spend"), _number(revenue, "revenue")
    if sp < 0:
        raise fail("--spend: ad spend cannot be negative")
    if margin is not None:
        given = _number(margin, "margin")
        if given >= 1:
            raise fail(f"--margin: {margin} must be below 1 (0.20 means 20 %)")
        m: Decimal | None = given
        gross = metrics.profit_from_margin(rev, given)
    else:
        gross = _number(profit or "", "profit")
        m = metrics.margin(gross, rev)
    figures = {
        "roas": metrics.roas(rev, sp),
        "poas": metrics.poas(gross, sp),
        "gross_profit": gross,
        "margin": m,
        "break_even_roas": None if m is None else metrics.break_even_roas(m),
    }
    if as_json:
        body = ", ".join(f'"{k}": {_json_number(v)}' for k, v in figures.items())
        typer.echo("{" + body + "}")
        return
    table = Table(title="ROAS vs POAS", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("Ad spend", _plain(sp))
    table.add_row("Revenue", _plain(rev))
    table.add_row("Gross profit", _plain(gross))
    table.add_row("Margin", "n/a" if m is None else f"{m * 100:.1f} %")
    for label, key in (("ROAS", "roas"), ("POAS", "poas"), ("Break-even ROAS", "break_even_roas")):
        value = figures[key]
        table.add_row(label, "n/a" if value is None else f"{value:,.2f}x")
    console.print(table)
    if figures["poas"] is not None and figures["poas"] < 1:
        console.print("POAS below 1: this spend costs more than the gross profit it brings.")
