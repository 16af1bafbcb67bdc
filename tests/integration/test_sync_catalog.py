"""`poas sync` fills the product catalogue (titles, product type / first category) over real HTTP
against the Shopify and WooCommerce sandboxes, on both engines: an order line without a category gets
the synced product type as its category, a category fallback margin prices a line whose variant has
no cost, and history priced with a first-seen cost says so in `poas profit`."""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import Result
from sqlalchemy import Engine, select
from test_shopify_sandbox import FIXTURES, make_seed
from typer.testing import CliRunner

import poas.cli
from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state
from poas.connectors.woocommerce_sandbox import new_woo_state, run_woo_sandbox
from poas.services.shopify_sync import sync_shopify
from poas.services.woocommerce_sync import sync_woocommerce
from poas.settings import ShopConfig, load_settings
from poas.store.tables.catalog import product_catalog
from poas.store.tables.foundation import order_lines

appmod = importlib.import_module("poas.cli.app")
WOO_SEED = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
KEY, SECRET = "ck_catalog_key", "cs_catalog_secret"
SCARF_ORDER = "5830120877001"
MARGIN = Decimal("0.60")


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


def poas(*args: str) -> Result:
    appmod.settings.cache_clear()
    return CliRunner().invoke(appmod.app, list(args), catch_exceptions=False)


def _profit(shop: str, order_id: str) -> dict[str, Any]:
    shown = poas("profit", order_id, "--shop", shop, "--json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)  # type: ignore[no-any-return]


def _line_categories(engine: Engine, shop: str, order_id: str) -> dict[str, str | None]:
    t = order_lines.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.sku, t.category).where(t.shop_id == shop, t.order_id == order_id)).all()
    return {sku: category for sku, category in rows}


def _shop(home: Path, shop_id: str) -> ShopConfig:
    settings = load_settings(home / "poas.toml")
    shop = next(s for s in settings.shops if s.id == shop_id)
    return shop.model_copy(update={"category_margins": {"Skjerf": MARGIN, "Oppbevaring": MARGIN}})


def test_shopify_sync_catalogues_product_types_as_line_categories(
    home: Path, tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_shopify_sandbox(seeded_state(make_seed(tmp_path / "seed"))) as sandbox:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sandbox.url)
        _run_shopify(home, sandbox, engine)


def _run_shopify(home: Path, sandbox: RunningShopifySandbox, engine: Engine) -> None:
    connected = poas(
        *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
        *("--token", "shpat_catalog_token_0123456789", "--public-url", "https://poas.example.no"),
    )
    assert connected.exit_code == 0, connected.output
    # a paid order with a sweater (cost 310.50 in Shopify) and a scarf (no cost in Shopify, product
    # type Skjerf); the webhook body's lines carry no product_type, as Shopify's order webhooks do not
    order = orjson.loads((FIXTURES / "order_paid_not_subscribed.json").read_bytes())
    order["id"] = int(SCARF_ORDER)
    order["name"] = "#1077"
    for li in order["line_items"]:
        li.pop("product_type", None)
    scarf = order["line_items"][1]
    scarf.update(variant_id=44021137599999, sku="SKJERF-RODT", title="Skjerf", variant_title="Rødt")
    httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order, timeout=30).raise_for_status()

    settings = load_settings(home / "poas.toml")
    report = sync_shopify(engine, settings, _shop(home, "nordlys"), now=datetime.now(UTC), poll_s=0.01)
    assert report.catalogued == 3  # every variant, the one without a cost too
    with engine.connect() as conn:
        catalogue = {
            r.item_key: (r.product_title, r.variant_title, r.category)
            for r in conn.execute(select(product_catalog).where(product_catalog.c.shop_id == "nordlys"))
        }
    assert catalogue["44021137599999"] == ("Skjerf", "Rødt", "Skjerf")
    assert catalogue["44021137555656"] == ("Ullgenser", "M / Grå", "Gensere")

    # the stored lines got the synced product type as their category
    assert _line_categories(engine, "nordlys", SCARF_ORDER) == {
        "ULL-GENSER-M-GRA": "Gensere",
        "SKJERF-RODT": "Skjerf",
    }
    doc = _profit("nordlys", SCARF_ORDER)
    lines = {ln["key"]: ln for ln in doc["latest"]["breakdown"]["lines"]}
    scarf_cost = lines["44021137599999"]["cost"]
    assert scarf_cost["source"] == "fallback"
    assert scarf_cost["fallback"] == "category margin Skjerf" and scarf_cost["margin"] == "0.60"
    assert scarf_cost["category_from"] == "shop catalogue (poas sync)"
    revenue = Decimal(str(lines["44021137599999"]["revenue_ex_vat"]).split()[0])
    cogs = Decimal(str(lines["44021137599999"]["cogs"]).split()[0])
    assert revenue > 0 and cogs == (revenue * (1 - MARGIN)).quantize(Decimal("0.01"))
    assert doc["latest"]["profit_known"] is True

    # the sweater was priced with the cost first seen by this sync, and `poas profit` says so
    again = " ".join(poas("sync", "nordlys", "--costs-only").output.split())
    assert "products: 3 variant(s) with titles and product type" in again
    text = " ".join(poas("profit", SCARF_ORDER, "--shop", "nordlys").output.split())
    assert "note: 44021137555656: priced with today's cost as poas sync first saw it" in text
    assert "(310.50 NOK, shopify-first-sync)" in text
    assert "fallback: 44021137599999: no cost; category margin Skjerf 0.60 used" in text


def test_an_order_placed_after_the_first_sync_carries_no_first_seen_note(
    home: Path, tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_shopify_sandbox(seeded_state(make_seed(tmp_path / "seed"))) as sandbox:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sandbox.url)
        connected = poas(
            *("connect", "shopify", "nordlys", "--store", "nordlys.myshopify.com"),
            *("--token", "shpat_catalog_token_0123456789", "--public-url", "https://poas.example.no"),
        )
        assert connected.exit_code == 0, connected.output
        settings = load_settings(home / "poas.toml")
        synced_at = datetime.now(UTC) - timedelta(hours=1)
        sync_shopify(engine, settings, _shop(home, "nordlys"), now=synced_at, poll_s=0.01)
        # an order placed after the costs were seen (the seed's is older: it gets the note)
        later = datetime.now(UTC) - timedelta(minutes=5)
        order = orjson.loads((FIXTURES / "order_paid_not_subscribed.json").read_bytes())
        stamp = later.isoformat(timespec="seconds")
        order.update(
            id=int(SCARF_ORDER), name="#1078", created_at=stamp, processed_at=stamp, updated_at=stamp
        )
        httpx.post(f"{sandbox.url}/_sandbox/orders?deliver=false", json=order, timeout=30).raise_for_status()
        sync_shopify(engine, settings, _shop(home, "nordlys"), now=datetime.now(UTC), poll_s=0.01)
    fresh = _profit("nordlys", SCARF_ORDER)["latest"]["breakdown"]["notes"]
    assert not [n for n in fresh if "first saw it" in n]
    old = _profit("nordlys", "5830120800777")["latest"]["breakdown"]["notes"]
    assert [n for n in old if "first saw it" in n]


def test_woocommerce_sync_catalogues_first_categories_as_line_categories(
    home: Path, tmp_path: Path, engine: Engine
) -> None:
    seed = tmp_path / "woo-seed"
    shutil.copytree(WOO_SEED, seed)
    with (seed / "variants.csv").open("a", encoding="utf-8") as fh:
        fh.write("57,BOKS-01,Kaffeboks,,Oppbevaring,,NOK\n")  # a simple product without a cost
        fh.write("58,,Kaffeskje,,Tilbehør,9.00,NOK\n")  # and one without a SKU: nothing finds it
    body = orjson.loads((WOO_SEED / "orders" / "4711.json").read_bytes())
    body.update(id=4788, number="4788", refunds=[])
    box = body["line_items"][1]
    box.update(product_id=57, variation_id=0, sku="BOKS-01", name="Kaffeboks")
    (seed / "orders" / "4788.json").write_bytes(orjson.dumps(body))
    with run_woo_sandbox(new_woo_state(seed, key=KEY, secret=SECRET)) as woo:
        connected = poas(
            *("connect", "woocommerce", "butikk", "--url", woo.url, "--key", KEY, "--secret", SECRET),
            *("--public-url", "https://poas.example"),
        )
        assert connected.exit_code == 0, connected.output
        report = sync_woocommerce(engine, _shop(home, "butikk"), now=datetime.now(UTC))
        said = " ".join(poas("sync", "butikk", "--costs-only").output.split())
        assert "1 simple product(s) without a SKU" in said and "Kaffeskje (product 58)" in said
    assert report.catalogued == 5 and report.unkeyed == ["Kaffeskje (product 58)"]
    categories = _line_categories(engine, "butikk", "4788")
    assert categories == {"KVERN-01": "Kverner", "BOKS-01": "Oppbevaring", None: "fee"}  # + the fee line
    doc = _profit("butikk", "4788")
    lines = {ln["key"]: ln for ln in doc["latest"]["breakdown"]["lines"]}
    box_cost = lines["BOKS-01"]["cost"] if "BOKS-01" in lines else lines["57"]["cost"]
    assert box_cost.get("fallback") == "category margin Oppbevaring", box_cost
    assert box_cost["category_from"] == "shop catalogue (poas sync)"
    text = " ".join(poas("profit", "4788", "--shop", "butikk").output.split())
    assert "priced with today's cost as poas sync first saw it" in text
    assert "woocommerce-first-sync" in text
