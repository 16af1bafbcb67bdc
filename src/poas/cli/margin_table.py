"""The contribution-margin table `poas report` prints under the ROAS/POAS table (docs/metrics.md)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from poas.services.report import Report, row_dict

COLUMNS = (
    ("cm1", "CM1"),
    ("cm2", "CM2"),
    ("spend", "spend"),
    ("cm3", "CM3"),
    ("fixed_costs", "fixed costs"),
    ("net_profit", "net profit"),
    ("break_even_roas_cm3", "BE ROAS CM3"),
    ("break_even_roas_net", "BE ROAS net"),
    ("new_orders", "new"),
    ("returning_orders", "returning"),
    ("unknown_customer_orders", "unknown"),
    ("new_customer_cac", "new-cust. CAC"),
    ("first_order_poas", "1st-order POAS"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", " ")
    return str(value)


def margin_table(report: Report) -> Table:
    t = Table(title=f"contribution margins and customers ({report.currency}; CM2 after expected returns)")
    t.add_column(report.by)
    for _, label in COLUMNS:
        t.add_column(label, justify="right")
    for r in [*report.rows, report.total]:
        d = row_dict(report.by, r, report.currency)
        label = f"{d['day']} {d[report.by]}" if d.get("day") else str(d[report.by])
        t.add_row(label, *(_fmt(d[c]) for c, _ in COLUMNS))
    return t
