"""CLI: `poas report value-rules` — suggested value-rule adjustments with their evidence, never applied."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import typer
from rich.table import Table

from poas.cli.app import console, store
from poas.services.value_rules import value_rules, value_rules_json
from poas.settings import ShopConfig


def print_value_rules(cfg: ShopConfig, fmt: str, date_from: date | None, date_to: date | None) -> None:
    v = value_rules(store(), cfg, now=datetime.now(UTC), date_from=date_from, date_to=date_to)
    doc = value_rules_json(v)
    if fmt == "json":
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    table = Table(
        "by",
        "segment",
        "orders",
        "spend (est.)",
        "realized profit",
        "POAS",
        "suggested",
        title=f"value-rule suggestions {doc['from']} – {doc['to']} ({cfg.currency})",
    )
    for s in doc["suggestions"]:
        adj = s["adjustment_pct"]
        table.add_row(
            s["dimension"],
            s["segment"],
            str(s["orders"]),
            s["spend"],
            s["profit"],
            "-" if s["poas"] is None else f"{s['poas']:.2f}",
            s["reason"] if adj is None else f"{adj:+.0f} %",
        )
    console.print(table)
    console.print(
        "Suggestions only: poas never changes a value rule. Spend per segment is estimated from its "
        "share of the Meta-attributed orders."
    )
