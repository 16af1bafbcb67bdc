"""`poas sync SHOP`: backfill a connected shop's orders, refunds and costs from its platform. Each
platform's CLI module registers its own sync function in `SYNCERS` (keyed by `platform`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import typer

from poas.cli.app import app, fail, pick_shop
from poas.settings import ShopConfig

# (shop, since, costs_only) -> None; raises typer.Exit on failure
Syncer = Callable[[ShopConfig, datetime | None, bool], None]
SYNCERS: dict[str, Syncer] = {}


def parse_since(value: str | None) -> datetime | None:
    """`--since` as aware UTC: a day (its midnight UTC) or an ISO time (naive means UTC)."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"--since {value[:40]!r}: use a day (2026-01-31) or an ISO time (2026-01-31T12:00:00Z)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command("sync")
def sync_command(
    shop_id: str = typer.Argument(..., help="the connected shop (poas connect …)"),
    since: str | None = typer.Option(
        None, "--since", help="orders changed after this day/time (default: after the newest one held)"
    ),
    costs_only: bool = typer.Option(False, "--costs-only", help="sync product costs only, no orders"),
) -> None:
    """Backfill orders and refunds and sync unit costs from the shop's platform."""
    shop = pick_shop(shop_id)
    syncer = SYNCERS.get(shop.platform)
    if syncer is None:
        known = ", ".join(sorted(SYNCERS)) or "none"
        raise fail(f"shop {shop.id!r} is a {shop.platform} shop: poas sync reads {known} shops")
    syncer(shop, parse_since(since), costs_only)
