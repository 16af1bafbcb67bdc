"""CLI: `poas doctor` — what is wrong with this installation and how to fix it."""

from __future__ import annotations

import typer
from rich.table import Table

from poas.cli.app import app, console, settings
from poas.services.doctor import Level, run_checks

_STYLE = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "red"}


@app.command()
def doctor(
    graph: bool = typer.Option(True, help="Also check that the Graph API (or sandbox) answers."),
) -> None:
    """Check the database, migrations, shops, pixels, tokens and Graph reachability."""
    checks = run_checks(settings(), graph=graph)
    table = Table("check", "status", "detail", "how to fix")
    for c in checks:
        table.add_row(c.name, f"[{_STYLE[c.level]}]{c.level}[/]", c.detail, c.fix)
    console.print(table)
    if any(c.level is Level.FAIL for c in checks):
        raise typer.Exit(1)
