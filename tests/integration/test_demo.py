"""`poas demo` end to end: a sample shop through webhooks, profit, outbox, Meta sandbox, spend, report."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_story_check import check_story

from poas.cli.demo_run import DEFAULT_DAYS, Demo, DemoOptions
from poas.domain.advice import advise, campaign_figures
from poas.services.report import row_dict
from poas.sources.sample_catalog import CAMPAIGNS
from poas.store.db import make_engine

D = Decimal
BESTSELLER = next(c.campaign_id for c in CAMPAIGNS if c.name == "Bestseller")
PREMIUM = next(c.campaign_id for c in CAMPAIGNS if c.name == "Premium")
META_MAX_AGE = timedelta(days=7)


def _orders(shop_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_bytes()) for p in sorted((shop_dir / "shopify_orders").glob("*.json"))]


def _ads_consent(order: dict[str, Any]) -> str:
    notes = {n["name"]: n["value"] for n in order["note_attributes"]}
    return notes.get("_consent_ads", "unknown")


def purchase_expectations(shop_dir: Path, now: datetime) -> tuple[set[str], set[str]]:
    """(orders that must have exactly one Purchase, orders that must have none), from the sample files.

    A Purchase is owed for a paid order the customer did not refuse tracking for, placed inside Meta's
    7-day window at the time of sending; never for a refused, cancelled or unpaid order.
    """
    owed: set[str] = set()
    never: set[str] = set()
    for o in _orders(shop_dir):
        placed = datetime.fromisoformat(o["processed_at"])
        if o["financial_status"] != "paid" or _ads_consent(o) == "denied":
            never.add(str(o["id"]))
        elif now - placed < META_MAX_AGE - timedelta(hours=1):
            owed.add(str(o["id"]))
    return owed, never


def check_purchases(records: list[dict[str, Any]], shop_dir: Path, now: datetime) -> None:
    """The sandbox's record: one Purchase per owed order, none for refused or unpaid ones."""
    purchases = [r["event"] for r in records if r["event"].get("event_name") == "Purchase"]
    by_order = Counter(str((e.get("custom_data") or {}).get("order_id")) for e in purchases)
    owed, never = purchase_expectations(shop_dir, now)
    assert owed, "the sample has no recent paid orders to check"
    assert {o for o, n in by_order.items() if n > 1} == set()
    assert owed <= set(by_order), f"{len(owed - set(by_order))} owed Purchase events are missing"
    assert not (never & set(by_order)), "a Purchase went out for a refused or unpaid order"
    for e in purchases:
        assert "net_revenue" in e["custom_data"] and e["custom_data"]["currency"] == "NOK"
    refunded = {str(json.loads(p.read_bytes())["order_id"]) for p in (shop_dir / "refunds").glob("*.json")}
    cancelled = {p.stem for p in (shop_dir / "cancellations").glob("*.json")}
    appends = [r["event"] for r in records if r["event"].get("event_name") == "AppendValue"]
    for e in appends:  # a correction only for an order Meta heard about, refunded or cancelled since
        order_id = str(e["original_event_data"]["order_id"])
        assert order_id in by_order and order_id in refunded | cancelled
    assert len({str(e["original_event_data"]["order_id"]) for e in appends}) == len(appends)


def check_meta_reported(rows: dict[str, Any], truth: dict[str, Any]) -> None:
    """Meta's own purchases per campaign came through the insights sync as the sandbox served them,
    and differ from the shop's own count as the campaign's reporting factor says."""
    for c in truth["campaigns"]:
        row = rows[c["campaign_id"]]
        assert c["meta_purchases"] > 0
        assert (row["meta_purchases"], D(str(row["meta_value"]))) == (
            c["meta_purchases"],
            D(c["meta_purchase_value"]),
        )
    video = next(c for c in truth["campaigns"] if c["campaign"] == "Merkevare Video")
    assert rows[video["campaign_id"]]["meta_purchases"] > rows[video["campaign_id"]]["orders"]


DOCUMENT_KEYS = {
    "shop",
    "currency",
    "from",
    "to",
    "days",
    "orders",
    "webhooks_accepted",
    "events_sent",
    "append_value",
    "campaigns",
    "campaigns_total",
    "total",
    "advice",
}
CAMPAIGN_KEYS = {
    "campaign",
    "campaign_id",
    "spend",
    "orders",
    "revenue",
    "profit",
    "roas",
    "poas",
    "poas_expected",
    "meta_purchases",
    "meta_value",
    "meta_roas",
}


def _row(rows: list[dict[str, Any]], campaign_id: str) -> dict[str, Any]:
    return next(r for r in rows if r.get("campaign_id") == campaign_id)


@pytest.mark.slow
def test_demo_runs_every_stage_and_poas_numbers_match_the_generators_truth(
    db_url: str, tmp_path: Path
) -> None:
    # the seed-3 story of the window alone (the older history and its 90-day line: test_demo_customer_story)
    options = DemoOptions(
        home=tmp_path, days=12, orders_per_day=50, seed=3, history_days=0, database_url=db_url
    )
    with Demo(options) as demo:
        result = demo.run()
        events = demo.sandbox.events()
        now = datetime.now(UTC)
    counts = result.counts
    deliveries = counts["generated_orders"] + counts["generated_refunds"] + counts["generated_cancellations"]
    assert counts["webhooks_accepted"] == deliveries
    assert counts["inbox_done"] == deliveries
    assert counts["spend_rows"] == counts["generated_spend_rows"]

    truth = json.loads((result.folder / "sample-shop" / "truth.json").read_text())
    rows = {r.key: r for r in result.report.rows}
    for c in truth["campaigns"]:
        row = rows[c["campaign_id"]]
        assert row.figures.spend == D(c["spend"])  # spend went file → sandbox → insights sync → rollups
        # poas also counts the few still-pending (unpaid) orders, the truth only paid ones
        assert row.figures.orders >= c["orders"]
        assert abs(row.figures.revenue - D(c["revenue_ex_vat"])) <= D("0.12") * D(c["revenue_ex_vat"])
        assert abs(row.figures.gross_profit - D(c["gross_profit"])) <= D("0.12") * abs(D(c["gross_profit"]))

    best, premium = rows[BESTSELLER], rows[PREMIUM]
    assert best.roas is not None and premium.roas is not None and best.roas > premium.roas
    assert best.poas is not None and premium.poas is not None and best.poas < 1 < premium.poas
    advice = {c.key: c for c in result.advice.campaigns}
    assert advice[BESTSELLER].change < 0 < advice[PREMIUM].change
    # The advice weighs profit after expected returns: the campaign that returns lose most on gets
    # less budget than the same advice on gross profit would give it.
    assert result.advice.basis == "expected"
    gross = {c.key: c for c in advise(campaign_figures(result.report.rows, "gross")).campaigns}
    keyed = [r for r in result.report.rows if r.key and r.poas is not None and r.poas_expected is not None]
    returny = max(keyed, key=lambda r: (r.poas or D(0)) - (r.poas_expected or D(0)))
    assert returny.poas_expected is not None and returny.poas is not None
    assert returny.poas_expected < returny.poas
    assert advice[returny.key].proposed_spend < gross[returny.key].proposed_spend

    assert counts["events_queued"] > 0
    assert counts["events_dead"] == counts["events_too_old"]  # only events past Meta's 7 days die
    check_purchases(events, result.folder / "sample-shop", now)
    check_meta_reported({r.key: row_dict("campaign", r, "NOK") for r in result.report.rows}, truth)

    # Refunds and cancellations of recent orders: AppendValue corrections reached the sandbox over HTTP
    appends = [r["event"] for r in events if r["event"]["event_name"] == "AppendValue"]
    corrections = result.corrections
    assert corrections is not None
    assert len(appends) == corrections.sent == counts["sandbox_AppendValue"] > 0
    example = corrections.example()
    assert example is not None and example.delivery == "sent"
    (sent,) = [e for e in appends if e["original_event_data"]["order_id"] == example.order_id]
    assert example.appended is not None
    assert D(str(sent["custom_data"]["net_revenue"])) == example.appended == max(example.final_profit, D(0))
    assert example.told_profit is not None and example.told_profit != example.final_profit
    purchase = next(
        r["event"]
        for r in events
        if r["event"]["event_name"] == "Purchase"
        and r["event"]["custom_data"]["order_id"] == example.order_id
    )
    assert D(str(purchase["custom_data"]["net_revenue"])) == example.told_profit
    assert D(str(purchase["custom_data"]["value"])) == example.purchase_value


@pytest.mark.slow
def test_poas_demo_json_in_a_subprocess_prints_the_seed_story(tmp_path: Path) -> None:
    env = {**os.environ, "POAS_HOME": str(tmp_path), "COLUMNS": "120"}
    env.pop("POAS_DATABASE_URL", None)
    env.pop("POAS_CONFIG_FILE", None)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "poas"), "demo", "--no-serve", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)  # stdout holds the JSON only; progress went to stderr
    assert set(doc) >= DOCUMENT_KEYS
    assert doc["days"] == DEFAULT_DAYS and doc["currency"] == "NOK"
    assert doc["orders"]["generated"] > 0 and doc["orders"]["refunds"] > 0
    assert doc["orders"]["cancellations"] > 0
    assert doc["events_sent"]["Purchase"] > 0
    appended = doc["append_value"]
    assert appended["sent"] == doc["events_sent"]["AppendValue"] > 0
    example = appended["example"]
    assert set(example) >= {
        "order_id",
        "purchase_value",
        "told_profit",
        "final_profit",
        "appended_net_revenue",
    }
    assert example["delivery"] == "sent" and example["told_profit"] != example["final_profit"]
    rows = doc["campaigns"]
    for r in rows:
        assert set(r) >= CAMPAIGN_KEYS
        if r["campaign_id"]:  # the ROAS Ads Manager shows, from Meta's own reported value
            assert r["meta_roas"] == pytest.approx(r["meta_value"] / r["spend"], abs=1e-4)
    best, premium = _row(rows, BESTSELLER), _row(rows, PREMIUM)
    assert best["roas"] > premium["roas"]
    assert best["poas"] < premium["poas"]
    assert best["poas"] < 1
    assert "send Shopify order webhooks" in proc.stderr
    assert "send Shopify refund and cancellation webhooks" in proc.stderr

    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("demo-")]
    assert doc["folder"] == str(folder)
    events = json.loads((folder / "sandbox_events.json").read_text())
    assert events, "the sandbox received no events"
    sent_at = datetime.fromtimestamp((folder / "sandbox_events.json").stat().st_mtime, UTC)
    check_purchases(events, folder / "sample-shop", sent_at)
    assert sum(1 for r in events if r["event"]["event_name"] == "AppendValue") == appended["sent"]
    truth = json.loads((folder / "sample-shop" / "truth.json").read_text())
    check_meta_reported({r["campaign_id"]: r for r in rows if r["campaign_id"]}, truth)
    # the 90-day customer line (#19), its numbers from the run's own store
    story = doc["customer_story"]
    assert story.startswith("customers, not orders: Merkevare Video looks weak on first-order POAS")
    assert "within 90 days of the first order" in story
    engine = make_engine(f"sqlite:///{folder / 'poas.db'}")
    try:
        as_of = datetime.fromisoformat(doc["customers"]["as_of"])
        check_story(story, engine, doc["shop"], as_of, doc["customers"]["basis"])
    finally:
        engine.dispose()
    total = doc["campaigns_total"]
    assert total["meta_purchases"] == sum(r["meta_purchases"] for r in rows)
    assert total["orders"] == sum(r["orders"] for r in rows if r["campaign_id"])


@pytest.mark.slow
def test_poas_demo_serves_the_dashboard_with_the_printed_password_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "POAS_HOME": str(tmp_path), "COLUMNS": "40"}  # narrower than the address line
    for name in ("POAS_DATABASE_URL", "POAS_CONFIG_FILE", "POAS_ADMIN_PASSWORD_HASH", "POAS_SESSION_SECRET"):
        env.pop(name, None)
    cmd = [str(Path(sys.executable).parent / "poas"), "demo", "--days", "3", "--orders-per-day", "8"]
    cmd += ["--history-days", "0"]  # the serving is under test here, not the older history
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        for line in proc.stderr:  # ends when the process dies, so a failure cannot hang the test
            lines.append(line)
            if "dashboard:" in line:
                break
        text = "".join(lines)
        assert "dashboard:" in text, text[-3000:]
        for line in proc.stderr:  # the password's line follows the address's
            lines.append(line)
            if "admin password" in line:
                break
        text = "".join(lines)
        # each on a line of its own, whole (never wrapped by the terminal width)
        url = re.search(r"^dashboard: (http://\S+?)/?$", text, re.MULTILINE)
        password = re.search(r"^admin password \(this run only\): (\S+)$", text, re.MULTILINE)
        assert url and password, text[-2000:]
        for attempt, expect_in in ((password.group(1) + "x", False), (password.group(1), True)):
            with httpx.Client(base_url=url.group(1), follow_redirects=True, timeout=30) as web:
                assert web.get("/healthz").status_code == 200
                form = web.get("/login")
                csrf = re.search(r'name="(csrf[^"]*)" value="([^"]+)"', form.text)
                data = {"password": attempt}
                if csrf:
                    data[csrf.group(1)] = csrf.group(2)
                page = web.post("/login", data=data)
                assert ("Bestseller" in page.text) is expect_in
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
