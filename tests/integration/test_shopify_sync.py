"""`poas connect shopify` + `poas sync` against the Shopify sandbox over real HTTP, on both engines:
the seeded paid order gets a profit from the synced unit costs (no CSV), visible in `poas profit`;
a changed cost gets a new row; an expired token mid-sync is refreshed; throttling slows, never fails."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import Result
from sqlalchemy import Engine
from test_sandbox_commands import free_port
from test_shopify_sandbox import FIXTURES, make_seed
from typer.testing import CliRunner

from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state
from poas.connectors.shopify_sandbox_data import Variant
from poas.settings import load_settings
from poas.store.costs import load_cost_rows
from poas.store.snapshots import latest_snapshot
from poas.web.app import create_app
from poas.web.server import run_in_thread

appmod = importlib.import_module("poas.cli.app")
PAID = "5830120800777"  # order_paid_not_subscribed.json: 2 x ULL-GENSER-M-GRA, 1 x LUE-ULL-SORT
REFUNDED = "5830120800456"


@pytest.fixture
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.delenv("POAS_CONFIG_FILE", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield home
    appmod.settings.cache_clear()
    appmod.store.cache_clear()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningShopifySandbox]:
    with run_shopify_sandbox(seeded_state(make_seed(tmp_path / "seed"))) as sb:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sb.url)
        yield sb


def poas(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def connect_and_sync(*sync_args: str) -> Result:
    connected = poas(
        *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
        *("--client-id", "cid", "--client-secret", "shpss_client_secret_0123456789"),
        *("--public-url", "https://poas.example.no"),
    )
    assert connected.exit_code == 0, connected.output
    return poas("sync", "nordlys", *sync_args)


def cogs(order_id: str) -> Decimal:
    shown = poas("profit", order_id, "--shop", "nordlys", "--json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.output)
    return Decimal(doc["latest"]["breakdown"]["components"]["cogs"]["amount"])


def test_connect_then_sync_prices_the_paid_order_from_shopify_costs(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    synced = connect_and_sync()
    assert synced.exit_code == 0, synced.output
    flat = " ".join(synced.output.split())
    assert "costs: 2 variant(s) with a cost, 2 new" in flat
    assert "no cost in Shopify for 1: Skjerf Rødt (SKJERF-RODT)" in flat
    assert "orders: 2 imported, 0 rejected" in flat
    assert cogs(PAID) == Decimal("2") * Decimal("310.50") + Decimal("42.00")
    breakdown = poas("profit", PAID, "--shop", "nordlys", "--json").output
    assert "shopify-first-sync:44021137555656@" in breakdown  # the cited cost row says how it was priced
    with engine.connect() as conn:
        rows = load_cost_rows(conn, "nordlys")
    assert {(r.key, r.unit_cost, r.source) for r in rows} == {
        ("44021137555656", Decimal("310.50"), "shopify-first-sync"),
        ("44021137588424", Decimal("42.00"), "shopify-first-sync"),
    }

    # the same sync again: nothing new; a changed cost: a new row valid from now
    sandbox.state.variants[0] = Variant(
        "44021137555656", "ULL-GENSER-M-GRA", "Ullgenser", "M / Grå", "Gensere", Decimal("333.00"), "NOK"
    )
    again = poas("sync", "nordlys", "--costs-only")
    assert again.exit_code == 0, again.output
    assert "1 changed" in again.output and "orders:" not in again.output
    with engine.connect() as conn:
        ull = sorted(
            (r for r in load_cost_rows(conn, "nordlys") if r.key == "44021137555656"),
            key=lambda r: r.valid_from,
        )
    assert [(r.unit_cost, r.source) for r in ull] == [
        (Decimal("310.50"), "shopify-first-sync"),
        (Decimal("333.00"), "shopify"),
    ]
    assert cogs(PAID) == Decimal("663.00")  # the order was placed before the change


def test_a_later_sync_resumes_after_the_last_one(home: Path, sandbox: RunningShopifySandbox) -> None:
    assert connect_and_sync().exit_code == 0
    first = list(sandbox.state.bulks.values())[-1].query
    assert "updated_at" not in first  # the first sync reads every order
    again = poas("sync", "nordlys")
    assert again.exit_code == 0 and "orders changed since" in again.output
    assert "updated_at:>=" in list(sandbox.state.bulks.values())[-1].query
    assert "orders: 0 imported" in again.output  # nothing changed since


def test_an_expired_token_and_throttling_mid_sync_do_not_stop_it(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    sandbox.add_fault(kind="throttle", count=2)
    sandbox.add_fault(kind="token_expired", count=1)
    synced = connect_and_sync()
    assert synced.exit_code == 0, synced.output
    assert "orders: 2 imported" in synced.output
    assert sandbox.state.counters["throttled"] >= 1
    assert sandbox.state.counters["tokens_issued"] >= 2  # connect's, and the refresh after the 401
    assert cogs(PAID) == Decimal("663.00")


def test_since_reads_only_orders_changed_after_it_and_a_failed_bulk_is_named(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    synced = connect_and_sync("--since", "2026-11-22")
    assert synced.exit_code == 0 and "orders: 1 imported" in synced.output
    assert poas("profit", PAID, "--shop", "nordlys").exit_code == 1
    assert cogs(REFUNDED) > 0
    sandbox.add_fault(kind="bulk_failed")
    failed = poas("sync", "nordlys")
    assert failed.exit_code == 1
    assert "sync stopped" in failed.output and "FAILED (INTERNAL_SERVER_ERROR)" in " ".join(
        failed.output.split()
    )


def test_sync_of_an_unconnected_shop_says_to_connect(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "poas.toml").write_text('[[shops]]\nid = "nordlys"\nplatform = "shopify"\n')
    result = poas("sync", "nordlys")
    assert result.exit_code == 1 and "poas connect shopify nordlys" in " ".join(result.output.split())


def test_after_connect_the_shops_signed_deliveries_reach_poas_web(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    port = free_port()
    connected = poas(
        *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
        *("--client-id", "cid", "--client-secret", "shpss_client_secret_0123456789"),
        *("--public-url", f"http://127.0.0.1:{port}"),
    )
    assert connected.exit_code == 0, connected.output
    assert poas("sync", "nordlys", "--costs-only").exit_code == 0
    app = create_app(load_settings(home / "poas.toml"), engine)
    order = {**orjson.loads((FIXTURES / "order_paid_not_subscribed.json").read_bytes()), "id": 5830120899001}
    with run_in_thread(app, port=port):
        sent = httpx.post(f"{sandbox.url}/_sandbox/orders", json=order, timeout=30).json()["deliveries"]
        assert [(d["topic"], d["status"]) for d in sent] == [("orders/create", 200), ("orders/paid", 200)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if latest_snapshot(conn, "nordlys", "5830120899001") is not None:
                    break
            time.sleep(0.05)
        forgotten = {**order, "id": 5830120899002}
        quiet = httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=forgotten, timeout=30).json()
        assert quiet["deliveries"] == []
    assert cogs("5830120899001") == Decimal("663.00")  # priced from the synced Shopify costs
