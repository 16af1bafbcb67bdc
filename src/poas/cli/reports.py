"""CLI: spend sync and import, ROAS/POAS reports, budget advice, exports."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

import typer
from rich.table import Table

from poas.cli.app import app, console, fail, import_app, pick_shop, settings, store
from poas.cli.margin_table import margin_table
from poas.domain.advice import BASIS_LABELS, DecisionPolicy, advise, campaign_figures, row_poas, verdict
from poas.services import channel_spend
from poas.services.export import KINDS, Format, iter_export, write_export
from poas.services.google_spend import import_google_spend_file, sync_google_spend
from poas.services.report import (
    BY_CHOICES,
    Report,
    build_report,
    decision_policy,
    report_csv,
    report_json,
    row_dict,
)
from poas.services.rollups import rebuild_all
from poas.services.spend import SpendError, import_spend_file, sync_spend

spend_app = typer.Typer(
    help="Ad spend from Meta's Marketing API and the Google Ads API.", no_args_is_help=True
)
CHANNELS = ("meta", "google")


def _channel(value: str) -> str:
    channel = value.strip().lower()
    if channel not in CHANNELS:
        raise fail(f"--channel {value!r}: one of {', '.join(CHANNELS)}")
    return channel


app.add_typer(spend_app, name="spend")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")


def _decimal(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value.replace(",", "."))
    except InvalidOperation:
        raise fail(f"{option} {value!r} is not a number")


@spend_app.command("sync")
def spend_sync(
    shop: str | None = typer.Option(None, "--shop", help="Shop id (default: the only shop)."),
    since: str | None = typer.Option(None, "--since", help="First day (default: 7 days ago)."),
    until: str | None = typer.Option(None, "--until", help="Last day (default: today)."),
    channel: str = typer.Option(
        "meta", "--channel", help="meta (Insights, per ad) or google (Google Ads API, per ad group)."
    ),
) -> None:
    """Re-pull daily spend (the last 7 days by default) and upsert it."""
    cfg = pick_shop(shop)
    chosen = _channel(channel)
    sync = sync_google_spend if chosen == "google" else sync_spend
    try:
        result = sync(
            store(),
            settings(),
            cfg,
            now=datetime.now(UTC),
            since=_day(since, "--since"),
            until=_day(until, "--until"),
        )
    except SpendError as exc:
        raise fail(str(exc))
    console.print(
        f"spend sync {cfg.id}{' (google)' if chosen == 'google' else ''}: {result.rows} rows "
        f"({result.inserted} new, {result.updated} updated) "
        f"over {len(result.days)} days"
    )


@spend_app.command("channel")
def spend_channel(
    channel: str = typer.Argument(..., help="The channel, e.g. 'Google Ads' (not Meta: read from Meta)."),
    month: str = typer.Argument(..., help="The month, YYYY-MM."),
    amount: str = typer.Argument(..., help="The month's cost in the shop currency (0 removes)."),
    shop: str | None = typer.Option(None, "--shop"),
) -> None:
    """Store another channel's monthly ad spend: blended POAS divides all profit by all ad spend."""
    cfg = pick_shop(shop)
    try:
        item = channel_spend.MonthlySpend(
            channel_spend.check_channel(channel),
            channel_spend.parse_month(month),
            channel_spend.parse_amount(amount),
        )
    except channel_spend.ChannelSpendError as exc:
        raise fail(str(exc))
    channel_spend.save_monthly(store(), cfg, [item], now=datetime.now(UTC), source="cli")
    console.print(f"{item.channel} {item.month:%Y-%m}: {item.amount} {cfg.currency}")


@import_app.command("channel-spend")
def import_channel_spend(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV of channel,month,amount."),
    shop: str | None = typer.Option(None, "--shop"),
) -> None:
    """Import other channels' monthly ad spend (channel,month,amount; `;` also separates)."""
    cfg = pick_shop(shop)
    try:
        items = channel_spend.parse_csv(file.read_text(encoding="utf-8-sig"))
    except channel_spend.ChannelSpendError as exc:
        raise fail(str(exc))
    n = channel_spend.save_monthly(store(), cfg, items, now=datetime.now(UTC), source="import")
    console.print(f"imported {n} monthly figure(s)")


@import_app.command("spend")
def import_spend(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="Ads Manager export (CSV, daily breakdown), or with --channel google a Google Ads report.",
    ),
    shop: str | None = typer.Option(None, "--shop"),
    account: str | None = typer.Option(
        None,
        "--account",
        help="Ad account id when the file has no Account ID (google: the customer id, default the shop's).",
    ),
    channel: str = typer.Option(
        "meta",
        "--channel",
        help="meta (Ads Manager export) or google (Google Ads campaign / ad group report).",
    ),
) -> None:
    """Import an Ads Manager or Google Ads report export (English or Norwegian headers)."""
    cfg = pick_shop(shop)
    importer = import_google_spend_file if _channel(channel) == "google" else import_spend_file
    try:
        result = importer(store(), cfg, file, now=datetime.now(UTC), account=account)
    except SpendError as exc:
        raise fail(str(exc))
    console.print(f"imported {result.rows} spend rows ({result.inserted} new, {result.updated} updated)")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", " ")
    return str(value)


def _table(report: Report, policy: DecisionPolicy) -> Table:
    cols = [
        "spend",
        "orders",
        "revenue",
        "profit",
        "expected_profit",
        "realized_profit",
        "roas",
        "poas",
        "margin",
        "break_even_roas",
        "meta_value",
        "revenue_trap",
    ]
    if report.total.figures.orders_without_cost:
        # Beside profit on every row: how many orders (and how much revenue) it leaves out
        cols[4:4] = ["orders_without_cost", "revenue_without_cost"]
    t = Table(
        title=f"{report.shop_id} by {report.by}, {report.date_from} – {report.date_to} ({report.currency})"
    )
    t.add_column(report.by)
    channels = bool(set(report.channels.values()) - {"meta"})  # Google lines too: say whose each is
    if channels:
        t.add_column("channel")
    for c in cols:
        t.add_column(c.replace("_", " "), justify="right")
    decide = report.by in ("campaign", "adset", "ad", "product")
    if decide:  # the advice's verdict, on the shop's decision basis (domain.advice)
        t.add_column("decision")
    for r in [*report.rows, report.total]:
        d = row_dict(report.by, r, report.currency)
        label = f"{d['day']} {d[report.by]}" if d.get("day") else str(d[report.by])
        cells = [_fmt(d[c]) for c in cols]
        if channels:
            cells.insert(0, report.channels.get(r.key, "") if r is not report.total else "")
        if decide:
            cells.append(verdict(row_poas(r, policy.basis), policy) if r.key and r.figures.spend else "")
        t.add_row(label, *cells)
    return t


@app.command("report")
def report_cmd(
    subject: str | None = typer.Argument(
        None,
        help="Leave out for ROAS/POAS; `returns` for the return-cost calibration report; `cohorts`, "
        "`ltv-calibration` or `value-rules` for customers.",
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        help="channel | campaign | adset | ad | product | day | week (cohorts: month | campaign)",
    ),
    date_from: str | None = typer.Option(None, "--from", help="First day (default: 30 days ago)."),
    date_to: str | None = typer.Option(None, "--to", help="Last day (default: today)."),
    shop: str | None = typer.Option(None, "--shop"),
    fmt: str = typer.Option("table", "--format", help="table | json | csv"),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild every day's rollup first."),
    daily: bool = typer.Option(False, "--daily", help="One line per day and campaign/ad set/ad/product."),
    horizon: int = typer.Option(365, "--horizon", help="ltv-calibration: days predicted and watched."),
    cohort_days: int = typer.Option(
        90, "--cohort-days", help="ltv-calibration: days of new customers held out."
    ),
) -> None:
    """Spend, revenue and profit with ROAS next to POAS, from the daily rollups."""
    if subject is not None and subject != "returns":
        from poas.cli.customer_value import REPORTS, run_report

        if subject not in REPORTS:
            raise fail(f"unknown report {subject!r}: leave it out, or use returns, {', '.join(REPORTS)}")
        run_report(
            subject,
            shop=shop,
            fmt=fmt,
            by=by or "month",
            date_from=date_from,
            date_to=date_to,
            horizon=horizon,
            cohort_days=cohort_days,
        )
        return
    by = by or "campaign"
    if subject is not None:
        from poas.cli.returns import print_calibration

        print_calibration(shop, "json" if fmt == "json" else "table")
        return
    if by not in BY_CHOICES:
        raise fail(f"--by must be one of {', '.join(BY_CHOICES)}")
    if fmt not in ("table", "json", "csv"):
        raise fail("--format must be table, json or csv")
    cfg = pick_shop(shop)
    policy = decision_policy(cfg)
    now = datetime.now(UTC)
    if rebuild:
        rebuild_all(store(), cfg, now=now)
    report = build_report(
        store(),
        cfg,
        by=by,
        now=now,
        date_from=_day(date_from, "--from"),
        date_to=_day(date_to, "--to"),
        daily=daily,
        basis=policy.basis,
    )
    if fmt == "json":
        doc = report_json(report)
        if report.by in ("campaign", "adset", "ad", "product"):  # the advice's verdict per line
            doc["decision_basis"] = policy.basis
            for line, row in zip(doc["rows"], report.rows, strict=True):
                spent = bool(row.key) and row.figures.spend > 0
                line["decision"] = verdict(row_poas(row, policy.basis), policy) if spent else None
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        sys.stdout.write(report_csv(report))
    else:
        console.print(_table(report, policy))
        console.print(margin_table(report))
        console.print(
            f"Decisions on {BASIS_LABELS[policy.basis]}: grow at or above target POAS {policy.target_poas}, "
            f"cut below it, pause below {policy.pause_below} (`poas advise` for the budget)."
        )
        for note in report.notes:
            console.print(f"[dim]{note}[/dim]")


@app.command("advise")
def advise_cmd(
    budget: str | None = typer.Option(
        None, "--budget", help="Budget for the same period length (default: current spend)."
    ),
    target_poas: str | None = typer.Option(
        None, "--target-poas", help="POAS to aim for (1 = break-even; default: the shop's target_poas)."
    ),
    pause_below: str | None = typer.Option(
        None, "--pause-below", help="Pause campaigns below this POAS (default: the shop's pause_below_poas)."
    ),
    cap: str = typer.Option("0.20", "--cap", help="Largest change per campaign per step (0.20 = ±20 %)."),
    date_from: str | None = typer.Option(None, "--from"),
    date_to: str | None = typer.Option(None, "--to"),
    shop: str | None = typer.Option(None, "--shop"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
    basis_name: str | None = typer.Option(
        None,
        "--basis",
        help="Profit the advice weighs: expected (after expected returns, what Meta is sent) | gross "
        "(default: the shop's decision_basis).",
    ),
) -> None:
    """Move budget toward campaigns above the target POAS, away from those below it, and pause those
    below the pause line (accounting on past figures, not a forecast)."""
    cfg = pick_shop(shop)
    try:
        shop_policy = decision_policy(cfg, basis_name)
    except ValueError as exc:
        raise fail(f"--basis: {exc}")
    try:
        policy = DecisionPolicy(
            basis=shop_policy.basis,
            target_poas=_decimal(target_poas, "--target-poas") or shop_policy.target_poas,
            pause_below=_decimal(pause_below, "--pause-below") or shop_policy.pause_below,
            cap=_decimal(cap, "--cap") or Decimal("0.2"),
        )
    except ValueError as exc:
        raise fail(str(exc))
    report = build_report(
        store(),
        cfg,
        by="campaign",
        now=datetime.now(UTC),
        date_from=_day(date_from, "--from"),
        date_to=_day(date_to, "--to"),
        basis=policy.basis,
    )
    try:
        advice = advise(
            campaign_figures(report.rows, policy.basis), policy, budget=_decimal(budget, "--budget")
        )
    except ValueError as exc:
        raise fail(str(exc))
    q = Decimal("0.01")

    def r2(v: Decimal | None) -> float | None:
        return None if v is None else float(v.quantize(q))

    rows = [
        {
            "campaign": c.name,
            "campaign_id": c.key,
            "spend": r2(c.spend),
            "proposed_spend": r2(c.proposed_spend),
            "change": r2(c.change),
            "change_pct": r2(None if c.change_pct is None else c.change_pct * 100),
            "roas": r2(c.roas),
            "poas": r2(c.poas),
            "margin": r2(c.margin),
            "break_even_roas": r2(c.break_even_roas),
            "target_roas": r2(c.target_roas),
            "decision": c.verdict,
            "reason": c.reason,
        }
        for c in advice.campaigns
    ]
    if fmt == "json":
        doc = {
            "shop": cfg.id,
            "currency": cfg.currency,
            "from": report.date_from.isoformat(),
            "to": report.date_to.isoformat(),
            "basis": advice.basis,
            "budget": r2(advice.budget),
            "allocated": r2(advice.allocated),
            "unallocated": r2(advice.unallocated),
            "target_poas": r2(advice.target_poas),
            "pause_below": r2(advice.pause_below),
            "cap": r2(advice.cap),
            "kept_back": advice.kept_back,
            "rule": advice.rule,
            "note": advice.disclaimer,
            "campaigns": rows,
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    t = Table(
        title=f"Budget advice {cfg.id} ({cfg.currency}) on {BASIS_LABELS[advice.basis]}, "
        f"target POAS {advice.target_poas}, pause below {advice.pause_below}"
    )
    cols = ["spend", "proposed_spend", "change_pct", "roas", "poas", "target_roas", "decision", "reason"]
    t.add_column("campaign")
    for c in cols:
        t.add_column(c.replace("_", " "), justify="left" if c == "reason" else "right")
    for r in rows:
        t.add_row(str(r["campaign"]), *[_fmt(r[c]) for c in cols])
    console.print(t)
    console.print(f"Rule: {advice.rule}.")
    if advice.kept_back:
        console.print(f"{advice.kept_back} ({cfg.currency})")
    console.print(f"[yellow]{advice.disclaimer}[/yellow]")


@app.command("export")
def export_cmd(
    kind: str = typer.Argument(..., help="orders | profit | events | spend"),
    fmt: str = typer.Option("csv", "--format", help="csv | jsonl"),
    date_from: str | None = typer.Option(
        None, "--from", help="First UTC day (orders/profit: created; events: event time)."
    ),
    date_to: str | None = typer.Option(None, "--to"),
    out: Path | None = typer.Option(None, "--out", help="File to write (default: standard output)."),
    shop: str | None = typer.Option(None, "--shop", help="Only this shop (default: all)."),
) -> None:
    """Stream orders, the profit ledger, the delivery log or spend rows as CSV or JSON Lines."""
    if kind not in KINDS:
        raise fail(f"export must be one of {', '.join(KINDS)}")
    if fmt not in ("csv", "jsonl"):
        raise fail("--format must be csv or jsonl")
    rows = iter_export(
        store(), kind, shop=shop, date_from=_day(date_from, "--from"), date_to=_day(date_to, "--to")
    )
    if out is None:
        write_export(rows, sys.stdout, cast(Format, fmt))
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        n = write_export(rows, fh, cast(Format, fmt))
    console.print(f"wrote {n} {kind} rows to {out}")
