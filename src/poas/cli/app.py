"""The Typer apps every command module attaches to, and the shared context (settings, store)."""

from __future__ import annotations

from functools import cache

import typer
from rich.console import Console
from sqlalchemy import Engine

from poas.settings import Settings, load_settings
from poas.store.db import make_engine, upgrade

app = typer.Typer(
    name="poas",
    help="Profit on ad spend: per-order profit to Meta's Conversions API, ROAS next to POAS.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
import_app = typer.Typer(
    help="Import costs, orders, backfills and ad spend from files.", no_args_is_help=True
)
app.add_typer(import_app, name="import")

console = Console()
err_console = Console(stderr=True)


@cache
def settings() -> Settings:
    return load_settings()


@cache
def store() -> Engine:
    """The configured store, migrated on first use."""
    engine = make_engine(settings().resolved_database_url())
    upgrade(engine)
    return engine


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a clear error and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)
