"""CLI: `poas generate DIR` (a sample shop's files) and `poas demo` (the whole pipeline on a sample shop)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer

from poas.cli.app import app, console, err_console, fail
from poas.sources.sample_files import write_shop
from poas.sources.sample_shop import generate as generate_shop


def _parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--today: {value!r} is not a date like 2026-03-01") from None


@app.command("generate")
def generate(
    out: Path = typer.Argument(..., help="Folder to write the sample shop into (created if missing)."),
    seed: int = typer.Option(7, help="Same seed and --today → byte-identical files."),
    days: int = typer.Option(90, min=1, max=3650, help="Days of orders, ending yesterday."),
    orders_per_day: int = typer.Option(150, min=1, max=100_000, help="Average orders per day."),
    today: str | None = typer.Option(None, help="Pretend today is this date (YYYY-MM-DD); default: today."),
) -> None:
    """Write a deterministic sample Norwegian Shopify shop: orders, refunds, costs, rules, spend, config."""
    day = _parse_today(today)
    if out.exists() and not out.is_dir():
        raise fail(f"{out} exists and is not a folder")
    started = time.perf_counter()
    with err_console.status("generating the sample shop…"):
        shop = generate_shop(seed=seed, days=days, orders_per_day=orders_per_day, today=day)
        counts = write_shop(shop, out)
    took = time.perf_counter() - started
    console.print(
        f"wrote {counts['orders']} orders, {counts['refunds']} refunds, {counts['cost_rows']} cost rows and "
        f"{counts['spend_rows']} spend rows for {shop.since} … {shop.until} to {out} in {took:.1f} s",
        highlight=False,
    )
