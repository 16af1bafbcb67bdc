"""The lighter Shopify reconciliation over real HTTP against the sandbox, on both engines: changed
orders are listed by cursor pages (`orders(first:, after:, query: "updated_at:>'…'")`, pageInfo) and
only the missed ones read in full (their line items and shipping lines paged, refund lines added), so
an order the shop forgot is stored exactly as its webhook would have stored it; many changes, or many
missed orders, fall back to one bulk operation."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import Result
from sqlalchemy import Engine
from test_shopify_sandbox import FIXTURES, make_seed
from typer.testing import CliRunner

import poas.cli  # registers every command
from poas.connectors import shopify_orders
from poas.connectors.shopify import ShopifyClient
from poas.connectors.shopify_orders import changed_orders
from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state
from poas.services import reconcile
from poas.services.reconcile import reconcile_all
from poas.settings import Settings, load_settings
from poas.sources import shopify
from poas.store.orders import load_orders, stored_form

appmod = importlib.import_module("poas.cli.app")


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
    with run_shopify_sandbox(seeded_state(make_seed(tmp_path / "seed"))) as sb:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sb.url)
        yield sb


def poas(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def _connected(home: Path) -> Settings:
    connected = poas(
        *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
        *("--token", "shpat_pages_0123456789", "--public-url", "https://poas.example.no"),
    )
    assert connected.exit_code == 0, connected.output
    assert poas("sync", "nordlys", "--costs-only").exit_code == 0
    return load_settings(home / "poas.toml")


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _big_order(order_id: int, when: datetime) -> dict[str, Any]:
    """A refunded order with 31 line items and 12 shipping lines: more than one page of each."""
    order = orjson.loads((FIXTURES / "order_updated_refunded.json").read_bytes())
    order.update(id=order_id, name=f"#{order_id % 10000}")
    order.update(created_at=_stamp(when), processed_at=_stamp(when), updated_at=_stamp(when))
    template = order["line_items"][1]
    for n in range(29):
        extra = copy.deepcopy(template)
        extra["id"] = 77000000 + n
        order["line_items"].append(extra)
    shipping = order["shipping_lines"][0]
    for n in range(11):
        extra = copy.deepcopy(shipping)
        extra["id"] = 66000000 + n
        order["shipping_lines"].append(extra)
    for refund in order["refunds"]:
        refund["order_id"] = order_id
        refund["processed_at"] = refund["created_at"] = _stamp(when + timedelta(minutes=1))
    return order


def test_a_forgotten_order_is_read_alone_and_stored_as_its_webhook_would(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine
) -> None:
    settings = _connected(home)
    now = datetime.now(UTC)
    order = _big_order(5830120812345, now - timedelta(minutes=5))
    httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order, timeout=30).raise_for_status()
    done = reconcile_all(engine, settings, now=now, poll_s=0).shops[0]
    assert (done.error, done.read, done.checked, done.missed) == (None, "pages", 1, 1)
    assert not sandbox.state.bulks  # no bulk operation was needed
    want = stored_form(shopify.parse_order(order, "nordlys"))
    with engine.connect() as conn:
        got = load_orders(conn, "nordlys", [want.order_id])[want.order_id]
    # as from a bulk row: no product type, weight or user agent (the catalogue's type prices the line)
    lines = tuple(replace(ln, category=None, grams=0) for ln in want.lines)
    assert len(got.lines) == 31 and len(got.shipping_lines) == len(want.shipping_lines) == 12
    assert got == replace(want, lines=lines, attribution=replace(want.attribution, user_agent=None))
    assert got.refunds and got.refunds[0].lines  # the refund's lines came by nodes(ids:)


def test_changed_orders_are_listed_by_cursor_pages(
    home: Path, sandbox: RunningShopifySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    for n in range(5):
        order = _big_order(5830120820000 + n, now - timedelta(minutes=10 - n))
        httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order, timeout=30).raise_for_status()
    monkeypatch.setattr(shopify_orders, "LIST_PAGE", 2)
    with ShopifyClient("nordlys.myshopify.com", token="shpat_x", base_url=sandbox.url) as client:
        listed = changed_orders(client, now - timedelta(minutes=8), limit=100)  # strictly after
        assert [gid.rsplit("/", 1)[-1] for gid, _, _ in listed or []] == [
            str(5830120820000 + n) for n in (3, 4)
        ]
        every = changed_orders(client, now - timedelta(days=365), limit=100)
        assert every is not None and len(every) == 7  # the seed's two and the five, in three pages
        assert [w for _, w, _ in every] == sorted(w for _, w, _ in every)  # oldest change first
        assert changed_orders(client, now - timedelta(days=365), limit=3) is None  # too many: bulk


@pytest.mark.parametrize("limit", ["LIST_MAX", "FETCH_MAX"])
def test_many_changes_or_many_missed_orders_use_a_bulk_operation(
    home: Path, sandbox: RunningShopifySandbox, engine: Engine, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    settings = _connected(home)
    now = datetime.now(UTC)
    for n in range(3):
        order = _big_order(5830120830000 + n, now - timedelta(minutes=5 - n))
        httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order, timeout=30).raise_for_status()
    monkeypatch.setattr(reconcile, limit, 2)
    done = reconcile_all(engine, settings, now=now, poll_s=0).shops[0]
    assert (done.error, done.read, done.checked, done.missed) == (None, "bulk", 3, 3)
    assert len(sandbox.state.bulks) == 1
