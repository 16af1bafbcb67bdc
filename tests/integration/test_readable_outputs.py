"""What was told to Meta, readable: `poas profit`, the order API, `poas outbox list` and `poas inbox list`
on a real Shopify order and refund, delivered to the Meta sandbox, in an 80-column terminal."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from test_webhooks import fixture_json
from typer.testing import CliRunner

from poas.cli.app import app
from poas.meta.capi import CapiClient
from poas.meta.sandbox import run_sandbox
from poas.services import intake
from poas.services.deliver import DeliveryConfig, Dispatcher, settings_credentials
from poas.services.returns import finalize_due
from poas.settings import ConsentPolicy, EventSettings, Settings, ShopConfig
from poas.store.inbox import Delivery
from poas.store.tables.delivery import outbox
from poas.web.app import create_app

cli = importlib.import_module("poas.cli.app")  # the module (poas.cli.app is also the Typer app's name)
ORDER = "5830120800456"
REFUND = "1020304050"
ADMIN = "admin-token-0123456789abcdef"
TOKEN = "EAAsandboxtoken0123456789"
CONFIG = f"""
[[shops]]
id = "nordlys"
platform = "shopify"
currency = "NOK"
default_margin = 0.5
pixel_id = "1234567890123456"
access_token = "{TOKEN}"
consent_policy = "always"
[shops.events]
finalize_on_refund = true
"""
FAST = DeliveryConfig(retry_base_s=0.01, retry_cap_s=0.05, idle_poll_s=0.02)
NOW = datetime.now(UTC).replace(microsecond=0)


def shop() -> ShopConfig:
    return ShopConfig(
        id="nordlys",
        platform="shopify",
        currency="NOK",
        default_margin="0.5",
        pixel_id="1234567890123456",
        access_token=SecretStr(TOKEN),
        consent_policy="always",
        events=EventSettings(finalize_on_refund=True),
    )


def _recent(body: dict[str, Any], at: datetime, keys: tuple[str, ...]) -> bytes:
    """The documented example moved to `at` (Meta takes events of the last 7 days only)."""
    for key in keys:
        body[key] = at.isoformat()
    return json.dumps(body).encode()


def paid_order() -> bytes:
    body = fixture_json("shopify/order_paid.json")
    body["buyer_accepts_marketing"] = False  # not subscribed to e-mail marketing
    body["customer"]["email_marketing_consent"] = {"state": "not_subscribed", "opt_in_level": None}
    return _recent(body, NOW - timedelta(hours=3), ("created_at", "processed_at", "updated_at"))


def refund() -> bytes:
    body = fixture_json("shopify/refund_create.json")
    return _recent(body, NOW - timedelta(hours=1), ("created_at", "processed_at"))


def deliver(engine: Engine, body: bytes, topic: str, key: str, shop_id: str = "nordlys") -> None:
    d = Delivery(shop_id=shop_id, source="shopify", topic=topic, dedup_key=key, body=body, received_at=NOW)
    intake.accept(engine, d, now=NOW)


async def send(engine: Engine, url: str) -> None:
    client = CapiClient(url, "v25.0", timeout_s=2.0)
    await Dispatcher(engine, client, settings_credentials([shop()]), config=FAST).drain(wait_for_retries=True)
    await client.aclose()


@pytest.fixture
def runner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    config = tmp_path / "poas.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")
    cli.settings.cache_clear()
    cli.store.cache_clear()
    yield CliRunner()
    if cli.store.cache_info().currsize:
        cli.store().dispose()
    cli.settings.cache_clear()
    cli.store.cache_clear()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def assert_fits(output: str, width: int = 80) -> list[str]:
    lines = output.splitlines()
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, f"lines wider than {width} columns: {too_wide}"
    return lines


def rows_of(lines: list[str], header: str) -> list[str]:
    """The lines of a narrow table under the header line that starts with `header`."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [header])
    assert set(lines[start + 1].strip()) == {"─"}, "a rule under the header"
    out = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        out.append(line)
    return out


def append_event_id(engine: Engine) -> str:
    with engine.connect() as conn:
        found = conn.execute(
            select(outbox.c.event_id).where(outbox.c.event_name == "AppendValue")
        ).scalar_one()
    return str(found)


async def test_profit_and_order_api_show_realized_revenue_and_what_meta_was_told(
    runner: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    deliver(engine, paid_order(), "orders/paid", "e1")
    intake.process_pending(engine, NOW, settings=Settings(home=tmp_path, shops=[shop()]))
    with run_sandbox() as sb:
        await send(engine, sb.url)  # the Purchase is sent
        deliver(engine, refund(), "refunds/create", "e2")
        intake.process_pending(engine, NOW, settings=Settings(home=tmp_path, shops=[shop()]))
        assert finalize_due(engine, shop(), now=NOW).queued == 1  # AppendValue queued, not sent yet

        doc = json.loads(run(runner, "profit", ORDER, "--json"))
        # The fixture: 1699.20 NOK ex VAT ordered; the refund takes back 720.00 ex VAT.
        assert doc["revenue"] == {
            "currency": "NOK",
            "revenue_ex_vat": "1699.20",
            "refunded_revenue_ex_vat": "720.00",
            "cancelled_revenue_ex_vat": "0.00",
            "realized_revenue_ex_vat": "979.20",
        }
        told = [
            (t["event_name"], t["state"], t["value"], t["net_revenue"], t["currency"])
            for t in doc["sent_to_meta"]
        ]
        realized = doc["latest"]["realized_profit"]
        # value = the order total the Pixel sends (2124.00 incl. VAT), net_revenue = expected profit.
        assert told == [
            ("Purchase", "sent", "2124.00", "889.20", "NOK"),
            ("AppendValue", "queued", None, realized, "NOK"),
        ]
        purchase, append = doc["sent_to_meta"]
        assert purchase["sent_at"] is not None and append["sent_at"] is None
        assert doc["last_sent_to_meta"]["event_name"] == "AppendValue"

        # The order API reads the same read model.
        settings = Settings(home=tmp_path, shops=[shop()], admin_api_token=SecretStr(ADMIN))
        with TestClient(create_app(settings, engine)) as client:
            r = client.get(f"/api/v1/orders/nordlys/{ORDER}", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, r.text
        detail = r.json()
        assert detail["revenue"] == doc["revenue"]
        assert [
            (t["event_name"], t["state"], t["value"], t["net_revenue"]) for t in detail["sent_to_meta"]
        ] == [(a, b, c, d) for a, b, c, d, _ in told]
        assert detail["last_sent_to_meta"]["state"] == "queued"

        # Meta refuses the AppendValue for good: it is dead, and says so.
        sb.add_fault(kind="invalid_event", event_ids=[append_event_id(engine)])
        await send(engine, sb.url)

    table = run(runner, "profit", ORDER)
    lines = assert_fits(table)
    assert "revenue ex VAT 1699.20; refunded 720.00; cancelled 0.00; realized 979.20 NOK" in table
    rows = [line for line in lines if "Purchase" in line or "AppendValue" in line]
    purchase_row = next(line for line in rows if "Purchase" in line and "sent" in line)
    assert "2124.00" in purchase_row and "889.20" in purchase_row and "NOK" in purchase_row
    append_row = next(line for line in rows if "AppendValue" in line and "dead" in line)
    assert realized in append_row
    assert f"{NOW:%Y-%m-%d}" in purchase_row or f"{NOW - timedelta(days=1):%Y-%m-%d}" in purchase_row


async def test_outbox_list_shows_each_events_values_in_80_columns(
    runner: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    deliver(engine, paid_order(), "orders/paid", "e1")
    intake.process_pending(engine, NOW, settings=Settings(home=tmp_path, shops=[shop()]))
    with run_sandbox() as sb:
        sb.add_fault(kind="invalid_event", event_ids=[ORDER])
        await send(engine, sb.url)
    out = run(runner, "outbox", "list")
    lines = assert_fits(out)
    header = next(line for line in lines if line.split()[:1] == ["id"])
    for column in ("order", "event", "state", "value", "net_revenue", "cur", "created"):
        assert column in header.split()
    (row,) = rows_of(lines, "id")
    assert row.split()[1:7] == [ORDER, "Purchase", "dead", "2124.00", "889.20", "NOK"]
    assert any(line.startswith("  #1 pixel 1234567890123456, event_id " + ORDER) for line in lines)
    wide = runner.invoke(app, ["outbox", "list", "--wide"], env={"COLUMNS": "250"}).output
    assert "last error" in wide and "1234567890123456" in wide and "net_revenue" in wide


def test_inbox_list_is_readable_in_80_columns(runner: CliRunner, engine: Engine, tmp_path: Path) -> None:
    deliver(engine, paid_order(), "orders/paid", "e1")
    deliver(engine, refund(), "refunds/create", "e2")
    deliver(engine, paid_order(), "orders/paid", "e3", shop_id="a-shop-nobody-configured-here")
    intake.process_pending(engine, NOW, settings=Settings(home=tmp_path, shops=[shop()]))
    out = run(runner, "inbox", "list", "--status", "all")
    lines = assert_fits(out)
    header = next(line for line in lines if line.split()[:1] == ["id"])
    assert header.split() == ["id", "shop", "topic", "order", "status", "tries", "received"]
    rows = rows_of(lines, "id")
    assert len(rows) == 3, "one line per delivery"
    by_id = {row.split()[0]: row.split() for row in rows}
    assert by_id["1"][1:6] == ["nordlys", "orders/paid", ORDER, "done", "0"]
    assert by_id["2"][1:6] == ["nordlys", "refunds/create", ORDER, "done", "0"]
    assert by_id["3"][1].endswith("…") and by_id["3"][4] == "pending"
    text = " ".join(out.split())
    assert "#3 next try" in text and "'a-shop-nobody-configured-here' is not configured" in text
    assert f"#1 order stored; profit snapshot v1; Purchase queued (event_id {ORDER})" in text
    wide = runner.invoke(app, ["inbox", "list", "--status", "all", "--wide"], env={"COLUMNS": "250"}).output
    wide_header = next(line for line in wide.splitlines() if "next try" in line)
    assert "source" in wide_header and "note" in wide_header
    assert "a-shop-nobody-configured-here" in wide


def test_profit_says_why_no_purchase_was_queued(runner: CliRunner, engine: Engine, tmp_path: Path) -> None:
    body = json.loads(paid_order())
    body["note_attributes"] = [{"name": "_consent_ads", "value": "denied"}]  # the banner said no
    deliver(engine, json.dumps(body).encode(), "orders/paid", "t1")
    asks = shop().model_copy(update={"consent_policy": ConsentPolicy.ALLOW_UNLESS_DENIED})
    intake.process_pending(engine, NOW, settings=Settings(home=tmp_path, shops=[asks]))
    out = " ".join(run(runner, "profit", ORDER).split())
    assert "no events queued for this order" in out
    assert "orders/paid (done): order stored; profit snapshot v1; no purchase queued: no ads consent" in out
    doc = json.loads(run(runner, "profit", ORDER, "--json"))
    [only] = doc["deliveries"]
    assert only["topic"] == "orders/paid" and "consent signal says denied" in only["outcome"]
    assert doc["sent_to_meta"] == [] and doc["last_sent_to_meta"] is None
