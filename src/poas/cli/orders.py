"""CLI: `poas profit ORDER_ID` (the explained profit and its history) and `poas rules` (show or load)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from poas.cli.app import app, console, fail, resolve_shop, store
from poas.domain.destinations import is_google
from poas.domain.profit import COST_DEPENDENT
from poas.domain.rules import RulesError
from poas.services.cost_rules import example_rules, load_rules, rules_format, rules_in_force
from poas.services.order_profit import COMPONENTS, profit_history
from poas.services.views.order_values import RevenueView, SentValue, revenue_view, sent_values


def _components_table(breakdown: dict[str, Any], currency: str, known: bool = True) -> Table:
    table = Table(title=f"profit ({currency})", show_lines=False)
    table.add_column("component")
    table.add_column("amount", justify="right")
    table.add_column("from")
    comps = breakdown.get("components", {})
    for name in COMPONENTS:
        entry = comps.get(name, {})
        source = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "amount")
        amount = "unknown" if not known and name in COST_DEPENDENT else str(entry.get("amount", ""))
        table.add_row(name, amount, source)
    return table


@app.command("profit")
def profit(
    order_id: str = typer.Argument(..., help="The shop's order id"),
    shop: str | None = typer.Option(None, "--shop", help="Shop id (default: the only configured shop)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (latest breakdown and history)"),
) -> None:
    """Explain an order's profit: the latest snapshot's breakdown and every earlier version."""
    cfg, note = resolve_shop(shop)
    found = profit_history(store(), cfg.id, order_id, with_payload=True)
    snaps, events, ledger = found.snapshots, found.events, found.corrections
    if not snaps:
        raise fail(f"no profit stored for order {order_id!r} in shop {cfg.id!r}")
    latest = snaps[-1]
    revenue = revenue_view(latest)
    told = sent_values([e for e in events if not is_google(e["pixel_id"])])  # what Meta was told
    if as_json:
        doc: dict[str, Any] = {"shop_id": cfg.id, "order_id": order_id, "latest": latest.to_dict()}
        doc["revenue"] = revenue.model_dump(mode="json")
        doc["history"] = [{k: v for k, v in s.to_dict().items() if k != "breakdown"} for s in snaps]
        doc["sent_to_meta"] = [t.model_dump(mode="json") for t in told]
        doc["last_sent_to_meta"] = told[-1].model_dump(mode="json") if told else None
        doc["events"] = [_event_doc(e) for e in events]
        doc["corrections"] = [_jsonable(c) for c in ledger]
        doc["deliveries"] = [
            {
                "received_at": t.isoformat() if t else None,
                "topic": topic,
                "status": status,
                "outcome": outcome,
            }
            for t, topic, status, outcome in found.deliveries
        ]
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if note:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    bd = dict(latest.breakdown)
    console.print(f"order {order_id} (shop {cfg.id}), snapshot v{latest.version} — {latest.reason}")
    console.print(_components_table(bd, latest.currency, latest.profit_known))
    verdict = "sendable" if latest.sendable else f"not sendable: {latest.sendable_reason}"
    expected = latest.money("expected_profit") if latest.profit_known else "unknown (a cost is missing)"
    console.print(f"expected profit {expected}; {verdict}", highlight=False)
    console.print(_revenue_line(revenue), highlight=False)
    for key in ("fallbacks", "notes"):
        for item in bd.get(key, []):
            console.print(f"  {key[:-1]}: {item}", highlight=False, markup=False)
    for fx in bd.get("fx", []):
        console.print(f"  fx: {fx}", highlight=False, markup=False)
    hist = Table(title="history")
    for col in ("version", "created", "reason", "expected profit", "realized profit", "sendable"):
        hist.add_column(col)
    for s in snaps:
        hist.add_row(
            str(s.version),
            f"{s.created_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            s.reason,
            str(s.money("expected_profit")) if s.profit_known else "unknown",
            str(s.money("realized_profit")) if s.profit_known else "unknown",
            "yes" if s.sendable else "no",
        )
    console.print(hist)
    if events:
        console.print(_told_table(told))
        for e in events:
            answer = e["last_error"] or (
                json.dumps(e["meta_response"], separators=(",", ":"))
                if e["meta_response"]
                else "no answer yet"
            )
            tries = f"{e['attempts']} attempt" + ("" if e["attempts"] == 1 else "s")
            console.print(
                f"  #{e['id']} event_id {e['event_id']}, {e['state']}, {tries}; Meta: {answer}",
                highlight=False,
                markup=False,
            )
    else:
        console.print("no events queued for this order", highlight=False)
    # What each delivery of the order did (the reason no Purchase was queued is said there)
    for received, topic, status, outcome in found.deliveries:
        when = f"{received.astimezone(UTC):%Y-%m-%d %H:%M}" if received else "?"
        console.print(f"  {when} {topic} ({status}): {outcome or '–'}", highlight=False, markup=False)
    for c in ledger:
        console.print(
            f"correction {c['correction_key']} ({c['trigger']}): {c['state']} — {c['reason']}",
            highlight=False,
            markup=False,
        )


def _revenue_line(r: RevenueView) -> str:
    """`revenue ex VAT 1699.20; refunded 400.00; cancelled 0.00; realized 1299.20 NOK`."""
    return (
        f"revenue ex VAT {r.revenue_ex_vat}; refunded {r.refunded_revenue_ex_vat}; "
        f"cancelled {r.cancelled_revenue_ex_vat}; realized {r.realized_revenue_ex_vat} {r.currency}"
    )


def _at(t: SentValue) -> str:
    when = t.sent_at or t.queued_at
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _amount(v: Decimal | None) -> str:
    return "-" if v is None else str(v)


def _told_table(told: list[SentValue]) -> Table:
    """What each event tells Meta: value, net_revenue, currency, and when it was sent (else queued)."""
    table = Table(title="told Meta, oldest first (values as queued)")
    table.add_column("#", justify="right")
    table.add_column("event")
    table.add_column("state")
    table.add_column("value", justify="right")
    table.add_column("net_revenue", justify="right")
    table.add_column("cur")
    table.add_column("when (UTC)", no_wrap=True)
    for t in told:
        cells = (_amount(t.value), _amount(t.net_revenue), t.currency or "-", _at(t))
        table.add_row(str(t.id), t.event_name, t.state, *cells)
    return table


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _event_doc(row: dict[str, Any]) -> dict[str, Any]:
    doc = _jsonable(row)
    if isinstance(doc.get("payload"), str):
        doc["payload"] = json.loads(doc["payload"])
    return doc


@app.command("rules")
def rules(
    load: Path | None = typer.Option(
        None, "--load", exists=True, dir_okay=False, help="Load a rules TOML file"
    ),
    shop: str | None = typer.Option(None, "--shop", help="Shop id (default: the only configured shop)"),
    recompute: bool = typer.Option(True, help="After --load, price the shop's stored orders again"),
    example: bool = typer.Option(
        False, "--example", help="Print an example rules file (every rule commented out) to start from"
    ),
) -> None:
    """Show the shop's cost rules in force, or load a new version from TOML (validated first)."""
    if example:
        typer.echo(example_rules(), nl=False)
        return
    cfg, note = resolve_shop(shop)
    if note:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    now = datetime.now(UTC)
    if load is None:
        current = rules_in_force(store(), cfg.id)
        if current is None:
            console.print(f"shop {cfg.id}: no cost rules loaded (poas rules --load FILE.toml)")
            return
        console.print(
            f"shop {cfg.id}: rules v{current.version} from {current.source}, "
            f"loaded {current.loaded_at.isoformat(timespec='seconds')}",
            highlight=False,
        )
        console.print(current.document, markup=False, highlight=False)
        return
    try:
        loaded = load_rules(
            store(),
            cfg,
            load.read_text(encoding="utf-8"),
            fmt=rules_format(load),
            source=str(load),
            now=now,
            recompute=recompute,
        )
    except RulesError as exc:
        raise fail(f"{load}: {exc}") from None
    console.print(f"shop {cfg.id}: rules v{loaded.stored.version} in force ({load.name})", highlight=False)
    if loaded.recomputed is not None:
        result = loaded.recomputed
        console.print(f"recomputed {result.checked} orders: {result.changed} new profit snapshots")
