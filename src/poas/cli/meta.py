"""CLI: `poas hash`, `poas validate-event` and `poas sandbox` (the local Meta Graph API)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from poas.cli.app import app, console, fail
from poas.domain.capi_validation import payload_events, validate_batch
from poas.domain.google_identity import GOOGLE_FIELDS, GOOGLE_UNHASHED, normalize_google, sha256_hex
from poas.domain.pii import HASHED, PiiError, hash_field, normalize

sandbox_app = typer.Typer(
    help="A local Meta Graph API: validates, records and (on request) fails Conversions API calls.",
    invoke_without_command=True,
)
app.add_typer(sandbox_app, name="sandbox")


@app.command("hash")
def hash_command(
    field: str = typer.Argument(..., help=f"one of {', '.join(HASHED)}"),
    value: str = typer.Argument(..., help="the raw value"),
    country: str | None = typer.Option(None, "--country", help="ISO country for phones, states, zips, dates"),
    google: bool = typer.Option(
        False, "--google", help=f"Google's rules instead (Data Manager API): {', '.join(GOOGLE_FIELDS)}"
    ),
) -> None:
    """Print a value normalized the way Meta (or with --google, Google) asks, and its SHA-256."""
    if google:
        _hash_google(field, value, country)
        return
    if field not in HASHED:
        raise fail(f"field {field!r} is not hashed; hashed fields: {', '.join(HASHED)}")
    cc = country.strip().lower() if country else None
    try:
        normalized = normalize(field, value, cc)
        digest = hash_field(field, value, cc)
    except PiiError as exc:
        raise fail(f"{field}: {exc}") from None
    console.print(f"normalized  {normalized}", highlight=False)
    console.print(f"sha256      {digest}", highlight=False)


def _hash_google(field: str, value: str, country: str | None) -> None:
    if field not in GOOGLE_FIELDS:
        raise fail(f"field {field!r}: Google's fields are {', '.join(GOOGLE_FIELDS)}")
    try:
        normalized = normalize_google(field, value, country.strip().upper() if country else None)
    except PiiError as exc:
        raise fail(f"{field}: {exc}") from None
    digest = "(sent unhashed)" if field in GOOGLE_UNHASHED else sha256_hex(normalized)
    console.print(f"normalized  {normalized}", highlight=False)
    console.print(f"sha256      {digest}", highlight=False)


@app.command("validate-event")
def validate_event_command(
    file: Path = typer.Argument(..., help="JSON: one event, a list of events or a {data: [...]} body"),
    at: int | None = typer.Option(
        None, "--at", help="check event times against this Unix time (default now)"
    ),
) -> None:
    """Check a CAPI payload with the sandbox's rules; print each problem with its path."""
    try:
        payload = json.loads(file.read_text())
    except OSError as exc:
        raise fail(f"{file}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{file}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    data = payload_events(payload)
    problems = validate_batch(data, at if at is not None else int(time.time()))
    if not problems:
        n = len(data) if isinstance(data, list) else 0
        console.print(f"[green]ok[/green]: {n} event(s) valid")
        return
    for p in problems:
        console.print(f"[red]{p.path}[/red]: {p.message}", highlight=False)
    raise fail(f"{file}: {len(problems)} problem(s)")


@sandbox_app.callback()
def sandbox(
    ctx: typer.Context,
    port: int = typer.Option(8555, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host"),
    app_secret: str | None = typer.Option(
        None, "--app-secret", envvar="POAS_SANDBOX_APP_SECRET", help="require appsecret_proof"
    ),
) -> None:
    """Run the Meta sandbox in the foreground (Ctrl-C stops it)."""
    if ctx.invoked_subcommand is not None:
        return
    _serve_meta(host, port, app_secret)


def _serve_meta(host: str, port: int, app_secret: str | None) -> None:
    import uvicorn  # the sandboxes' web stack only for the commands that serve one

    from poas.services.sandbox import new_sandbox_app

    console.print(f"Meta sandbox on http://{host}:{port} (Graph paths /{{version}}/{{pixel}}/events)")
    uvicorn.run(new_sandbox_app(app_secret=app_secret), host=host, port=port, log_level="warning")


@sandbox_app.command("meta")
def sandbox_meta(
    port: int = typer.Option(8555, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host"),
    app_secret: str | None = typer.Option(
        None, "--app-secret", envvar="POAS_SANDBOX_APP_SECRET", help="require appsecret_proof"
    ),
) -> None:
    """Run the Meta sandbox in the foreground (the same as plain `poas sandbox`)."""
    _serve_meta(host, port, app_secret)


@sandbox_app.command("google")
def sandbox_google(
    port: int = typer.Option(8556, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host"),
) -> None:
    """Run the Google sandbox (Data Manager events:ingest and the OAuth token endpoint) in the foreground."""
    import uvicorn

    from poas.services.google_sandbox import (
        DEFAULT_ACCOUNTS,
        DEFAULT_CLIENT,
        DEFAULT_REFRESH_TOKEN,
        new_google_sandbox_app,
    )

    url = f"http://{host}:{port}"
    console.print(f"Google sandbox on {url} (POST /v1/events:ingest, POST /token)")
    console.print(
        f"  POAS_GOOGLE_DATAMANAGER_URL={url} POAS_GOOGLE_TOKEN_URL={url}/token; "
        f"client {DEFAULT_CLIENT[0]} / {DEFAULT_CLIENT[1]}, refresh token {DEFAULT_REFRESH_TOKEN}, "
        f"accounts {DEFAULT_ACCOUNTS}",
        highlight=False,
    )
    uvicorn.run(new_google_sandbox_app(), host=host, port=port, log_level="warning")


@sandbox_app.command("events")
def sandbox_events(
    url: str = typer.Option("http://127.0.0.1:8555", "--url", help="the running sandbox"),
    pixel_id: str | None = typer.Option(None, "--pixel"),
    event_name: str | None = typer.Option(None, "--event-name"),
    as_json: bool = typer.Option(False, "--json", help="print the raw JSON"),
) -> None:
    """Print the events a running sandbox accepted, in order."""
    from poas.services.sandbox import SandboxError, fetch_events

    try:
        records = fetch_events(url, pixel_id=pixel_id, event_name=event_name)
    except SandboxError as exc:
        raise fail(str(exc)) from None
    if as_json:
        console.print_json(data=records)
        return
    table = Table("seq", "pixel", "event", "event_id", "event_time", "value", "net_revenue", "dup")
    for r in records:
        e = r["event"]
        cd = e.get("custom_data") or {}
        table.add_row(
            str(r["seq"]),
            r["pixel_id"],
            e.get("event_name", ""),
            str(e.get("event_id", "")),
            str(e.get("event_time", "")),
            f"{cd.get('value', '')} {cd.get('currency', '')}".strip(),
            str(cd.get("net_revenue", "")),
            "yes" if r["duplicate"] else "",
        )
    console.print(table)
    console.print(f"{len(records)} event(s)")
