"""CLI: `poas customers fit`, and the reports `poas report cohorts | ltv-calibration | value-rules`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import typer
from rich.table import Table

from poas.cli.app import console, fail, pick_shop, store
from poas.cli.customers import customers_app
from poas.domain.ltv_defaults import DEFAULT_CREDIBILITY, DEFAULT_HORIZON
from poas.services.cohorts import COHORT_BY, cohort_json, cohort_report

REPORTS = ("cohorts", "ltv-calibration", "value-rules")


@customers_app.command("fit")
def fit_cmd(
    shop: str | None = typer.Option(None, "--shop"),
    credibility: float = typer.Option(
        DEFAULT_CREDIBILITY,
        "--credibility",
        help="Repeat customers at which the model and the shop average weigh the same.",
    ),
    horizon: int = typer.Option(DEFAULT_HORIZON, "--horizon", help="Days the printed prediction covers."),
) -> None:
    """Fit the customer value model (BG/NBD + Gamma-Gamma) on the shop's history and store it."""
    from poas.domain.ltv import LtvError  # the model (numpy, scipy) only for the commands that use it
    from poas.services.customer_value import fit_shop, to_money

    cfg = pick_shop(shop)
    try:
        fitted = fit_shop(store(), cfg, now=datetime.now(UTC), credibility=credibility)
    except LtvError as exc:
        raise fail(f"shop {cfg.id}: cannot fit the customer value model: {exc}")
    m = fitted.model
    console.print(
        f"shop {cfg.id}: fitted on {fitted.customers} customers, {fitted.orders} orders "
        f"({m.repeat_customers} came back; profit basis {fitted.basis}"
        + (
            f"; {fitted.orders_without_cost} orders without a cost left out"
            if fitted.orders_without_cost
            else ""
        )
        + ")"
    )
    console.print(
        f"BG/NBD r={m.bg.r:.4g} α={m.bg.alpha:.4g} days a={m.bg.a:.4g} b={m.bg.b:.4g}; "
        f"Gamma-Gamma p={m.gg.p:.4g} q={m.gg.q:.4g} γ={m.gg.gamma:.4g}; model weight {m.weight:.2f}"
        + ("" if m.converged else " [yellow](the optimizer did not report convergence)[/yellow]")
    )
    new = to_money(m.predict_new(horizon), cfg.currency)
    console.print(
        f"A new customer brings {new.amount} {cfg.currency} more profit in her first {horizon} days."
    )


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} must be a date like 2026-03-01")


def run_report(
    subject: str,
    *,
    shop: str | None,
    fmt: str,
    by: str,
    date_from: str | None,
    date_to: str | None,
    horizon: int,
    cohort_days: int,
) -> None:
    """The customer reports behind `poas report <subject>`."""
    cfg = pick_shop(shop)
    now = datetime.now(UTC)
    if subject == "cohorts":
        cohort_by = by
        if cohort_by not in COHORT_BY:
            raise fail("--by must be month or campaign for cohorts")
        rep = cohort_report(
            store(),
            cfg,
            by=cohort_by,
            now=now,
            first_from=_day(date_from, "--from"),
            first_to=_day(date_to, "--to"),
        )
        doc = cohort_json(rep)
        if fmt == "json":
            typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        cols = ["cohort", "customers", *[f"{h} d" for h in rep.horizons]]
        if cohort_by == "campaign":
            cols += ["CAC", *[f"LTV:CAC {h} d" for h in (90, 365)]]
        table = Table(
            *cols, title=f"profit per customer ({cfg.currency}, {rep.basis} profit) after the first order"
        )
        for row in doc["cohorts"]:
            cells = [row["name"] or "(unattributed)", str(row["customers"])]
            cells += [row["profit_per_customer"][str(h)] or "-" for h in rep.horizons]
            if cohort_by == "campaign":
                cells.append(row["cac"] or "-")
                cells += [
                    ("-" if row["ltv_cac"][str(h)] is None else f"{row['ltv_cac'][str(h)]:.2f}")
                    for h in (90, 365)
                ]
            table.add_row(*cells)
        console.print(table)
        console.print(
            "[dim]A horizon counts only customers whose first order is at least that many days old.[/dim]"
        )
    elif subject == "ltv-calibration":
        from poas.services.customer_value import CalibrationError, calibrate, calibration_json

        try:
            cal = calibrate(store(), cfg, now=now, horizon=horizon, cohort_days=cohort_days)
        except CalibrationError as exc:
            raise fail(f"shop {cfg.id}: {exc}")
        doc = calibration_json(cal)
        if fmt == "json":
            typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        table = Table(
            "group",
            "customers",
            "predicted",
            "realized",
            "error",
            "within ±10 %",
            title=f"{horizon}-day repeat profit per customer ({cfg.currency}), "
            f"fitted before {cal.cutoff.date()}",
        )
        for label, key in (
            ("held-out new customers", "held_out_cohort"),
            ("customers at the cut-off", "existing_customers"),
        ):
            c = doc[key]
            err = "-" if c["error"] is None else f"{c['error'] * 100:+.1f} %"
            table.add_row(
                label,
                str(c["customers"]),
                c["predicted_per_customer"],
                c["realized_per_customer"],
                err,
                "yes" if c["within_tolerance"] else "no",
            )
        console.print(table)
        console.print(
            f"Held-out cohort: first orders {cal.cutoff.date()} – {cal.cohort_to.date()}, never seen by the "
            f"fit; their first order brought {doc['held_out_cohort']['first_order_per_customer']} "
            f"{cfg.currency} each."
        )
    elif subject == "value-rules":
        from poas.cli.value_rules import print_value_rules

        print_value_rules(cfg, fmt, _day(date_from, "--from"), _day(date_to, "--to"))
    else:
        raise fail(f"unknown report {subject!r}")
