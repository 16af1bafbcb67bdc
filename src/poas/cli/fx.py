"""CLI: `poas fx sync` (ECB / Norges Bank rates into the store) and `poas fx show` (the rate pricing uses)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import typer
from rich.markup import escape
from rich.table import Table

from poas.cli.app import app, console, err_console, fail, pick_shop, settings, store
from poas.services import fx_sync

fx_app = typer.Typer(
    help="Exchange rates: keep them current, see which one prices an order.", no_args_is_help=True
)
app.add_typer(fx_app, name="fx")

MAX_SKIPPED_SHOWN = 20


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r}: expected a date as YYYY-MM-DD") from None


@fx_app.command("sync")
def sync(
    source: str | None = typer.Option(
        None, "--source", help="ecb or norges_bank (default: POAS_FX_SYNC_SOURCE, itself ecb by default)"
    ),
    since: str | None = typer.Option(
        None, "--since", help="Fetch again from this day, YYYY-MM-DD (default: after the latest stored rate)"
    ),
) -> None:
    """Fetch the exchange rates missing since the last sync and store them; a second run stores nothing."""
    cfg = settings()
    chosen = source or cfg.fx_sync_source
    if chosen not in fx_sync.LABELS:
        hint = " (POAS_FX_SYNC_SOURCE is off: pass --source)" if source is None and chosen == "off" else ""
        raise fail(f"--source {chosen!r}: use ecb or norges_bank{hint}")
    try:
        report = fx_sync.sync_fx(
            store(), cfg, now=datetime.now(UTC), source=chosen, since=_day(since, "--since")
        )
    except fx_sync.FxSyncError as exc:
        raise fail(str(exc)) from None
    console.print(escape(report.summary()), highlight=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    for e in report.skipped[:MAX_SKIPPED_SHOWN]:
        err_console.print(
            f"[yellow]skipped:[/yellow] {escape(e.where)}: {escape(e.message)}",
            highlight=False,
            soft_wrap=True,
        )
    if len(report.skipped) > MAX_SKIPPED_SHOWN:
        err_console.print(
            f"  … and {len(report.skipped) - MAX_SKIPPED_SHOWN} more skipped rows", highlight=False
        )


def _pair(text: str, shop_currency: str) -> tuple[str, str]:
    """`EUR/NOK`, `EURNOK`, `EUR-NOK` or `EUR` (into the shop currency)."""
    cleaned = text.strip().upper().replace("-", "/").replace(" ", "/")
    if "/" in cleaned:
        base, _, quote = cleaned.partition("/")
    elif len(cleaned) == 6:
        base, quote = cleaned[:3], cleaned[3:]
    else:
        base, quote = cleaned, shop_currency
    if len(base) != 3 or len(quote) != 3:
        raise fail(
            f"pair {text!r}: write it as EUR/NOK, EURNOK or EUR (into the shop currency {shop_currency})"
        )
    return base, quote


@fx_app.command("show")
def show(
    pair: str | None = typer.Argument(
        None, help="EUR/NOK, or EUR for EUR into the shop currency (default: every currency in use)"
    ),
    on: str | None = typer.Option(None, "--date", help="The order date, YYYY-MM-DD (default: today)"),
    shop: str | None = typer.Option(
        None, "--shop", help="Shop id, for its currency (default: the only shop)"
    ),
) -> None:
    """Which rate would price an order placed on that date, and where it comes from."""
    cfg = pick_shop(shop)
    day = _day(on, "--date") or datetime.now(UTC).date()
    if pair:
        pairs = [_pair(pair, cfg.currency)]
    else:
        pairs = [
            (c, cfg.currency) for c in fx_sync.currencies_in_use(store(), settings()) if c != cfg.currency
        ]
    answers = [fx_sync.rate_on(store(), base, quote, day) for base, quote in pairs]
    table = Table("pair", "order date", "rate", "rate of", "source", title=f"exchange rates on {day}")
    for a in answers:
        if a.use is None:
            table.add_row(f"{a.base}/{a.quote}", str(a.day), "-", "-", f"[red]{escape(a.error or '')}[/red]")
        else:
            u = a.use
            table.add_row(
                f"{a.base}/{a.quote}", str(a.day), fx_sync.rate_text(u.rate), str(u.rate_date), u.source
            )
    console.print(table)
    stored = fx_sync.stored_sources(store())
    if stored:
        parts = [f"{s.source}: {s.rates} rates, {s.first} to {s.last}" for s in stored]
        console.print("stored: " + "; ".join(parts), highlight=False, soft_wrap=True)
    if pair and answers[0].use is None:
        raise typer.Exit(1)
