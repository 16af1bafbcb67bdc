"""CLI: `poas import orders` and `poas import costs` (canonical formats, docs/formats.md), streamed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from poas.cli.app import console, err_console, fail, import_app, resolve_shop, store
from poas.cli.intake import worker_died
from poas.services.cost_import import read_cost_file, save_costs
from poas.services.fx_import import import_fx_file
from poas.services.order_import import OrderImport, WorkerDied

MAX_ERRORS_SHOWN = 20


def _print_errors(errors: Sequence[object], total: int) -> None:
    for e in errors:
        err_console.print(Text.assemble(("  ✗ ", "red"), str(e)), highlight=False)
    if total > len(errors):
        err_console.print(f"  … and {total - len(errors)} more rejected rows", highlight=False)


@import_app.command("orders")
def import_orders(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="JSONL or CSV file"),
    shop: str | None = typer.Option(None, "--shop", help="Shop id (default: the only configured shop)"),
    fmt: str | None = typer.Option(None, "--format", help="jsonl or csv (default: from the file suffix)"),
    batch_size: int = typer.Option(2000, "--batch-size", min=1, help="Orders per transaction"),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="Processes parsing and pricing (default: one per CPU; 0: none)"
    ),
    send_events: bool = typer.Option(
        False, "--send-events", help="Queue Purchase events too (off: a backfill is usually too old for Meta)"
    ),
) -> None:
    """Import orders idempotently by (shop, order id); bad rows are reported, good rows are kept."""
    if fmt not in (None, "jsonl", "csv"):
        raise fail(f"--format {fmt!r}: use jsonl or csv")
    cfg, note = resolve_shop(shop)
    if note:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    started = time.perf_counter()
    size = file.stat().st_size
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    importer = OrderImport(
        store(),
        cfg,
        workers=workers,
        batch_size=batch_size,
        send_events=send_events,
        max_errors=MAX_ERRORS_SHOWN,
    )
    try:
        with importer:
            if importer.wants_pool(file, fmt):
                importer.start_pool(str(file))  # before the progress bar's thread: workers fork
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task(f"importing {file.name}", total=size)
                report = importer.run(file, fmt=fmt, on_progress=lambda n: progress.update(task, completed=n))
    except WorkerDied as exc:
        hint = "with --workers 0 to use no worker processes"
        raise worker_died(f"the import of {file.name}", exc.report.committed, hint=hint) from None
    out, errors = report.outcome, report.errors
    accepted, rejected, lines = report.accepted, report.rejected, report.lines
    elapsed = time.perf_counter() - started
    rate = lines / elapsed if elapsed > 0 else 0.0
    console.print(
        f"{file.name}: [green]{accepted}[/green] orders accepted ({lines} lines), "
        f"[red]{rejected}[/red] rejected — {out.inserted} new, {out.updated} updated, "
        f"{out.stale} older than stored (ignored); {out.snapshots} profit snapshots; "
        f"{elapsed:.1f} s, {rate:,.0f} lines/s",
        highlight=False,
    )
    if out.profit_error_count:
        console.print(f"[yellow]{out.profit_error_count} orders stored without profit:[/yellow]")
        for order_id, reason in out.profit_errors[:MAX_ERRORS_SHOWN]:
            console.print(f"  order {order_id}: {reason}", highlight=False, markup=False)
    if send_events:
        console.print(f"{out.queued} orders queued events")
    if rejected:
        _print_errors(errors, rejected)
        raise typer.Exit(1)


@import_app.command("costs")
def import_costs_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Cost CSV file"),
    shop: str | None = typer.Option(None, "--shop", help="Shop id (default: the only configured shop)"),
    recompute: bool = typer.Option(True, help="Price the affected stored orders again"),
) -> None:
    """Import unit costs (sku or variant_id, unit_cost, currency, valid_from); rows are upserted."""
    cfg, note = resolve_shop(shop)
    if note:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    now = datetime.now(UTC)
    read = read_cost_file(store(), cfg, file, now=now, max_errors=MAX_ERRORS_SHOWN)
    reason = f"costs imported from {file.name}" if recompute else None
    saved = save_costs(store(), cfg, read.rows, now=now, recompute_reason=reason)
    imported, rejected = saved.imported, read.rejected
    console.print(
        f"{file.name}: [green]{imported}[/green] cost rows imported, [red]{rejected}[/red] rejected"
    )
    if recompute and read.rows:
        console.print(f"recomputed {saved.recomputed} orders: {saved.changed} new profit snapshots")
    if rejected:
        _print_errors(read.errors, rejected)
        raise typer.Exit(1)


@import_app.command("fx")
def import_fx(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="CSV: date,base,quote,rate"
    ),
) -> None:
    """Import exchange rates (1 base = rate quote on date); they override the bundled ECB history."""
    result = import_fx_file(store(), file, now=datetime.now(UTC))
    console.print(f"{file.name}: {result.saved} rates stored, {len(result.errors)} rejected")
    for e in result.errors[:MAX_ERRORS_SHOWN]:
        err_console.print(
            f"[red]error:[/red] {escape(e.where)}: {escape(e.message)}", highlight=False, soft_wrap=True
        )
    if result.errors:
        raise typer.Exit(1)
