"""CLI: `poas connect meta SHOP` — read the shop's dataset and ad account and say what is usable."""

from __future__ import annotations

import typer
from rich.table import Table

from poas.cli.app import connect_app, console, fail, settings
from poas.services.doctor import Level
from poas.services.meta_connect import connect_meta

_STYLE = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "red"}


@connect_app.command("meta")
def connect_meta_command(
    shop_id: str = typer.Argument(..., help="the shop in poas.toml"),
) -> None:
    """Read the shop's dataset (pixel) and ad account with its token: names, currency and timezone
    against the shop's, account status, missing permissions. Changes nothing."""
    cfg = settings()
    shop = cfg.shop(shop_id)
    if shop is None:
        known = ", ".join(s.id for s in cfg.shops) or "none"
        raise fail(f"shop {shop_id!r} is not in {cfg.config_path()} (known: {known}); `poas init` adds one")
    checks = connect_meta(cfg, shop)
    table = Table("check", "status", "detail", "how to fix")
    for c in checks:
        table.add_row(c.name, f"[{_STYLE[c.level]}]{c.level}[/]", c.detail, c.fix)
    console.print(table)
    if any(c.level is Level.FAIL for c in checks):
        raise typer.Exit(1)
    console.print(f"Meta is usable for shop {shop.id}: events go to dataset {shop.pixel_id}", highlight=False)
