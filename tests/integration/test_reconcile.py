"""The worker's order reconciliation over real HTTP against the Shopify and WooCommerce sandboxes, on
both engines: an order whose webhook the shop "forgot" (`?deliver=false`) is found by one cycle,
stored, priced and its Purchase queued; a second cycle finds nothing new; the count is in `/metrics`
and `poas doctor`; a shop whose platform refuses the credentials is recorded as failed while another
reconciles. The worker's timer functions are driven directly with an injected `now`."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import Result
from pydantic import SecretStr
from sqlalchemy import Engine, select
from test_shopify_sandbox import FIXTURES, make_seed
from typer.testing import CliRunner

import poas.cli  # registers every command
from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state
from poas.connectors.woocommerce_sandbox import RunningWooSandbox, new_woo_state, run_woo_sandbox
from poas.services.housekeeping import HousekeepingReport, cost_pass, reconcile_pass, run_housekeeping
from poas.services.reconcile import COST_SYNC, RECONCILE
from poas.services.sync_status import last_row
from poas.settings import Settings, ShopConfig, load_settings
from poas.store.snapshots import latest_snapshot
from poas.store.tables.delivery import outbox
from poas.web.metrics import render_metrics

appmod = importlib.import_module("poas.cli.app")
WOO_SEED = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
KEY, SECRET = "ck_reconcile_key", "cs_reconcile_secret"
FORGOTTEN = "5830120899077"


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
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningShopifySandbox]:
    with run_shopify_sandbox(seeded_state(make_seed(tmp_path / "seed"))) as sb:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sb.url)
        yield sb


@pytest.fixture
def woo() -> Iterator[RunningWooSandbox]:
    with run_woo_sandbox(new_woo_state(WOO_SEED, key=KEY, secret=SECRET)) as sb:
        yield sb


def poas(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _with_pixel(settings: Settings, *extra: ShopConfig) -> Settings:
    shops = [s.model_copy(update={"pixel_id": "1234567890"}) for s in settings.shops]
    return settings.model_copy(update={"shops": [*shops, *extra]})


def _purchases(engine: Engine, shop_id: str, order_id: str) -> int:
    t = outbox.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.event_name).where(t.shop_id == shop_id, t.order_id == order_id)).all()
    return sum(1 for r in rows if r[0] == "Purchase")


def _connect_shopify() -> None:
    connected = poas(
        *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
        *("--client-id", "cid", "--client-secret", "shpss_client_secret_0123456789"),
        *("--public-url", "https://poas.example.no"),
    )
    assert connected.exit_code == 0, connected.output


def test_a_forgotten_shopify_webhook_is_caught_up_by_one_cycle_and_counted(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    _connect_shopify()
    now = datetime.now(UTC)
    broken = ShopConfig(
        id="butikk",
        platform="woocommerce",
        currency="NOK",
        woocommerce_url="http://127.0.0.1:9",  # nothing listens: the platform is unreachable
        woocommerce_key=SecretStr("ck_wrong"),
        woocommerce_secret=SecretStr("cs_wrong"),
    )
    settings = _with_pixel(load_settings(home / "poas.toml"), broken)
    report = HousekeepingReport()
    cost_pass(engine, settings, now, report)  # the daily cost sync: the costs the order is priced with
    assert last_row(engine, COST_SYNC, "nordlys").last_success_at == now  # type: ignore[union-attr]

    when = now - timedelta(minutes=5)
    order = orjson.loads((FIXTURES / "order_paid_not_subscribed.json").read_bytes())
    order.update(id=int(FORGOTTEN), created_at=_stamp(when), processed_at=_stamp(when))
    order.update(updated_at=_stamp(when))
    quiet = httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order, timeout=30).json()
    assert quiet["deliveries"] == []

    reconcile_pass(engine, settings, now, report)
    assert report.reconcile_missed == 1
    with engine.connect() as conn:
        snap = latest_snapshot(conn, "nordlys", FORGOTTEN)
    assert snap is not None  # stored and priced
    assert _purchases(engine, "nordlys", FORGOTTEN) == 1  # queued as the webhook would have
    failed = last_row(engine, RECONCILE, "butikk")
    assert failed is not None and failed.last_failure_at == now and failed.last_error
    assert "cs_wrong" not in failed.last_error and "ck_wrong" not in failed.last_error
    assert any(e.startswith("butikk: ") for e in report.shop_errors)

    later = now + timedelta(minutes=10)
    reconcile_pass(engine, settings, later, report)
    assert report.reconcile_missed == 1  # the second cycle finds nothing new
    assert _purchases(engine, "nordlys", FORGOTTEN) == 1
    ok = last_row(engine, RECONCILE, "nordlys")
    assert ok is not None and ok.last_success_at == later

    edited = {**order, "updated_at": _stamp(later - timedelta(minutes=1)), "note": "edited"}
    httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=edited, timeout=30).raise_for_status()
    reconcile_pass(engine, settings, later, report)  # a newer version than the one held: missed too
    assert report.reconcile_missed == 2
    assert _purchases(engine, "nordlys", FORGOTTEN) == 1  # one Purchase per order, as with webhooks

    text = render_metrics(engine, later).decode()
    assert 'poas_reconcile_missed_orders_total{shop="nordlys"} 2.0' in text
    assert 'poas_reconcile_missed_orders_total{shop="butikk"} 0.0' in text

    doctor = " ".join(poas("doctor", "--no-graph").output.split())
    assert "reconcile nordlys" in doctor and "1 missed by webhooks" in doctor, doctor
    assert "(2 missed in all)" in doctor


def test_a_forgotten_woocommerce_webhook_is_caught_up_and_a_refused_key_is_recorded(
    home: Path, woo: RunningWooSandbox, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    connected = poas(
        *("connect", "woocommerce", "butikk", "--url", woo.url, "--key", KEY, "--secret", SECRET),
        *("--public-url", "https://poas.example"),
    )
    assert connected.exit_code == 0, connected.output
    now = datetime.now(UTC)
    refused = ShopConfig(
        id="nordlys",
        platform="shopify",
        currency="NOK",
        domain="nordlys.myshopify.com",
        shopify_token=SecretStr("shpca_revoked_token_0123456789"),  # the sandbox answers 401
    )
    settings = _with_pixel(load_settings(home / "poas.toml"), refused)
    report = HousekeepingReport()
    cost_pass(engine, settings, now, report)

    when = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    body = orjson.loads((WOO_SEED / "orders" / "4711.json").read_bytes())
    body.update(id=4799, number="4799", date_created_gmt=when, date_paid_gmt=when, refunds=[])
    httpx.post(f"{woo.url}/_sandbox/orders?deliver=false", json=body, timeout=30).raise_for_status()

    reconcile_pass(engine, settings, now, report)
    missed_first = report.reconcile_missed
    assert missed_first >= 1  # the forgotten order (and the seed's, which no webhook delivered either)
    with engine.connect() as conn:
        assert latest_snapshot(conn, "butikk", "4799") is not None
    assert _purchases(engine, "butikk", "4799") == 1
    failed = last_row(engine, RECONCILE, "nordlys")
    assert failed is not None and failed.last_failure_at == now and failed.last_error
    assert "shpca_revoked" not in failed.last_error

    reconcile_pass(engine, settings, now + timedelta(minutes=10), report)
    assert report.reconcile_missed == missed_first


def test_the_worker_loop_runs_reconciliation_and_the_cost_sync_on_their_timers(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    _connect_shopify()
    settings = load_settings(home / "poas.toml").model_copy(update={"fx_sync_source": "off"})
    now = datetime.now(UTC)

    async def run() -> HousekeepingReport:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_housekeeping(engine, settings, stop, inbox_every_s=0.05, clock=lambda: now)
        )
        for _ in range(400):
            if last_row(engine, RECONCILE, "nordlys") and last_row(engine, COST_SYNC, "nordlys"):
                break
            await asyncio.sleep(0.05)
        stop.set()
        return await task

    report = asyncio.run(run())
    assert report.reconcile_passes == 1 and report.cost_passes == 1  # due at start, then every interval
    assert report.shop_errors == []
    assert last_row(engine, RECONCILE, "nordlys").last_success_at == now  # type: ignore[union-attr]
