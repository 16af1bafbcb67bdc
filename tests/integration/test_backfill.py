"""Backfills: Shopify bulk JSONL and the admin CSV export, through the CLI into the store."""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_webhooks import amounts
from typer.testing import CliRunner

from poas.cli.app import app
from poas.domain.order import Order, RestockType
from poas.sources.shopify_bulk import BulkError, read_bulk
from poas.sources.shopify_csv import CsvError, read_export
from poas.store.orders import load_order

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
cli = importlib.import_module("poas.cli.app")  # the module (poas.cli.app is also the Typer app's name)

CONFIG = """
[[shops]]
id = "nordlys"
platform = "shopify"
currency = "NOK"
prices_include_vat = true
default_margin = 0.5
webhook_secrets = ["shpss_secret_one_0123456789"]
api_token = "api-token-nordlys-0123456789"
"""


def test_bulk_reader_maps_graphql_rows_and_names_bad_lines() -> None:
    items = list(read_bulk((FIXTURES / "bulk_orders.jsonl").open("rb"), "nordlys"))
    orders = [i for i in items if isinstance(i, Order)]
    errors = [i for i in items if isinstance(i, BulkError)]
    assert [o.order_id for o in orders] == ["5830120800456", "5830120801000"]
    order = orders[0]
    assert order.prices_include_vat and order.currency == "NOK"
    assert [ln.line_id for ln in order.lines] == ["13620304560328", "13620304593096"]
    assert order.lines[0].variant_id == "44021137555656"
    assert (order.lines[0].discount, order.lines[0].tax) == (Decimal("200.00"), Decimal("360.00"))
    assert order.shipping_lines[0].tax == Decimal("19.80")
    assert order.attribution.fbc == "fb.1.1763643791000.IwAR2xYz_AbC"
    assert order.attribution.fbclid == "IwAR2xYz_AbC"
    assert order.consent.marketing is True
    (refund,) = order.refunds
    assert refund.lines[0].restock_type is RestockType.RETURN
    assert orders[1].test is True
    (err,) = errors
    assert err.line == 4 and "line_items[0].price" in str(err) and "5830120800999" in str(err)


def test_bulk_reader_reports_orphans_and_junk() -> None:
    data = b'{"id": "gid://shopify/LineItem/1", "__parentId": "gid://shopify/Order/9"}\nnot json\n[1]\n'
    errors = list(read_bulk(io.BytesIO(data), "s"))
    assert [str(e) for e in errors] == [
        "line 1: __parentId: order 9 is not in the recent rows",
        "line 2: not valid JSON",
        "line 3: expected a JSON object",
    ]


def test_csv_export_reader_groups_rows_and_spreads_tax() -> None:
    items = list(read_export((FIXTURES / "orders_export.csv").open("rb"), "nordlys"))
    order, error = items
    assert isinstance(order, Order) and isinstance(error, CsvError)
    assert order.order_id == "5830120800456" and order.name == "#1042"
    assert [(ln.quantity, ln.unit_price, ln.discount, ln.tax) for ln in order.lines] == [
        (2, Decimal("1000.00"), Decimal("200.00"), Decimal("360.00")),
        (1, Decimal("250.00"), Decimal("25.00"), Decimal("45.00")),
    ]
    assert order.shipping_lines[0].tax == Decimal("19.80")
    assert order.customer.zip == "0155"
    (refund,) = order.refunds
    assert (refund.adjustment, refund.adjustment_tax) == (Decimal("900.00"), Decimal("180.00"))
    assert (error.row, error.field) == (4, "Created at")


def test_csv_export_without_required_columns() -> None:
    (err,) = list(read_export(io.BytesIO(b"Name,Email\n#1,a@b\n"), "s"))
    assert str(err) == "row 1, Currency: column is missing from the header"


@pytest.fixture
def runner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    config = tmp_path / "poas.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    cli.settings.cache_clear()
    cli.store.cache_clear()
    yield CliRunner()
    cli.settings.cache_clear()
    cli.store.cache_clear()


@pytest.mark.parametrize("kind", ["shopify-bulk", "shopify-csv"])
def test_backfill_commands_store_orders_with_profit(runner: CliRunner, engine: Engine, kind: str) -> None:
    name = "bulk_orders.jsonl" if kind == "shopify-bulk" else "orders_export.csv"
    result = runner.invoke(app, ["import", kind, str(FIXTURES / name)])
    assert result.exit_code == 1, result.output  # one bad order in each file
    assert "1 orders accepted, 1 rejected" in " ".join(result.output.split())
    a = amounts(engine, "nordlys", "5830120800456")
    assert (a["revenue_ex_vat"], a["vat"]) == (Decimal("1699.20"), Decimal("424.80"))
    assert a["refunded_revenue_ex_vat"] == Decimal("720.00")
    with engine.connect() as conn:
        assert load_order(conn, "nordlys", "5830120801000") is None  # the test order is skipped
    again = runner.invoke(app, ["import", kind, str(FIXTURES / name)])
    assert "0 new, 1 updated" in " ".join(again.output.split())


def test_shops_lists_with_secrets_masked(runner: CliRunner) -> None:
    result = runner.invoke(app, ["shops"])
    assert result.exit_code == 0, result.output
    assert "nordlys" in result.output
    assert "shpss_secret_one_0123456789" not in result.output
    assert "api-token-nordlys-0123456789" not in result.output


def test_inbox_list_and_retry(runner: CliRunner, engine: Engine) -> None:
    from datetime import UTC, datetime

    from poas.services import intake
    from poas.store.inbox import Delivery

    body = (FIXTURES / "order_paid.json").read_bytes()
    now = datetime.now(UTC)
    intake.accept(
        engine,
        Delivery(
            shop_id="ghost", source="shopify", topic="orders/paid", dedup_key="k", body=body, received_at=now
        ),
        now=now,
    )
    result = runner.invoke(app, ["inbox", "retry"])
    assert result.exit_code == 1 and "1 will be retried" in " ".join(result.output.split())
    listed = runner.invoke(app, ["inbox", "list"], env={"COLUMNS": "300"})
    assert "ghost" in listed.output and "not configured" in listed.output and "pending" in listed.output


def test_documented_example_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from poas.settings import load_settings

    example = Path(__file__).parents[2] / "docs" / "poas.example.toml"
    for name in ("nordlys_webhook_secrets", "nordlys_meta_token", "nordlys_meta_app_secret"):
        (tmp_path / name).write_text("old-secret-0123456789\nnew-secret-0123456789\n")
    config = tmp_path / "poas.toml"
    config.write_text(example.read_text().replace("/run/secrets", str(tmp_path)))
    monkeypatch.setenv("POAS_SHOP_KAFFE_WEBHOOK_SECRETS", "woo-a,woo-b")
    shops = {s.id: s for s in load_settings(config).shops}
    assert sorted(shops) == ["egen-butikk", "kaffe", "nordlys"]
    assert [s.get_secret_value() for s in shops["nordlys"].webhook_secrets] == [
        "old-secret-0123456789",
        "new-secret-0123456789",
    ]
    assert len(shops["kaffe"].webhook_secrets) == 2
    assert shops["nordlys"].events.purchase_topic == "paid"
