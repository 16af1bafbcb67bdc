"""CLI: `poas init` — write a first poas.toml (asking only what the platform cannot tell), or the example."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from poas.cli.app import app, console, fail
from poas.domain.money import check_currency
from poas.services.config_file import (
    PLATFORMS,
    FirstShop,
    InitError,
    check_ad_account_id,
    check_domain,
    check_pixel_id,
    check_platform,
    check_shop_id,
    check_timezone,
    checked,
    config_target,
    env_id,
    example_config,
    next_command,
    render_config,
    write_config,
)


def _ask(question: str, check: Callable[[str], str], default: str | None = None) -> str:
    """Prompt until the answer passes `check` (InitError text shown, asked again)."""
    while True:
        answer = typer.prompt(question, default=default, show_default=default not in (None, ""))
        try:
            return check(answer)
        except (InitError, ValueError) as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)


@app.command("init")
def init(
    shop_id: str | None = typer.Option(None, "--shop", help="the shop's id (part of its webhook URL)"),
    platform: str | None = typer.Option(None, "--platform", help=f"one of {', '.join(PLATFORMS)}"),
    domain: str | None = typer.Option(None, "--domain", help="the shop's domain (NAME.myshopify.com)"),
    currency: str | None = typer.Option(None, "--currency", help="shop currency [default: NOK]"),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA timezone [default: Europe/Oslo]"),
    prices_include_vat: bool = typer.Option(
        True, "--prices-include-vat/--prices-exclude-vat", help="do shop prices include VAT?"
    ),
    pixel_id: str | None = typer.Option(None, "--pixel-id", help="the Meta dataset (pixel) id"),
    ad_account_id: str | None = typer.Option(None, "--ad-account-id", help="act_… (for spend and checks)"),
    no_input: bool = typer.Option(False, "--no-input", help="never prompt: take flags and defaults"),
    force: bool = typer.Option(False, "--force", help="replace an existing file (kept as a backup)"),
    example: bool = typer.Option(False, "--example", help="print the example configuration (every setting)"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="write here instead of $POAS_HOME/poas.toml / POAS_CONFIG_FILE"
    ),
) -> None:
    """Write poas.toml with a first shop, checked by the settings loader, and print the next command.

    Without --shop and --platform it asks; with them (or --no-input) it takes flags and defaults."""
    try:
        if example:
            _example(output, force)
            return
        target = config_target(output)
        if target.exists() and not force:
            raise InitError(f"{target} exists: keep it, or pass --force (the old file is kept as a backup)")
        ask = not no_input and not (shop_id and platform)
        if ask:
            console.print(f"Writing {target}. Secrets are not asked: they go in the environment.")
            shop_id = shop_id or _ask("shop id (letters, digits, - . _)", check_shop_id)
            platform = platform or _ask(f"platform ({' / '.join(PLATFORMS)})", check_platform, "shopify")
            platform = check_platform(platform)
            if domain is None and platform != "api":
                hint = "NAME.myshopify.com" if platform == "shopify" else "shop.example.com"
                domain = _ask(f"shop domain ({hint})", lambda v: check_domain(v, platform or ""))
            currency = currency or _ask("currency", check_currency, "NOK")
            timezone = timezone or _ask("timezone", check_timezone, "Europe/Oslo")
            if pixel_id is None:
                pixel_id = _ask("Meta dataset (pixel) id, empty to add later", check_pixel_id, "")
            if ad_account_id is None and pixel_id:
                ad_account_id = _ask("Meta ad account id (act_…), empty to skip", check_ad_account_id, "")
        if not shop_id or not platform:
            raise InitError("--no-input needs --shop and --platform")
        shop = checked(
            FirstShop(
                id=shop_id,
                platform=platform,
                domain=domain or "",
                currency=currency or "NOK",
                timezone=timezone or "Europe/Oslo",
                prices_include_vat=prices_include_vat,
                pixel_id=pixel_id or "",
                ad_account_id=ad_account_id or "",
            )
        )
        backup = write_config(target, render_config(shop), force=force)
    except InitError as exc:
        raise fail(str(exc)) from None
    console.print(f"[green]wrote[/green] {target} (shop {shop.id}, {shop.platform})", highlight=False)
    if backup:
        console.print(f"the previous file is kept as {backup}", highlight=False)
    env = f"POAS_SHOP_{env_id(shop.id)}"
    secrets = [f"{env}_WEBHOOK_SECRETS"] if shop.platform != "api" else [f"{env}_API_TOKEN"]
    if shop.pixel_id:
        secrets.append(f"{env}_ACCESS_TOKEN")
    console.print(f"set the secrets in the environment: {', '.join(secrets)}", highlight=False)
    console.print(f"next: {next_command(shop)}", highlight=False)
    console.print("then: poas doctor", highlight=False)


def _example(output: Path | None, force: bool) -> None:
    text = example_config()
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists() and not force:
        raise InitError(f"{output} exists: keep it, or pass --force (the old file is kept as a backup)")
    backup = write_config(output, text, force=force, validate=False)  # its secret files are examples
    console.print(f"[green]wrote[/green] the example configuration to {output}", highlight=False)
    if backup:
        console.print(f"the previous file is kept as {backup}", highlight=False)
