"""CLI: `poas sandbox shopify` (a local Shopify Admin API)."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from poas.cli.app import console, fail
from poas.cli.meta import sandbox_app
from poas.services.shopify_sandbox import SeedError, new_shopify_sandbox_app


@sandbox_app.command("shopify")
def sandbox_shopify(
    port: int = typer.Option(8556, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host"),
    seed: Path | None = typer.Option(
        None, "--seed", help="directory with orders/*.json (order webhook bodies) and variants.csv"
    ),
    token: str | None = typer.Option(
        None, "--token", envvar="POAS_SANDBOX_SHOPIFY_TOKEN", help="accept only this static token"
    ),
) -> None:
    """Run the Shopify sandbox in the foreground (Ctrl-C stops it)."""
    if seed is not None and not seed.is_dir():
        raise fail(f"--seed {seed}: not a directory")
    try:
        sandbox = new_shopify_sandbox_app(seed, token=token)
    except SeedError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"Shopify sandbox on http://{host}:{port} (POST /admin/oauth/access_token, "
        "/admin/api/{version}/graphql.json); point poas at it with POAS_SHOPIFY_ADMIN_URL",
        highlight=False,
    )
    uvicorn.run(sandbox, host=host, port=port, log_level="warning")
