"""The `poas connect` group: one command per platform (each in its platform's CLI module)."""

from __future__ import annotations

import typer

from poas.cli.app import app

connect_app = typer.Typer(
    help="Connect a shop or ad account: check credentials, register webhooks, store the connection.",
    no_args_is_help=True,
)
app.add_typer(connect_app, name="connect")
