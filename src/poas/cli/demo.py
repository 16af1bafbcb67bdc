"""CLI: `poas generate DIR` (a sample shop's files) and `poas demo` (the whole pipeline on a sample shop)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from poas.cli.app import app, console, err_console, fail, settings
from poas.cli.demo_run import (
    DEFAULT_DAYS,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_ORDERS_PER_DAY,
    Demo,
    DemoError,
    DemoOptions,
    DemoResult,
)
from poas.cli.demo_story import demo_document, story_lines
from poas.domain.advice import (
    BASIS_LABELS,
    DecisionPolicy,
    ProfitBasis,
    row_poas,
    row_profit,
    tone,
)
from poas.domain.report_rows import Figures
from poas.services.sample_shop import write_sample_shop


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
        shop = write_sample_shop(out, seed=seed, days=days, orders_per_day=orders_per_day, today=day)
    counts, took = shop.counts, time.perf_counter() - started
    console.print(
        f"wrote {counts['orders']} orders, {counts['refunds']} refunds, {counts['cancellations']} "
        f"cancellations, {counts['cost_rows']} cost rows and "
        f"{counts['spend_rows']} spend rows for {shop.since} … {shop.until} to {out} in {took:.1f} s",
        highlight=False,
    )


class RichProgress:
    """The demo's stages as Rich progress bars on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.bars = progress
        self.task: TaskID | None = None

    def stage(self, name: str, total: int | None = None) -> None:
        self.task = self.bars.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bars.advance(self.task, n)

    def done(self, note: str = "") -> None:
        if self.task is None:
            return
        task = self.bars.tasks[self.task]
        label = f"{task.description} [dim]({note})[/dim]" if note else task.description
        total = task.total if task.total is not None else 1
        self.bars.update(self.task, description=label, total=total, completed=total)
        self.task = None


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.0f}".replace(",", " ")


def _ratio(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.2f}"


TONES = {"good": "green", "warn": "yellow", "bad": "red"}
SHORT: dict[ProfitBasis, str] = {"expected": "after expected returns", "gross": "on gross profit"}


def _print_tables(result: DemoResult) -> None:
    report, advice = result.report, result.advice
    policy = DecisionPolicy(advice.basis, advice.target_poas, advice.pause_below, advice.cap)
    other: ProfitBasis = "gross" if advice.basis == "expected" else "expected"
    table = Table(
        title=f"ROAS vs POAS by campaign, {result.since} … {result.until} ({report.currency})",
        title_justify="left",
        caption=f"revenue ex VAT; profit and POAS {SHORT[advice.basis]}, as the advice;\n"
        f"green: at or above the target POAS {advice.target_poas}; yellow: below it; red: below 1;\n"
        f"POAS {other}: {BASIS_LABELS[other]}; (trap): a good-looking ROAS\n"
        "on a campaign that loses money (the revenue trap)",
        caption_justify="left",
    )
    table.add_column("campaign", no_wrap=True, max_width=24)
    for col in ("spend", "revenue", "profit", "ROAS", "POAS", f"POAS {other}"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in [*report.rows, report.total]:
        f = row.figures
        name = f"{row.name} [yellow](trap)[/yellow]" if row.revenue_trap else row.name
        mine, theirs = row_poas(row, advice.basis), row_poas(row, other)
        poas = _ratio(mine)
        colour = TONES.get(tone(mine, policy)) if row.key else None  # the blended total is no campaign
        if colour:
            poas = f"[{colour}]{poas}[/{colour}]"
        table.add_row(
            name,
            _money(f.spend),
            _money(f.revenue),
            _money(row_profit(row, advice.basis)),
            _ratio(row.roas),
            poas,
            _ratio(theirs),
        )
    console.print(table)
    adv = Table(
        title=f"Budget advice on {BASIS_LABELS[advice.basis]} "
        f"(target POAS {advice.target_poas}, ± {advice.cap:.0%} per step)"
    )
    adv.add_column("campaign", no_wrap=True, max_width=24)
    for col in ("spend", "proposed", "change", "target\nROAS"):
        adv.add_column(col, justify="right", no_wrap=True)
    adv.add_column("why")
    for c in advice.campaigns:
        change = "-" if c.change_pct is None else f"{c.change_pct:+.0%}"
        adv.add_row(
            c.name, _money(c.spend), _money(c.proposed_spend), change, _ratio(c.target_roas), c.reason
        )
    console.print(adv)
    console.print(f"[dim]{advice.disclaimer}[/dim]")
    _print_meta_table(result)
    for line in story_lines(result):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"store and files: {result.folder}", highlight=False, soft_wrap=True)


def _print_meta_table(result: DemoResult) -> None:
    report = result.report
    table = Table(
        title="First-party vs Meta-reported, by campaign",
        title_justify="left",
        caption="orders, revenue ex VAT, ROAS: what poas attributes to the campaign;\n"
        "Meta: the purchases its attribution credits to an ad (view-throughs and\n"
        "cancelled orders too), valued incl. VAT, from the insights API",
        caption_justify="left",
    )
    table.add_column("campaign", no_wrap=True, max_width=18)
    for col in ("orders", "Meta\npurch.", "revenue", "Meta\nvalue", "ROAS", "Meta\nROAS"):
        table.add_column(col, justify="right", no_wrap=True)
    rows = [(r.name, r.figures) for r in report.rows if r.key]  # campaigns: (unattributed) has no ads
    total = sum((f for _, f in rows), Figures())
    for name, f in [*rows, ("total (campaigns)", total)]:
        table.add_row(
            name,
            str(f.orders),
            str(f.meta_purchases),
            _money(f.revenue),
            _money(f.meta_value),
            _ratio(f.revenue / f.spend if f.spend else None),
            _ratio(f.meta_value / f.spend if f.spend else None),
        )
    console.print(table)


@app.command("demo")
def demo(
    no_serve: bool = typer.Option(False, "--no-serve", help="Exit after printing the report."),
    output: str = typer.Option(
        "table", "--format", help="table, or json (the run's counts, corrections and campaigns, on stdout)."
    ),
    days: int = typer.Option(DEFAULT_DAYS, min=1, max=365, help="Days of sample orders, ending yesterday."),
    seed: int = typer.Option(7, help="The sample shop's seed."),
    orders_per_day: int = typer.Option(
        DEFAULT_ORDERS_PER_DAY, min=1, max=2000, help="Average sample orders per day."
    ),
    port: int | None = typer.Option(None, min=1, max=65535, help="Dashboard port (default: a free one)."),
    history_days: int = typer.Option(
        DEFAULT_HISTORY_DAYS,
        "--history-days",
        min=0,
        max=730,
        help="Days of older orders before them, imported without events (0: none; faster, no 90-day story).",
    ),
) -> None:
    """Run the whole pipeline on a generated shop: webhooks → profit → Meta sandbox → spend → ROAS vs POAS."""
    if output not in ("table", "json"):
        raise fail(f"--format must be table or json, not {output!r}")
    options = DemoOptions(
        home=settings().home,
        seed=seed,
        days=days,
        orders_per_day=orders_per_day,
        port=port,
        history_days=history_days,
    )
    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )
    try:
        with Demo(options, RichProgress(bars)) as run:
            with bars:
                result = run.run()
            if output == "json":
                print(json.dumps(demo_document(result), ensure_ascii=False, indent=1))
            else:
                _print_tables(result)
            if no_serve:
                return
            # plain lines, never wrapped, so the address and the password can be copied whole
            print(
                f"\ndashboard: {run.web.url}/\n"
                f"admin password (this run only): {run.admin_password or '(configured)'}\n"
                f"Meta sandbox: {run.sandbox.url}\nCtrl-C to stop",
                file=sys.stderr,
                flush=True,
            )
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            while not stop.wait(1):
                pass
            err_console.print("stopping…")
    except DemoError as exc:
        raise fail(str(exc)) from None
