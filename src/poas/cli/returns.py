"""CLI: `poas returns fit|finalize|report` — the return-rate model, finalization and calibration."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import typer
from rich.table import Table

from poas.cli.app import app, console, err_console, resolve_shop, store
from poas.domain.returns import FitSettings
from poas.services.returns import calibration, finalize_due, fit_shop

returns_app = typer.Typer(
    help="Expected returns: learn rates, finalize profits, check calibration.", no_args_is_help=True
)
app.add_typer(returns_app, name="returns")


@returns_app.command("fit")
def fit_cmd(
    shop: str | None = typer.Option(None, "--shop"),
    lookback_days: int = typer.Option(365, "--lookback-days", help="History to learn from."),
    min_sample: int = typer.Option(30, "--min-sample", help="Units sold before a SKU's own rate counts."),
    strength: str = typer.Option(
        "30", "--prior-strength", help="Pseudo-units the parent level's rate is worth."
    ),
    fmt: str = typer.Option("table", "--format", help="table | json"),
) -> None:
    """Learn return rates per SKU, shrunk toward the category's and the shop's (beta-binomial)."""
    cfg, note = resolve_shop(shop)
    if note:
        err_console.print(note)
    settings = FitSettings(prior_strength=Decimal(strength), min_sample=min_sample)
    model = fit_shop(store(), cfg, now=datetime.now(UTC), lookback_days=lookback_days, settings=settings)
    rows = [("shop", "", model.shop)]
    rows += [("category", k, v) for k, v in sorted(model.categories.items())]
    rows += [("sku", k, v) for k, v in sorted(model.skus.items())]
    if fmt == "json":
        out = [
            {
                "level": lvl,
                "key": key,
                "rate": str(e.rate),
                "source": e.source,
                "sold": e.sold,
                "returned": e.returned,
            }
            for lvl, key, e in rows
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table(
        "level", "key", "rate", "units sold", "returned", "source", title=f"return rates, shop {cfg.id}"
    )
    for lvl, key, e in rows:
        table.add_row(lvl, key, f"{e.rate * 100:.1f} %", str(e.sold), str(e.returned), e.source)
    console.print(table)
    console.print(
        f"SKUs below {min_sample} units sold use their category's rate; "
        "configured rates in the cost rules win."
    )


@returns_app.command("finalize")
def finalize_cmd(shop: str | None = typer.Option(None, "--shop")) -> None:
    """Finalize orders whose profit is final now (the worker also does this on its own)."""
    cfg, _ = resolve_shop(shop)
    r = finalize_due(store(), cfg, now=datetime.now(UTC))
    console.print(
        f"examined {r.examined}: {r.queued} AppendValue queued, {r.unsent} recorded unsent, "
        f"{r.unchanged} unchanged, {r.waiting} waiting for their Purchase"
    )
    for e in r.errors[:10]:
        err_console.print(f"[red]error:[/red] {e}")


def print_calibration(shop: str | None, fmt: str) -> None:
    cfg, _ = resolve_shop(shop)
    result = calibration(store(), cfg, now=datetime.now(UTC))
    if fmt == "json":
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(
        "by",
        "key",
        "lines",
        "predicted",
        "actual",
        "predicted / actual",
        title="expected vs actual return cost",
    )
    for row in [result["total"], *result["rows"]]:
        table.add_row(
            row["group"],
            row["key"],
            str(row["lines"]),
            row["predicted_return_cost"],
            row["actual_return_cost"],
            row["predicted_over_actual"] or "-",
        )
    console.print(table)
    meta = result["meta"]
    console.print(
        f"Meta was told {meta['over_told']} {result['currency']} more profit than {meta['finalized_orders']} "
        f"finalized orders made ({meta['appendvalue_queued']} AppendValue queued, "
        f"{meta['corrections_unsent']} corrections outside the window)."
    )


@returns_app.command("report")
def report_cmd(
    shop: str | None = typer.Option(None, "--shop"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
) -> None:
    """Calibration: predicted vs actual return cost by SKU, category, month (= `poas report returns`)."""
    print_calibration(shop, fmt)
