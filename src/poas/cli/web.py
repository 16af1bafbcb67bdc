"""CLI: `poas web` (the web app only), `poas serve` (web + delivery worker) and `poas admin`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from poas.cli.app import app, console, err_console, fail, settings, store

admin_app = typer.Typer(
    help="Administration: the dashboard's admin password and sessions.", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")
sessions_app = typer.Typer(
    help="Admin sessions kept in the store: list them, revoke one or all.", no_args_is_help=True
)
admin_app.add_typer(sessions_app, name="sessions")


def _announce_password(password: str | None) -> None:
    """Print a generated one-time password to the terminal only (never to the log)."""
    if password is None:
        return
    err_console.print(
        "[bold]No admin password is configured.[/bold] One-time password for this run:",
        highlight=False,
        soft_wrap=True,
    )
    err_console.print(f"[bold green]{password}[/bold green]", highlight=False, soft_wrap=True)
    err_console.print(
        "Set a permanent one: poas admin hash-password, then POAS_ADMIN_PASSWORD_HASH=<hash>",
        highlight=False,
        soft_wrap=True,
    )


@app.command("web")
def web_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
) -> None:
    """Run only the web app (dashboard, JSON API, webhooks, /metrics); workers run elsewhere."""
    from poas.web.server import ensure_admin_password, run_web

    s = settings()
    store()  # migrate once here, before worker processes start
    _announce_password(ensure_admin_password(s))
    console.print(f"poas web on http://{host}:{port} ({workers} worker process(es))", highlight=False)
    run_web(host, port, workers)


@admin_app.command("hash-password")
def hash_password_command(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Print a scrypt hash of a password for POAS_ADMIN_PASSWORD_HASH (the password is never shown)."""
    from poas.web.auth import hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise fail("the password must not be empty")
    if len(password) < 10:
        err_console.print("[yellow]warning:[/yellow] a password shorter than 10 characters is weak")
    typer.echo(hash_password(password))


def _password_hash() -> str | None:
    secret = settings().admin_password_hash
    return secret.get_secret_value() if secret else None


@sessions_app.command("list")
def sessions_list_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
) -> None:
    """Every stored admin session, newest first: its handle (the start of the stored hash, never the
    session id), when it started, was last used and ends, and whether the configured password's."""
    import json
    from datetime import UTC, datetime

    from rich.table import Table

    from poas.services.admin_sessions import configured_session_policy, list_sessions

    s = settings()
    found = list_sessions(
        store(), _password_hash(), now=datetime.now(UTC), policy=configured_session_policy(s)
    )
    if as_json:
        rows = [
            {
                "handle": f.handle,
                "created_at": f.created_at.isoformat(),
                "last_seen_at": f.last_seen_at.isoformat(),
                "expires_at": f.expires_at.isoformat(),
                "state": f.state,
            }
            for f in found
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not found:
        console.print("no admin sessions")
        return
    table = Table("handle", "started", "last used", "ends", "state")
    for f in found:
        when = [t.strftime("%Y-%m-%d %H:%M UTC") for t in (f.created_at, f.last_seen_at, f.expires_at)]
        table.add_row(f.handle, *when, f.state)
    console.print(table)


@sessions_app.command("revoke")
def sessions_revoke_command(
    handle: Annotated[
        str | None, typer.Argument(help="The start of a session's handle (poas admin sessions list).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Revoke every admin session.")] = False,
) -> None:
    """End one admin session (by the start of its handle) or all of them, for every web process."""
    from poas.services.admin_sessions import SessionPrefixError, revoke_sessions

    if every == (handle is not None):
        raise fail("give a session handle prefix or --all (not both)", code=2)
    try:
        removed = revoke_sessions(store(), None if every else handle)
    except SessionPrefixError as exc:
        raise fail(str(exc)) from None
    console.print(f"revoked {removed} session{'' if removed == 1 else 's'}", highlight=False)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Graph requests in flight at once.")] = 4,
) -> None:
    """Run the web app and the delivery worker in one process (the embedded SQLite default)."""
    import asyncio

    from rich.markup import escape

    from poas.services.deliver import DeliveryConfig
    from poas.services.delivery_readiness import start_warnings
    from poas.web.server import ensure_admin_password, serve_with_worker

    s = settings()
    engine = store()
    _announce_password(ensure_admin_password(s))
    for warning in start_warnings(s.shops):
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    console.print(f"poas serve on http://{host}:{port} (web + delivery worker)", highlight=False)
    report = asyncio.run(
        serve_with_worker(s, engine, host, port, delivery=DeliveryConfig(concurrency=concurrency))
    )
    console.print(
        f"stopped: {report.requests} requests to Meta, {report.sent} events sent, {report.dead} dead",
        highlight=False,
    )
