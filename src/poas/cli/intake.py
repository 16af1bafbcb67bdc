"""CLI: `poas shops`, `poas inbox list|retry`, `poas import shopify-bulk` and `poas import shopify-csv`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from poas.cli.app import app, console, err_console, import_app, pick_shop, settings, store
from poas.cli.listing import narrow_table, print_notes, short_time
from poas.services import intake
from poas.services.backfill import BackfillWorkerDied, Kind, backfill
from poas.services.inbox import inbox_counts, inbox_rows, retry_inbox
from poas.services.settings_sources import effective_or_file
from poas.settings import ShopConfig, mask

inbox_app = typer.Typer(help="Deliveries received by webhooks and the JSON API.", no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")

MAX_ERRORS_SHOWN = 20


@app.command("shops")
def shops_cmd() -> None:
    """List the configured shops, secrets masked, with their settings as every process uses them
    (those changed in the dashboard marked)."""
    cfg = settings()
    if not cfg.shops:
        console.print(f"no shops configured in {cfg.config_path()} (run `poas init`)")
        return
    cfg, sources, note = effective_or_file(cfg, store)
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
    if note:
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    for shop_id, found in (sources or {}).items():
        console.print(
            f"{escape(shop_id)} settings: " + ", ".join(escape(x.text) for x in found.settings),
            highlight=False,
        )


@inbox_app.command("list")
def inbox_list(
    status: str = typer.Option(
        "open",
        help="open (pending, processing, failed, rejected), all, or one status "
        "(pending, processing, done, skipped, failed, rejected)",
    ),
    shop: str | None = typer.Option(None, help="Only this shop"),
    limit: int = typer.Option(50, min=1),
    wide: bool = typer.Option(False, "--wide", help="Every column in one table (for wide terminals)"),
) -> None:
    """Show deliveries, newest first, with their attempts and last error (no payloads)."""
    statuses = {"open": ["pending", "processing", "failed", "rejected"], "all": None}.get(status, [status])
    rows = inbox_rows(store(), statuses=statuses, shop_id=shop, limit=limit)
    counts = inbox_counts(store())
    if wide:
        console.print(_wide_table(rows))
    else:
        table = narrow_table(
            ("id", _digits(rows), None),
            ("shop", 4, 14),
            ("topic", 11, 14),
            ("order", 5, 16),
            ("status", 7, 10),
            ("tries", 5, 5),
            ("received", 11, 11),
        )
        for r in rows:
            table.add_row(
                str(r["id"]),
                r["shop_id"],
                r["topic"],
                r["order_id"] or "-",
                r["status"],
                str(r["attempts"]),
                short_time(r["received_at"]),
            )
        console.print(table)
        print_notes(console, ((r["id"], _note(r)) for r in rows), "notes (error or outcome):")
    console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "the inbox is empty")


def _digits(rows: list[dict[str, Any]]) -> int:
    return max((len(str(r["id"])) for r in rows), default=2)


def _note(r: dict[str, Any]) -> str:
    """The row's error (or outcome), after its next try when it is waiting for one."""
    parts = [str(r["error"] or r["outcome"] or "")]
    if r["status"] == "pending" and r["attempts"]:
        parts.insert(0, f"next try {r['next_attempt_at']:%Y-%m-%d %H:%M:%S}:")
    return " ".join(p for p in parts if p)


def _wide_table(rows: list[dict[str, Any]]) -> Table:
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
    return table


@inbox_app.command("retry")
def inbox_retry(
    ids: list[int] = typer.Argument(None, help="Row ids, also of rejected rows (default: every failed row)"),
) -> None:
    """Make failed deliveries due again, then process everything that is due."""
    now = datetime.now(UTC)
    n = retry_inbox(store(), now=now, ids=ids or None)
    stats = intake.process_pending(store(), now, settings=settings())
    console.print(
        f"{n} rows made due; processed {stats.claimed}: {stats.done} done, {stats.skipped} skipped, "
        f"{stats.retrying} will be retried, {stats.failed} failed, {stats.rejected} rejected"
    )
    if stats.retrying or stats.failed or stats.rejected:
        raise typer.Exit(1)


def _backfill(file: Path, shop: ShopConfig, kind: Kind, *, batch_size: int, send_events: bool) -> None:
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    try:
        with file.open("rb") as stream, Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"importing {file.name}", total=file.stat().st_size)
            report = backfill(
                store(),
                shop,
                stream,
                kind,
                now=datetime.now(UTC),
                batch_size=batch_size,
                send_events=send_events,
                max_errors=MAX_ERRORS_SHOWN,
                on_progress=lambda n: progress.update(task, completed=n),
            )
    except BackfillWorkerDied as exc:
        raise worker_died(f"the import of {file.name}", exc.report.committed) from None
    elapsed = time.perf_counter() - started
    out = report.outcome
    console.print(
        f"{file.name}: [green]{report.accepted}[/green] orders accepted, [red]{report.rejected}[/red] "
        f"rejected, {report.skipped} test orders skipped — {out.inserted} new, {out.updated} updated, "
        f"{out.stale} older than stored (ignored); {out.snapshots} profit snapshots; {elapsed:.1f} s",
        highlight=False,
    )
    for order_id, reason in out.profit_errors[:MAX_ERRORS_SHOWN]:
        console.print(f"  order {order_id}: no profit: {reason}", highlight=False, markup=False)
    for e in report.errors:
        err_console.print(f"  ✗ {e}", highlight=False, markup=False)
    if report.rejected:
        raise typer.Exit(1)


def worker_died(what: str, committed: int, *, hint: str = "") -> typer.Exit:
    """Say on one line (however narrow the terminal) that a worker process died; exit 1. `hint` ends
    the line (how to run without worker processes, where the command has a way)."""
    err_console.print(
        f"[red]error:[/red] a worker process died (out of memory?): {escape(what)} stopped after "
        f"{committed} orders were committed; running it again is safe (orders are stored once per "
        f"order id, nothing is doubled){', ' + hint if hint else ''}",
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(1)


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
    _backfill(file, pick_shop(shop), "bulk", batch_size=batch_size, send_events=send_events)


@import_app.command("shopify-csv")
def import_shopify_csv(
    file: Path = FILE,
    shop: str | None = typer.Option(None, "--shop"),
    batch_size: int = typer.Option(1000, "--batch-size", min=1),
    send_events: bool = SEND_EVENTS,
) -> None:
    """Import orders from Shopify's admin orders export (CSV)."""
    _backfill(file, pick_shop(shop), "csv", batch_size=batch_size, send_events=send_events)
