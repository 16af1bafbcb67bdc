"""`poas connect woocommerce` then `poas sync` against the sandbox over real HTTP, on both engines: the
orders, refunds and costs in poas equal the seed's; a changed cost gets a new row from when it was
seen; a sync resumes after the newest order held; throttling slows the sync and never fails it."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine
from test_sandbox_commands import free_port
from typer.testing import CliRunner, Result

import poas.cli  # noqa: F401  (registers every command)
from poas.connectors.woocommerce_sandbox import RunningWooSandbox, new_woo_state, run_woo_sandbox
from poas.settings import load_settings
from poas.sources.woocommerce import parse_order
from poas.store.costs import load_cost_rows
from poas.store.orders import load_orders, stored_form
from poas.web.app import create_app
from poas.web.server import run_in_thread

appmod = importlib.import_module("poas.cli.app")
SEED = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
KEY, SECRET = "ck_sync_key", "cs_sync_secret"
CATEGORIES = {"KVERN-01": "Kverner", "FILTER-100": "Tilbehør", "BONNER-1KG": "Kaffe"}  # variants.csv


@pytest.fixture
def home(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.delenv("POAS_CONFIG_FILE", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield home
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


@pytest.fixture
def woo() -> Iterator[RunningWooSandbox]:
    with run_woo_sandbox(new_woo_state(SEED, key=KEY, secret=SECRET)) as sb:
        yield sb


def _run(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def _connect(sb: RunningWooSandbox, public_url: str = "https://poas.example") -> None:
    result = _run(
        *("connect", "woocommerce", "butikk", "--url", sb.url, "--key", KEY, "--secret", SECRET),
        *("--public-url", public_url),
    )
    assert result.exit_code == 0, result.output


def _seed_order(name: str) -> dict[str, object]:
    body: dict[str, object] = orjson.loads((SEED / "orders" / name).read_bytes())
    return body


def test_connect_then_sync_gives_the_seeds_orders_refunds_and_costs(
    home: Path, woo: RunningWooSandbox, engine: Engine
) -> None:
    _connect(woo)
    result = _run("sync", "butikk")
    assert result.exit_code == 0, result.output
    assert "costs: 4 item(s) with a cost (4 new, 0 changed), 0 without" in result.output
    assert "orders: 2 read (2 new, 0 updated), 0 rejected" in result.output
    with engine.connect() as conn:
        stored = load_orders(conn, "butikk", ["4711", "7301"])
        costs = load_cost_rows(conn, "butikk")
    for name in ("4711.json", "7301.json"):
        expected = stored_form(parse_order(_seed_order(name), "butikk"))
        # the lines carry no category; the sync gives them their product's first category
        lines = tuple(
            replace(ln, category=ln.category or CATEGORIES.get(ln.sku or "")) for ln in expected.lines
        )
        assert stored[expected.order_id] == replace(expected, lines=lines)
    refunds = stored["4711"].refunds
    assert len(refunds) == 1 and refunds[0].lines[0].quantity == 1
    assert {(r.key, r.unit_cost, r.currency, r.source) for r in costs} == {
        ("KVERN-01", Decimal("700.00"), "NOK", "woocommerce-first-sync"),  # simple products by SKU
        ("FILTER-100", Decimal("12.50"), "NOK", "woocommerce-first-sync"),
        ("61", Decimal("180.00"), "NOK", "woocommerce-first-sync"),  # variations by variation id
        ("62", Decimal("55.00"), "NOK", "woocommerce-first-sync"),
    }
    assert {r.valid_from for r in costs} == {datetime(2000, 1, 1, tzinfo=UTC)}

    # the order's profit uses the synced costs (its seed lines carry no cost of their own)
    profit = _run("profit", "7301", "--shop", "butikk", "--json")
    assert profit.exit_code == 0, profit.output
    doc = json.loads(profit.output)
    text = json.dumps(doc)
    assert "woocommerce-first-sync:KVERN-01" in text and "woocommerce-first-sync:61" in text


def test_a_changed_cost_gets_a_new_row_from_when_it_was_seen(
    home: Path, woo: RunningWooSandbox, engine: Engine
) -> None:
    _connect(woo)
    assert _run("sync", "butikk", "--costs-only").exit_code == 0
    woo.state.set_cost(61, Decimal("190.00"))
    before = datetime.now(UTC)
    result = _run("sync", "butikk", "--costs-only")
    assert "(0 new, 1 changed)" in result.output and "orders" not in result.output
    with engine.connect() as conn:
        rows = sorted(
            (r for r in load_cost_rows(conn, "butikk") if r.key == "61"), key=lambda r: r.valid_from
        )
        assert load_orders(conn, "butikk", ["7301"]) == {}  # --costs-only reads no orders
    assert [(r.unit_cost, r.source) for r in rows] == [
        (Decimal("180.00"), "woocommerce-first-sync"),
        (Decimal("190.00"), "woocommerce"),
    ]
    assert before - timedelta(seconds=1) <= rows[1].valid_from <= datetime.now(UTC)
    assert "(0 new, 0 changed)" in _run("sync", "butikk", "--costs-only").output


def test_sync_resumes_after_the_newest_order_held_and_throttling_only_slows_it(
    home: Path, woo: RunningWooSandbox, engine: Engine
) -> None:
    _connect(woo)
    assert "orders: 2 read (2 new, 0 updated)" in _run("sync", "butikk").output
    woo.state.add_order({**_seed_order("7301.json"), "id": 7302, "number": "7302"}, deliver=False)
    httpx.post(f"{woo.url}/_sandbox/faults", json={"kind": "throttle", "count": 4, "retry_after": 0})
    result = _run("sync", "butikk")
    assert result.exit_code == 0, result.output
    # from the newest change held, its own second included (a page may have ended inside it)
    assert "orders changed after 2026-11-25 12:05:00 UTC: 2 read (1 new, 1 updated)" in result.output
    assert "the shop throttled 4 request(s)" in result.output
    with engine.connect() as conn:
        assert set(load_orders(conn, "butikk", ["4711", "7301", "7302"])) == {"4711", "7301", "7302"}
    since = _run("sync", "butikk", "--since", "2026-11-01")
    assert "orders changed after 2026-11-01 00:00:00 UTC: 3 read (0 new, 3 updated)" in since.output


def test_sync_without_a_connection_or_with_a_revoked_key_is_one_line(
    home: Path, woo: RunningWooSandbox, engine: Engine
) -> None:
    result = _run("sync", "butikk")
    assert result.exit_code == 1
    _connect(woo)
    woo.state.secret = "cs_rotated"
    result = _run("sync", "butikk")
    message = " ".join(result.output.split())
    assert result.exit_code == 1 and message.startswith("error: sync stopped:")
    assert "Consumer secret is invalid." in message and SECRET not in message


def test_after_connect_the_shops_signed_deliveries_reach_poas_web(
    home: Path, woo: RunningWooSandbox, engine: Engine
) -> None:
    port = free_port()
    _connect(woo, f"http://127.0.0.1:{port}")
    app = create_app(load_settings(home / "poas.toml"), engine)
    with run_in_thread(app, port=port):
        order = {**_seed_order("7301.json"), "id": 7400, "number": "7400"}
        sent = httpx.post(f"{woo.url}/_sandbox/orders", json=order, timeout=30).json()["deliveries"]
        assert [(d["topic"], d["status"]) for d in sent] == [("order.created", 200)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if load_orders(conn, "butikk", ["7400"]):
                    break
            time.sleep(0.05)
    with engine.connect() as conn:
        assert load_orders(conn, "butikk", ["7400"])["7400"].name == "7400"
