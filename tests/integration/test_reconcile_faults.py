"""Reconciliation under stress, over real HTTP against the sandboxes' fault injection, on both engines:
a worker cycle that runs inside a manual `poas sync` of the same shop, and one at the same time as it
(one bulk query at a time before API 2026-01, five after), store each order once, queue one Purchase
per missed order, count right and leave both cursors where they belong; a 5xx or a THROTTLED that
outlasts the client's patience is recorded on sync_status without secrets and the next cycle catches
up what it missed; a token that expires mid-cycle is refreshed and the cycle finishes."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import Result
from sqlalchemy import Engine, func, select
from test_shopify_sandbox import FIXTURES, make_seed
from typer.testing import CliRunner

import poas.cli  # registers every command
from poas.connectors.shopify import ShopifyClient
from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state
from poas.connectors.woocommerce_sandbox import new_woo_state, run_woo_sandbox
from poas.services import reconcile
from poas.services.reconcile import RECONCILE, ReconcileReport, reconcile_all, reconcile_counts
from poas.services.shopify_sync import CURSOR_KIND, CURSOR_OVERLAP, sync_shopify
from poas.services.sync_status import last_row
from poas.settings import Settings, load_settings
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import orders

appmod = importlib.import_module("poas.cli.app")
WOO_SEED = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
KEY, SECRET = "ck_faults_key", "cs_faults_secret"
CLIENT_SECRET = "shpss_client_secret_0123456789"
FORGOTTEN = "5830120899177"
SEED_ORDERS = 2
POLL = "query ($id: ID!) { node(id: $id) { ... on BulkOperation { status } } }"


def no_sleep(_: float) -> None:
    return None


class Clock:
    """The Shopify sandbox's clock, moved on by the client's waits: a throttle wait refills the
    bucket as the real wait would, at once."""

    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


CLOCK = Clock()


@pytest.fixture
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.delenv("POAS_CONFIG_FILE", raising=False)
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield home
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningShopifySandbox]:
    state = seeded_state(make_seed(tmp_path / "seed"))
    state.now_s = CLOCK
    with run_shopify_sandbox(state) as sb:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sb.url)
        yield sb


def poas(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def _connected(home: Path) -> Settings:
    connected = poas(
        *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
        *("--client-id", "cid", "--client-secret", CLIENT_SECRET),
        *("--public-url", "https://poas.example.no"),
    )
    assert connected.exit_code == 0, connected.output
    costs = poas("sync", "nordlys", "--costs-only")  # as the worker's cost sync would have
    assert costs.exit_code == 0, costs.output
    settings = load_settings(home / "poas.toml")
    shops = [s.model_copy(update={"pixel_id": "1234567890"}) for s in settings.shops]
    return settings.model_copy(update={"shops": shops})


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _forget(sandbox: RunningShopifySandbox, order_id: str, when: datetime) -> None:
    """A paid order the shop saves without delivering its webhooks."""
    order = orjson.loads((FIXTURES / "order_paid_not_subscribed.json").read_bytes())
    order.update(id=int(order_id), name=f"#{order_id[-4:]}", created_at=_stamp(when))
    order.update(processed_at=_stamp(when), updated_at=_stamp(when))
    quiet = httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order, timeout=30).json()
    assert quiet["deliveries"] == []


def _purchases(engine: Engine, shop_id: str, order_id: str) -> int:
    t = outbox.c
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    t.shop_id == shop_id, t.order_id == order_id, t.event_name == "Purchase"
                )
            ).scalar_one()
        )


def _stored(engine: Engine, shop_id: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            r[0] for r in conn.execute(select(orders.c.order_id).where(orders.c.shop_id == shop_id))
        )


def _missed_total(engine: Engine, shop_id: str = "nordlys") -> int:
    return next(c.missed_total for c in reconcile_counts(engine) if c.shop_id == shop_id)


def _only(report: ReconcileReport) -> Any:
    [shop] = report.shops
    return shop


def test_a_cycle_inside_a_manual_sync_stores_each_order_once_and_counts_right(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    settings = _connected(home)
    shop = settings.shops[0]
    now = datetime.now(UTC)
    _forget(sandbox, FORGOTTEN, now - timedelta(minutes=5))
    cycles: list[ReconcileReport] = []

    def worker_cycle(_size: int) -> None:  # the sync holds the JSONL and has not imported it yet
        cycles.append(reconcile_all(engine, settings, now=now, poll_s=0, sleep=CLOCK.sleep))

    synced = sync_shopify(
        engine, settings, shop, now=now, poll_s=0, sleep=CLOCK.sleep, on_download=worker_cycle
    )
    cycle = _only(cycles[0])
    assert cycle.error is None and (cycle.checked, cycle.missed, cycle.queued) == (1, 1, 1)
    assert synced.orders is not None and synced.orders.accepted == SEED_ORDERS + 1  # the same order again
    assert len(_stored(engine, "nordlys")) == SEED_ORDERS + 1  # once each
    assert _purchases(engine, "nordlys", FORGOTTEN) == 1  # queued by the cycle; the sync sends none
    sync_cursor, cycle_cursor = (
        last_row(engine, CURSOR_KIND, "nordlys"),
        last_row(engine, RECONCILE, "nordlys"),
    )
    assert sync_cursor is not None and sync_cursor.last_success_at == now
    assert cycle_cursor is not None and cycle_cursor.last_success_at == now
    assert _missed_total(engine) == 1

    later = now + timedelta(minutes=10)  # the next cycle and the next manual sync find nothing new
    again = _only(reconcile_all(engine, settings, now=later, poll_s=0, sleep=CLOCK.sleep))
    assert (again.missed, again.error) == (0, None) and again.checked == 1
    resumed = sync_shopify(engine, settings, shop, now=later, poll_s=0, sleep=CLOCK.sleep)
    assert resumed.since == now - CURSOR_OVERLAP
    assert _purchases(engine, "nordlys", FORGOTTEN) == 1
    assert _missed_total(engine) == 1
    assert len(_stored(engine, "nordlys")) == SEED_ORDERS + 1


@pytest.mark.parametrize("version", ["2025-10", "2026-10"])
def test_a_cycle_at_the_same_time_as_a_manual_sync(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POAS_SHOPIFY_API_VERSION", version)  # 2025-10: one bulk query at a time
    settings = _connected(home)
    assert settings.shopify_api_version == version
    now = datetime.now(UTC)
    _forget(sandbox, FORGOTTEN, now - timedelta(minutes=5))
    with ThreadPoolExecutor(2) as pool:  # costs are synced: a Purchase depends only on who stores first
        sync = pool.submit(
            sync_shopify, engine, settings, settings.shops[0], now=now, poll_s=0.01, sleep=CLOCK.sleep
        )
        cycle = pool.submit(reconcile_all, engine, settings, now=now, poll_s=0.01, sleep=CLOCK.sleep)
        synced, reconciled = sync.result(timeout=120), _only(cycle.result(timeout=120))
    assert reconciled.error is None and reconciled.checked == 1
    # whoever stored the order first, it is stored once and its Purchase queued only if the cycle
    # caught it up: the count says which
    assert _purchases(engine, "nordlys", FORGOTTEN) == reconciled.missed == reconciled.queued
    assert len(_stored(engine, "nordlys")) == SEED_ORDERS + 1
    assert synced.orders is not None and synced.orders.rejected == 0
    assert all(b.status == "COMPLETED" for b in sandbox.state.bulks.values())
    assert last_row(engine, CURSOR_KIND, "nordlys").last_success_at == now  # type: ignore[union-attr]
    assert last_row(engine, RECONCILE, "nordlys").last_success_at == now  # type: ignore[union-attr]


@pytest.mark.parametrize(("version", "running"), [("2025-10", 1), ("2026-10", 5)])
def test_a_bulk_query_waits_for_a_place_instead_of_failing(
    sandbox: RunningShopifySandbox, version: str, running: int
) -> None:
    other = ShopifyClient(
        "nordlys.myshopify.com", token="shpat_other", base_url=sandbox.url, api_version=version
    )
    ids = [other._start_bulk("{ orders { edges { node { id } } } }", 0, 1)["id"] for _ in range(running)]

    def another_process_polls(_: float) -> None:  # the other operations finish while this one waits
        for gid in ids:
            other.graphql(
                "query ($id: ID!) { node(id: $id) { ... on BulkOperation { status } } }", {"id": gid}
            )

    with ShopifyClient(
        "nordlys.myshopify.com", token="shpat_x", base_url=sandbox.url, api_version=version,
        sleep=another_process_polls,
    ) as client:  # fmt: skip
        path = client.bulk_to_file("{ orders { edges { node { id } } } }", poll_s=0)
    other.close()
    assert path is not None
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len([r for r in rows if "__parentId" not in r]) == SEED_ORDERS
    path.unlink()
    assert client.bulk_waits >= 1


def _no_secret(text: str | None) -> None:
    assert text
    for secret in (CLIENT_SECRET, "shpca_", KEY, SECRET):
        assert secret not in text


@pytest.fixture(params=["pages", "bulk"])
def read(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the cycle reads Shopify: changes listed and the missed order read alone, or a bulk operation
    (forced by allowing no order to be read alone)."""
    if request.param == "bulk":
        monkeypatch.setattr(reconcile, "FETCH_MAX", 0)
    return str(request.param)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"kind": "5xx", "code": 502, "count": 6, "after": 1}, "kept failing (502)"),  # past 5 retries
        ({"kind": "throttle", "count": None, "after": 1}, "still throttled"),  # until cleared
    ],
)
def test_a_failed_cycle_is_recorded_without_secrets_and_the_next_catches_up(
    home: Path,
    sandbox: RunningShopifySandbox,
    engine: Engine,
    fault: dict[str, Any],
    reason: str,
    read: str,
) -> None:
    settings = _connected(home)
    now = datetime.now(UTC)
    _forget(sandbox, FORGOTTEN, now - timedelta(minutes=5))
    sandbox.add_fault(**fault)  # the cycle's first Admin API call goes through, then the fault
    failed = _only(reconcile_all(engine, settings, now=now, poll_s=0, sleep=CLOCK.sleep))
    assert failed.error is not None and reason in failed.error
    row = last_row(engine, RECONCILE, "nordlys")
    assert row is not None and row.last_failure_at == now and row.last_success_at is None
    _no_secret(row.last_error)
    assert FORGOTTEN not in _stored(engine, "nordlys")

    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=30).raise_for_status()
    later = now + timedelta(minutes=10)
    caught = _only(reconcile_all(engine, settings, now=later, poll_s=0, sleep=CLOCK.sleep))
    assert (caught.error, caught.missed, caught.read) == (None, 1, read)  # nothing lost
    assert _purchases(engine, "nordlys", FORGOTTEN) == 1
    row = last_row(engine, RECONCILE, "nordlys")
    assert row is not None and row.last_success_at == later and _missed_total(engine) == 1


def test_a_throttled_call_slows_a_cycle_and_never_fails_it(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    settings = _connected(home)
    now = datetime.now(UTC)
    _forget(sandbox, FORGOTTEN, now - timedelta(minutes=5))
    sandbox.add_fault(kind="throttle", count=2, after=1)
    done = _only(reconcile_all(engine, settings, now=now, poll_s=0, sleep=CLOCK.sleep))
    assert (done.error, done.missed) == (None, 1)
    assert sandbox.state.counters.get("throttled", 0) >= 2


def test_a_token_that_expires_mid_cycle_is_refreshed_and_the_cycle_finishes(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine, read: str
) -> None:
    settings = _connected(home)
    now = datetime.now(UTC)
    _forget(sandbox, FORGOTTEN, now - timedelta(minutes=5))
    issued = sandbox.state.counters.get("tokens_issued", 0)
    sandbox.add_fault(kind="token_expired", after=1)  # the changes listed, then every token dies
    done = _only(reconcile_all(engine, settings, now=now, poll_s=0, sleep=CLOCK.sleep))
    assert (done.error, done.missed, done.read) == (None, 1, read)
    assert sandbox.state.counters["fault_token_expired"] == 1
    assert sandbox.state.counters["tokens_issued"] == issued + 2  # the cycle's token, then its refresh
    assert _purchases(engine, "nordlys", FORGOTTEN) == 1


def test_a_woocommerce_5xx_cycle_is_recorded_and_the_next_catches_up(home: Path, engine: Engine) -> None:
    with run_woo_sandbox(new_woo_state(WOO_SEED, key=KEY, secret=SECRET)) as woo:
        connected = poas(
            *("connect", "woocommerce", "butikk", "--url", woo.url, "--key", KEY, "--secret", SECRET),
            *("--public-url", "https://poas.example"),
        )
        assert connected.exit_code == 0, connected.output
        assert poas("sync", "butikk", "--costs-only").exit_code == 0
        settings = load_settings(home / "poas.toml")
        settings = settings.model_copy(
            update={"shops": [s.model_copy(update={"pixel_id": "1234567890"}) for s in settings.shops]}
        )
        now = datetime.now(UTC)
        when = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
        body = orjson.loads((WOO_SEED / "orders" / "4711.json").read_bytes())
        body.update(id=4799, number="4799", date_created_gmt=when, date_paid_gmt=when, refunds=[])
        httpx.post(f"{woo.url}/_sandbox/orders?deliver=false", json=body, timeout=30).raise_for_status()
        fault = {"kind": "5xx", "code": 503, "count": 6, "path_prefix": "/wc/v3/orders"}
        httpx.post(f"{woo.url}/_sandbox/faults", json=fault, timeout=30).raise_for_status()
        failed = _only(reconcile_all(engine, settings, now=now, poll_s=0, sleep=no_sleep))
        assert failed.error is not None and "503" in failed.error
        _no_secret(last_row(engine, RECONCILE, "butikk").last_error)  # type: ignore[union-attr]
        throttle = {"kind": "throttle", "retry_after": 1, "count": 2, "path_prefix": "/wc/v3/orders"}
        httpx.post(f"{woo.url}/_sandbox/faults", json=throttle, timeout=30).raise_for_status()
        caught = _only(reconcile_all(engine, settings, now=now + timedelta(minutes=10), sleep=no_sleep))
    assert caught.error is None and caught.missed >= 1  # the 429s were waited out
    assert _purchases(engine, "butikk", "4799") == 1
