"""CLI: `poas connect google SHOP` — check the shop's Google credentials, account and conversion actions."""

from __future__ import annotations

import typer
from rich.table import Table

from poas.cli.app import connect_app, console, fail, settings
from poas.services.doctor import Level
from poas.services.google_connect import connect_google

_STYLE = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "red"}


@connect_app.command("google")
def connect_google_command(
    shop_id: str = typer.Argument(..., help="the shop in poas.toml"),
) -> None:
    """Check the OAuth refresh token and every configured conversion action with a validateOnly request
    (Google records nothing). Changes nothing."""
    cfg = settings()
    shop = cfg.shop(shop_id)
    if shop is None:
        known = ", ".join(s.id for s in cfg.shops) or "none"
        raise fail(f"shop {shop_id!r} is not in {cfg.config_path()} (known: {known}); `poas init` adds one")
    checks = connect_google(cfg, shop)
    table = Table("check", "status", "detail", "how to fix")
    for c in checks:
        table.add_row(c.name, f"[{_STYLE[c.level]}]{c.level}[/]", c.detail, c.fix)
    console.print(table)
    if any(c.level is Level.FAIL for c in checks):
        raise typer.Exit(1)
    n = len(shop.google.conversion_actions)
    console.print(f"Google Ads is usable for shop {shop.id}: {n} conversion action(s)", highlight=False)
