"""CLI: `poas sandbox shopify` (a local Shopify Admin API), `poas connect shopify` and the Shopify
part of `poas sync`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from poas.cli.app import connect_app, console, err_console, fail, settings, store
from poas.cli.intake import worker_died
from poas.cli.meta import sandbox_app
from poas.cli.sync import SYNCERS
from poas.services.backfill import BackfillWorkerDied
from poas.services.shopify_connect import ConnectError, ShopifyConnection, connect_shopify
from poas.services.shopify_sync import SyncError, sync_shopify
from poas.settings import ShopConfig


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
    import uvicorn  # the sandboxes' web stack only for the commands that serve one

    from poas.services.shopify_sandbox import SeedError, new_shopify_sandbox_app

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


@connect_app.command("shopify")
def connect_shopify_command(
    shop_id: str = typer.Argument(..., help="the shop's id in poas (added to poas.toml when missing)"),
    store: str = typer.Option(..., "--store", help="the shop's NAME.myshopify.com domain"),
    public_url: str = typer.Option(..., "--public-url", help="where poas is reachable over https"),
    client_id: str | None = typer.Option(None, "--client-id", help="a Dev Dashboard app's client id"),
    client_secret: str | None = typer.Option(
        None, "--client-secret", envvar="POAS_CONNECT_SHOPIFY_CLIENT_SECRET", help="its client secret"
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="POAS_CONNECT_SHOPIFY_TOKEN",
        help="or a custom app's Admin API token (shpat_…)",
    ),
) -> None:
    """Check the app's credentials and scopes, read the shop's currency, timezone and tax inclusion,
    register the order and refund webhooks at --public-url, and store the connection."""
    conn = ShopifyConnection(shop_id, store, public_url, client_id, client_secret, token)
    try:
        report = connect_shopify(settings(), conn)
    except ConnectError as exc:
        raise fail(f"{exc} (nothing was registered)") from None
    info = report.info
    if info is not None:
        console.print(
            f"[green]connected[/green] {info.name} ({info.domain}): {info.currency}, {info.timezone}, "
            f"prices {'include' if info.taxes_included else 'exclude'} tax",
            highlight=False,
        )
    for key, mine, theirs in report.differences:
        console.print(
            f"  {key}: poas.toml had {mine}, the shop says {theirs} (now {theirs})", highlight=False
        )
    for label, topics in (("created", report.created), ("moved", report.updated), ("kept", report.kept)):
        if topics:
            console.print(f"  webhooks {label}: {', '.join(topics)}", highlight=False)
    console.print(f"  deliveries go to {report.delivery_url}", highlight=False)
    action = "added to" if report.entry_added else "updated in"
    console.print(f"  shop {report.shop_id!r} {action} {report.config_path}", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    console.print(f"next: poas sync {report.shop_id}", highlight=False)


def sync_shopify_shop(shop: ShopConfig, since: datetime | None, costs_only: bool) -> None:
    """`poas sync` for a Shopify shop: costs, then orders by a bulk operation (progress on standard error)."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err_console, transient=True
    ) as bar:
        task = bar.add_task("orders", total=None, visible=False)

        def downloaded(size: int) -> None:
            bar.update(task, total=size, visible=True)

        def imported(done: int) -> None:
            bar.update(task, completed=done)

        try:
            report = sync_shopify(
                store(),
                settings(),
                shop,
                now=datetime.now(UTC),
                since=since,
                costs_only=costs_only,
                on_download=downloaded,
                on_progress=imported,
            )
        except SyncError as exc:
            raise fail(f"sync stopped: {exc}") from None
        except BackfillWorkerDied as exc:
            raise worker_died(f"the sync of {shop.id}", exc.report.committed) from None
    console.print(
        f"costs: {report.costs_seen} variant(s) with a cost, {report.costs_new} new, "
        f"{report.costs_changed} changed",
        highlight=False,
    )
    if report.costs_new:
        console.print(
            "  first-seen costs apply to older orders too (source shopify-first-sync)", highlight=False
        )
    if report.costs_missing:
        shown = ", ".join(report.costs_missing[:5]) + (" …" if len(report.costs_missing) > 5 else "")
        console.print(f"  no cost in Shopify for {len(report.costs_missing)}: {shown}", highlight=False)
    console.print(
        f"products: {report.catalogued} variant(s) with titles and product type (the lines' category); "
        f"{report.categories_filled} stored line(s) given their category",
        highlight=False,
    )
    orders = report.orders
    if orders is not None and report.since is not None:
        console.print(f"orders changed since {report.since.isoformat(timespec='seconds')}:", highlight=False)
    if orders is not None:
        console.print(
            f"orders: {orders.accepted} imported, {orders.rejected} rejected, "
            f"{orders.skipped} test order(s) skipped",
            highlight=False,
        )
        for err in orders.errors:
            err_console.print(f"  {err}", highlight=False)
    if report.throttle_waits:
        console.print(f"  waited for Shopify's rate limit {report.throttle_waits} time(s)", highlight=False)


SYNCERS["shopify"] = sync_shopify_shop
