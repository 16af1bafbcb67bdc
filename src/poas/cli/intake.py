"""CLI: `poas shops`, `poas inbox list|retry`, `poas import shopify-bulk` and `poas import shopify-csv`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from poas.cli.app import app, console, err_console, import_app, pick_shop, settings, store
from poas.domain.order import Order
from poas.services import intake
from poas.services.ingest import BatchOutcome, ProfitContext, ingest_orders
from poas.settings import ShopConfig, mask
from poas.sources.shopify_bulk import BulkError, read_bulk
from poas.sources.shopify_csv import CsvError, read_export
from poas.store import inbox
from poas.store.orders import ensure_shop

inbox_app = typer.Typer(help="Deliveries received by webhooks and the JSON API.", no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")

MAX_ERRORS_SHOWN = 20


@app.command("shops")
def shops_cmd() -> None:
    """List the configured shops, secrets masked."""
    cfg = settings()
    if not cfg.shops:
        console.print(f"no shops configured in {cfg.config_path()} (see docs/poas.example.toml)")
        return
    table = Table("id", "platform", "currency", "VAT incl.", "pixel", "webhook secrets", "api token", "token")
    for s in cfg.shops:
        table.add_row(
            s.id,
            s.platform,
            s.currency,
            "yes" if s.prices_include_vat else "no",
            s.pixel_id or "-",
            ", ".join(mask(x) for x in s.webhook_secrets) or "-",
            mask(s.api_token),
            mask(s.access_token),
        )
    console.print(table)


@inbox_app.command("list")
def inbox_list(
    status: str = typer.Option("open", help="open (pending, processing, failed), all, or one status"),
    shop: str | None = typer.Option(None, help="Only this shop"),
    limit: int = typer.Option(50, min=1),
) -> None:
    """Show deliveries, newest first, with their attempts and last error (no payloads)."""
    statuses = {"open": ["pending", "processing", "failed"], "all": None}.get(status, [status])
    with store().connect() as conn:
        rows = inbox.rows(conn, statuses=statuses, shop_id=shop, limit=limit)
        counts = inbox.counts(conn)
    table = Table("id", "shop", "source", "topic", "order", "status", "tries", "received", "next try", "note")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["shop_id"],
            r["source"],
            r["topic"],
            r["order_id"] or "-",
            r["status"],
            str(r["attempts"]),
            f"{r['received_at']:%Y-%m-%d %H:%M:%S}",
            f"{r['next_attempt_at']:%Y-%m-%d %H:%M:%S}" if r["status"] == "pending" else "-",
            r["error"] or r["outcome"] or "",
        )
    console.print(table)
    console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "the inbox is empty")


@inbox_app.command("retry")
def inbox_retry(
    ids: list[int] = typer.Argument(None, help="Row ids (default: every failed row)"),
) -> None:
    """Make failed deliveries due again, then process everything that is due."""
    now = datetime.now(UTC)
    with store().begin() as conn:
        n = inbox.retry(conn, now=now, ids=ids or None)
    stats = intake.process_pending(store(), now, settings=settings())
    console.print(
        f"{n} rows made due; processed {stats.claimed}: {stats.done} done, {stats.skipped} skipped, "
        f"{stats.retrying} will be retried, {stats.failed} failed"
    )
    if stats.retrying or stats.failed:
        raise typer.Exit(1)


def _backfill(
    file: Path,
    shop: ShopConfig,
    reader: Callable[[IO[bytes], Callable[[int], None]], Iterator[Order | BulkError | CsvError]],
    *,
    batch_size: int,
    send_events: bool,
) -> None:
    now = datetime.now(UTC)
    engine = store()
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        ctx = ProfitContext.load(conn, shop)
    out = BatchOutcome()
    errors: list[str] = []
    rejected = accepted = skipped = 0
    batch: list[Order] = []

    def commit() -> None:
        with engine.begin() as conn:
            ingest_orders(conn, batch, shop, now=now, context=ctx, trigger_purchase=send_events, outcome=out)
        batch.clear()

    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with file.open("rb") as stream, Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"importing {file.name}", total=file.stat().st_size)
        for item in reader(stream, lambda n: progress.update(task, completed=n)):
            if isinstance(item, BulkError | CsvError):
                rejected += 1
                if len(errors) < MAX_ERRORS_SHOWN:
                    errors.append(str(item))
                continue
            if item.test:
                skipped += 1
                continue
            accepted += 1
            batch.append(item)
            if len(batch) >= batch_size:
                commit()
        if batch:
            commit()
    elapsed = time.perf_counter() - started
    console.print(
        f"{file.name}: [green]{accepted}[/green] orders accepted, [red]{rejected}[/red] rejected, "
        f"{skipped} test orders skipped — {out.inserted} new, {out.updated} updated, {out.stale} older than "
        f"stored (ignored); {out.snapshots} profit snapshots; {elapsed:.1f} s",
        highlight=False,
    )
    for order_id, reason in out.profit_errors[:MAX_ERRORS_SHOWN]:
        console.print(f"  order {order_id}: no profit: {reason}", highlight=False, markup=False)
    for e in errors:
        err_console.print(f"  ✗ {e}", highlight=False, markup=False)
    if rejected:
        raise typer.Exit(1)


FILE = typer.Argument(..., exists=True, dir_okay=False, readable=True)
SEND_EVENTS = typer.Option(False, "--send-events", help="Queue Purchase events (off: backfills are old)")


@import_app.command("shopify-bulk")
def import_shopify_bulk(
    file: Path = FILE,
    shop: str | None = typer.Option(None, "--shop"),
    batch_size: int = typer.Option(1000, "--batch-size", min=1),
    send_events: bool = SEND_EVENTS,
) -> None:
    """Import orders from a Shopify bulk-operation JSONL file (Order rows, then LineItem rows)."""
    cfg = pick_shop(shop)
    _backfill(
        file,
        cfg,
        lambda s, p: read_bulk(s, cfg.id, on_progress=p),
        batch_size=batch_size,
        send_events=send_events,
    )


@import_app.command("shopify-csv")
def import_shopify_csv(
    file: Path = FILE,
    shop: str | None = typer.Option(None, "--shop"),
    batch_size: int = typer.Option(1000, "--batch-size", min=1),
    send_events: bool = SEND_EVENTS,
) -> None:
    """Import orders from Shopify's admin orders export (CSV)."""
    cfg = pick_shop(shop)
    _backfill(
        file,
        cfg,
        lambda s, p: read_export(s, cfg.id, prices_include_vat=cfg.prices_include_vat, on_progress=p),
        batch_size=batch_size,
        send_events=send_events,
    )
