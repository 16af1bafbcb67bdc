"""CLI: `poas alerts test` (post a test alert to the receiver) and `poas alerts status` (conditions now)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.table import Table

from poas.cli.app import app, console, fail, settings, store
from poas.services import alerts

alerts_app = typer.Typer(
    help="Alerts to Slack, Teams or any webhook when delivery needs a human (docs/alerts.md).",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")

NOT_SET = (
    "POAS_ALERT_WEBHOOK_URL is not set: no alert is sent. Set it to a Slack or Teams incoming-webhook "
    "URL (or any receiver that takes a JSON POST) and restart the workers; see docs/alerts.md"
)


def _iso(t: datetime | None) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds") if t else "-"


@alerts_app.command("test")
def alerts_test() -> None:
    """Post a test alert; exit 1 when no receiver is configured or it did not accept the alert."""
    cfg = settings()
    if cfg.alert_webhook_url is None:
        raise fail(NOT_SET)
    host = alerts.receiver_host(cfg)
    posted = alerts.send_test_alert(cfg, now=datetime.now(UTC))
    if not posted.ok:
        raise fail(f"the receiver at {host} did not accept the test alert: {posted.error}")
    console.print(
        f"the receiver at {escape(str(host))} accepted the test alert (HTTP {posted.status}, "
        f"format {cfg.alert_format})",
        highlight=False,
    )


@alerts_app.command("status")
def alerts_status() -> None:
    """Conditions that need a human now, and what the receiver was last told about each."""
    cfg = settings()
    rows = alerts.alert_status(store(), now=datetime.now(UTC), settings=cfg)
    console.print(
        f"receiver: {alerts.receiver_label(cfg)}, format {cfg.alert_format}, checked every "
        f"{cfg.alert_check_every_s:g} s, repeated every {cfg.alert_repeat_s:g} s",
        highlight=False,
    )
    if not rows:
        console.print("no condition needs a human")
        return
    table = Table("alert", "now", "summary", "first seen", "last sent", "receiver told")
    for r in rows:
        table.add_row(
            r.key,
            r.condition,
            escape(r.summary),
            _iso(r.first_seen_at),
            _iso(r.last_sent_at),
            r.receiver_told or "-",
        )
    console.print(table)
    if cfg.alert_webhook_url is None and any(r.condition == "firing" for r in rows):
        console.print(f"[yellow]note:[/yellow] {NOT_SET}", highlight=False)
