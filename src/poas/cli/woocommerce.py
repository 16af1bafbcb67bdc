"""CLI: `poas sandbox woocommerce` (a local WooCommerce REST API), `poas connect woocommerce` and the
WooCommerce part of `poas sync`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from poas.cli.app import console, err_console, fail, settings, store
from poas.cli.connect import connect_app
from poas.cli.meta import sandbox_app
from poas.cli.sync import SYNCERS
from poas.services.woocommerce_connect import ConnectError, WooConnection, connect_woocommerce
from poas.services.woocommerce_sync import SyncError, sync_woocommerce
from poas.settings import ShopConfig


@sandbox_app.command("woocommerce")
def sandbox_woocommerce(
    port: int = typer.Option(8557, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host"),
    seed: Path | None = typer.Option(
        None, "--seed", help="directory with orders/*.json (REST v3 order bodies) and variants.csv"
    ),
    key: str | None = typer.Option(None, "--key", help="accept only this consumer key (default: any ck_…)"),
    secret: str | None = typer.Option(
        None, "--secret", envvar="POAS_SANDBOX_WOOCOMMERCE_SECRET", help="accept only this consumer secret"
    ),
) -> None:
    """Run the WooCommerce sandbox in the foreground (Ctrl-C stops it)."""
    import uvicorn  # the sandboxes' web stack only for the commands that serve one

    from poas.services.woocommerce_sandbox import WooSeedError, new_woo_sandbox_app

    try:
        sandbox = new_woo_sandbox_app(seed, key=key, secret=secret)
    except WooSeedError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"WooCommerce sandbox on http://{host}:{port} (/wp-json/wc/v3/…; control: /_sandbox/faults, "
        "/_sandbox/config, /_sandbox/orders)",
        highlight=False,
    )
    uvicorn.run(sandbox, host=host, port=port, log_level="warning")


@connect_app.command("woocommerce")
def connect_woocommerce_command(
    shop: str = typer.Argument(..., help="the shop id in poas (added to poas.toml when missing)"),
    url: str = typer.Option(..., "--url", help="the site, https://shop.example"),
    key: str = typer.Option(..., "--key", envvar="POAS_WOOCOMMERCE_KEY", help="REST API consumer key (ck_…)"),
    secret: str = typer.Option(
        ..., "--secret", envvar="POAS_WOOCOMMERCE_SECRET", help="REST API consumer secret (cs_…)"
    ),
    public_url: str = typer.Option(..., "--public-url", help="where WooCommerce reaches poas, https://…"),
) -> None:
    """Check the key, register poas's order webhooks on the site and store the connection."""
    conn = WooConnection(shop, url, key, secret, public_url)
    try:
        report = connect_woocommerce(settings(), conn)
    except ConnectError as exc:
        raise fail(f"not connected: {exc}") from None
    console.print(
        f"[green]connected[/green] {report.shop_id}: "
        f"{report.orders} order(s), {report.products} product(s) readable",
        highlight=False,
    )
    for label, topics in (("created", report.created), ("updated", report.updated)):
        if topics:
            console.print(f"webhooks {label}: {', '.join(topics)} → {report.delivery_url}", highlight=False)
    if report.removed:
        console.print(f"duplicate webhooks removed: {report.removed}")
    where = "added to" if report.shop_added else "updated in"
    console.print(
        f"shop {where} {report.config_path}; secrets in {report.secrets_dir} (0600)", highlight=False
    )
    console.print(f"next: poas sync {report.shop_id}", highlight=False)


def sync_woocommerce_shop(shop: ShopConfig, since: datetime | None, costs_only: bool) -> None:
    """`poas sync` for a WooCommerce shop: costs, then orders page by page (progress on standard error)."""

    def progress(accepted: int, rejected: int) -> None:
        err_console.print(f"… {accepted} order(s) read, {rejected} rejected", highlight=False)

    try:
        report = sync_woocommerce(
            store(), shop, now=datetime.now(UTC), since=since, costs_only=costs_only, on_page=progress
        )
    except SyncError as exc:
        raise fail(f"sync stopped: {exc}") from None
    console.print(
        f"costs: {report.costs_seen} item(s) with a cost ({report.costs_new} new, {report.costs_changed} "
        f"changed), {len(report.costs_missing)} without",
        highlight=False,
    )
    if report.costs_new:
        console.print(
            "first-seen costs apply to older orders too (source woocommerce-first-sync)", highlight=False
        )
    if report.unkeyed:
        shown = ", ".join(report.unkeyed[:5]) + (" …" if len(report.unkeyed) > 5 else "")
        console.print(
            f"  {len(report.unkeyed)} simple product(s) without a SKU, so no order line can be matched "
            f"to their cost: give them a SKU in WooCommerce ({shown})",
            highlight=False,
        )
    console.print(
        f"products: {report.catalogued} item(s) with title and first category (the lines' category); "
        f"{report.categories_filled} stored line(s) given their category",
        highlight=False,
    )
    if not costs_only:
        after = f" changed after {report.since:%Y-%m-%d %H:%M:%S} UTC" if report.since else ""
        new, updated = report.outcome.inserted, report.outcome.updated
        console.print(
            f"orders{after}: {report.orders_accepted} read ({new} new, {updated} updated), "
            f"{report.orders_rejected} rejected",
            highlight=False,
        )
        for error in report.errors:
            console.print(f"  {error}", highlight=False)
    if report.throttled:
        console.print(f"the shop throttled {report.throttled} request(s); waited as asked", highlight=False)


SYNCERS["woocommerce"] = sync_woocommerce_shop
