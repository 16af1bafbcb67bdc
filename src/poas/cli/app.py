"""The Typer apps every command module attaches to, and the shared context (settings, store)."""

from __future__ import annotations

from functools import cache

import typer
from rich.console import Console
from sqlalchemy import Engine

from poas.services.database import open_store
from poas.services.settings_overrides import effective_shop
from poas.settings import Settings, ShopConfig, load_settings

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
# `poas connect shopify|woocommerce|meta`: each platform's module adds its command here
connect_app = typer.Typer(
    help="Connect a shop's platform or its Meta dataset and ad account.", no_args_is_help=True
)
app.add_typer(connect_app, name="connect")

console = Console()
err_console = Console(stderr=True)


@cache
def settings() -> Settings:
    return load_settings()


@cache
def store() -> Engine:
    """The configured store, migrated on first use."""
    return open_store(settings().resolved_database_url())


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a clear error and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def with_changes(shop: ShopConfig) -> ShopConfig:
    """The configured shop with the settings changed in the dashboard (stored in the database)."""
    return effective_shop(shop, store())


def resolve_shop(shop_id: str | None) -> tuple[ShopConfig, str | None]:
    """The configured shop (or the only one); without configuration a default shop, with a note saying so."""
    cfg = settings()
    if shop_id:
        found = cfg.shop(shop_id)
        if found is not None:
            return with_changes(found), None
        if cfg.shops:
            known = ", ".join(s.id for s in cfg.shops)
            raise fail(f"shop {shop_id!r} is not configured (known: {known})")
        return ShopConfig(id=shop_id), f"shop {shop_id!r} is not configured: using NOK, prices incl. VAT"
    if len(cfg.shops) == 1:
        return with_changes(cfg.shops[0]), None
    if cfg.shops:
        raise fail(f"several shops are configured ({', '.join(s.id for s in cfg.shops)}): pass --shop")
    note = f"no shop configured in {cfg.config_path()}: using shop 'default' with NOK, prices incl. VAT"
    return ShopConfig(id="default"), note


def pick_shop(shop_id: str | None) -> ShopConfig:
    """`resolve_shop` for commands that just go on: the note (if any) goes to standard error."""
    shop, note = resolve_shop(shop_id)
    if note:
        err_console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    return shop
