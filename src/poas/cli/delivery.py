"""CLI: `poas worker` (the outbox dispatcher) and `poas outbox stats|list|replay|purge|resume`."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
import typer
from rich.markup import escape
from rich.table import Table

from poas.cli.app import app, console, fail, settings, store
from poas.cli.listing import narrow_table, print_notes, short_time
from poas.services import outbox_admin
from poas.services.deliver import DeliveryConfig, DeliveryReport
from poas.services.delivery_readiness import start_warnings
from poas.services.outbox_admin import STATES
from poas.services.views.order_values import EventValues
from poas.services.worker import MAX_BATCH_SIZE, Worker

outbox_app = typer.Typer(help="Inspect and repair the event outbox.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


def _configure_logs() -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if settings().log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Send what is due now, then exit."),
    concurrency: int = typer.Option(4, min=1, max=64, help="Requests in flight at once."),
    batch_size: int = typer.Option(MAX_BATCH_SIZE, min=1, max=MAX_BATCH_SIZE, help="Events per request."),
    lease_s: float = typer.Option(120.0, min=1.0, help="Seconds a claim is held before others may take it."),
    poll_s: float = typer.Option(1.0, min=0.01, help="Seconds between looks at an empty outbox."),
    retry_base_s: float = typer.Option(2.0, min=0.001, hidden=True),
    throttle_base_s: float = typer.Option(60.0, min=0.001, hidden=True),
    body: str = typer.Option("form", help="Request body: form (Meta's documented form) or json."),
    housekeeping: bool = typer.Option(
        True, "--housekeeping/--no-housekeeping", help="Also process the webhook inbox and finalize orders."
    ),
) -> None:
    """Deliver outbox events to Meta until SIGTERM/SIGINT (in-flight requests finish first)."""
    if body not in ("form", "json"):
        raise fail(f"--body must be form or json, got {body!r}")
    _configure_logs()
    cfg = settings()
    config = DeliveryConfig(
        batch_size=batch_size,
        concurrency=concurrency,
        lease_s=lease_s,
        idle_poll_s=poll_s,
        retry_base_s=retry_base_s,
        throttle_base_s=throttle_base_s,
    )
    for warning in start_warnings(cfg.shops):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    report = asyncio.run(_work(config, once, body, housekeeping))
    console.print(
        f"worker done: {report.requests} requests, {report.sent} sent, {report.retried} to retry, "
        f"{report.dead} dead, {report.too_old} too old"
        + (f", paused pixels: {', '.join(sorted(report.paused))}" if report.paused else "")
    )


async def _work(config: DeliveryConfig, once: bool, body: str, housekeeping: bool) -> DeliveryReport:
    cfg = settings()
    async with Worker(store(), cfg, config, body_format="json" if body == "json" else "form") as w:
        structlog.get_logger("poas.worker").info(
            "worker started", worker=w.worker_id, concurrency=config.concurrency, once=once
        )
        if once:
            return await w.drain(housekeeping=housekeeping, now=datetime.now(UTC))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await w.run(stop, housekeeping=housekeeping)


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "-"
    seconds = int((now - since).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


@outbox_app.command("stats")
def outbox_stats() -> None:
    """Events by state per pixel, the oldest unsent event's age, and paused or throttled pixels."""
    now = datetime.now(UTC)
    st = outbox_admin.outbox_stats(store(), now=now)
    table = Table("pixel", *STATES, "oldest unsent", "status", title="outbox")
    paused = {p.pixel_id: p for p in st.paused}
    for pixel in sorted(set(st.counts) | set(paused)):
        counts = st.counts.get(pixel, {})
        status = "paused" if pixel in paused else ("throttled" if pixel in st.throttled else "ok")
        table.add_row(
            pixel, *(str(counts.get(s, 0)) for s in STATES), _age(st.oldest_due.get(pixel), now), status
        )
    console.print(table)
    for p in st.paused:
        until = p.paused_until.isoformat() if p.paused_until else "resumed by hand (poas outbox resume)"
        console.print(
            f"[red]PAUSED[/red] pixel {p.pixel_id} since {_iso(p.paused_at)}: {p.reason} — until {until}"
        )
    for pixel, throttled_until in sorted(st.throttled.items()):
        console.print(f"[yellow]throttled[/yellow] pixel {pixel} until {_iso(throttled_until)}")


def _iso(t: datetime | None) -> str:
    return t.isoformat(timespec="seconds") if t else "-"


@outbox_app.command("list")
def outbox_list(
    state: str | None = typer.Option(None, help=f"Only this state: {', '.join(STATES)}."),
    limit: int = typer.Option(50, min=1),
    wide: bool = typer.Option(False, "--wide", help="Every column in one table (for wide terminals)."),
) -> None:
    """List events oldest first, with the values each tells Meta (value, net_revenue, currency)."""
    if state is not None and state not in STATES:
        raise fail(f"--state must be one of {', '.join(STATES)}, got {state!r}")
    rows = outbox_admin.list_event_values(store(), state=state, limit=limit)
    if wide:
        console.print(_wide_outbox(rows))
        return
    table = narrow_table(
        ("id", max((len(str(r["id"])) for r, _ in rows), default=2), None),
        ("order", 5, 16),
        ("event", 5, 14),
        ("state", 7, 7),
        ("value", 5, 12),
        ("net_revenue", 11, 12),
        ("cur", 3, 3),
        ("created", 11, 11),
    )
    for r, v in rows:
        table.add_row(
            str(r["id"]),
            r["order_id"] or "-",
            r["event_name"],
            r["state"],
            _amount(v.value),
            _amount(v.net_revenue),
            v.currency or "-",
            short_time(r["created_at"]),
        )
    console.print(table)
    print_notes(console, ((r["id"], _trouble(r)) for r, _ in rows), "errors (poas outbox list --wide: all):")


def _amount(v: Decimal | None) -> str:
    return "-" if v is None else str(v)


def _trouble(r: dict[str, Any]) -> str:
    if not r["last_error"]:
        return ""
    tries = f"{r['attempts']} attempt" + ("" if r["attempts"] == 1 else "s")
    return f"pixel {r['pixel_id']}, event_id {r['event_id']}, {tries}: {r['last_error']}"


def _wide_outbox(rows: list[tuple[dict[str, Any], EventValues]]) -> Table:
    table = Table(
        "id", "pixel", "order", "event", "event_id", "state", "attempts", "created", "sent",
        "value", "net_revenue", "currency", "last error",
    )  # fmt: skip
    for r, v in rows:
        table.add_row(
            str(r["id"]),
            r["pixel_id"],
            r["order_id"] or "-",
            r["event_name"],
            r["event_id"],
            r["state"],
            str(r["attempts"]),
            _iso(r["created_at"]),
            _iso(r["sent_at"]),
            _amount(v.value),
            _amount(v.net_revenue),
            v.currency or "-",
            r["last_error"] or "",
        )
    return table


@outbox_app.command("replay")
def outbox_replay(
    ids: list[int] = typer.Option(None, "--id", help="Outbox id of a dead event (repeatable)."),
    all_dead: bool = typer.Option(False, "--all-dead", help="Replay every dead event."),
) -> None:
    """Put dead events back in the queue with the same event_id (Meta deduplicates a resend)."""
    if not ids and not all_dead:
        raise fail("give --id N (repeatable) or --all-dead")
    n = outbox_admin.replay_dead(store(), ids=None if all_dead else ids, now=datetime.now(UTC))
    console.print(f"{n} dead event(s) back to pending")


@outbox_app.command("purge")
def outbox_purge(
    older_than: int = typer.Option(..., "--older-than", min=1, help="Days: sent events older are deleted."),
) -> None:
    """Delete sent events (and delivery-log rows) older than N days; unsent events are never purged."""
    cutoff = datetime.now(UTC) - timedelta(days=older_than)
    events, logs = outbox_admin.purge_sent(store(), older_than=cutoff)
    console.print(f"purged {events} sent event(s) and {logs} delivery-log row(s) older than {_iso(cutoff)}")


@outbox_app.command("resume")
def outbox_resume(pixel_id: str = typer.Argument(..., help="The paused pixel.")) -> None:
    """Resume a paused pixel (after fixing its token or permissions)."""
    if not outbox_admin.resume_pixel(store(), pixel_id, now=datetime.now(UTC)):
        raise fail(f"pixel {pixel_id} has no pause or throttle state")
    console.print(f"pixel {pixel_id} resumed")
