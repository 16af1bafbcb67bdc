"""CLI: `poas db upgrade`."""

from __future__ import annotations

import typer

from poas.cli.app import app, console, settings, store

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (also done automatically on first use)."""
    store()
    console.print(f"database at head: {settings().resolved_database_url().split('@')[-1]}")
