"""CM1–CM3, fixed costs, net profit, break-evens and new vs returning in the report, to the øre
(hand-computed below), on both engines."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from poas.cli import app as cli_app
from poas.cli.app import settings, store
from poas.domain.costs import CostRow
from poas.domain.order import Attribution, Customer, Order, OrderLine, ShippingLine
from poas.domain.report_rows import SpendRow
from poas.services.fixed_costs import fixed_costs_between, set_fixed_cost
from poas.services.ingest import ingest_order
from poas.services.report import build_report, report_json
from poas.services.spend import upsert_spend
from poas.settings import MissingCostPolicy, ShopConfig
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.store.rules import save_rules

runner = CliRunner()
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
D1, D2 = date(2026, 3, 2), date(2026, 3, 3)
SHOP = ShopConfig(id="s1", currency="NOK", missing_cost=MissingCostPolicy.SKIP, timezone="Europe/Oslo")
RULES = """
currency = "NOK"
[[payment_fees]]
id = "vipps"
percent = 2.5
fixed = 0
[[shipping]]
id = "bring"
cost = 50
[[handling]]
id = "pick"
per = "order"
cost = 10
[returns]
rate = 0.1
handling_cost = 50
restock_share = 1
"""
FB = Attribution(utm_source="facebook", utm_medium="paid", utm_campaign="c1")


def order(order_id: str, day: date, customer: Customer, attribution: Attribution = FB) -> Order:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return Order(
        shop_id="s1",
        order_id=order_id,
        created_at=at,
        updated_at=at,
        currency="NOK",
        gateway="vipps",
        lines=(
            OrderLine("l1", 1, Decimal("500.00"), sku="TEE", tax=Decimal("100.00"), tax_rate=Decimal("0.25")),
        ),
        shipping_lines=(ShippingLine(Decimal("0.00"), method="bring", title="Free shipping"),),
        customer=customer,
        attribution=attribution,
    )


def seed(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(
            conn, "s1", [CostRow.of("TEE", "150", "NOK", NOW - timedelta(days=60), source="csv")], now=NOW
        )
        save_rules(conn, "s1", RULES, source="test", now=NOW)
        spend = [
            SpendRow(
                "act_1", D1, "NOK", Decimal("300.00"), campaign_id="c1", campaign_name="Spring", ad_id="a1"
            ),
            SpendRow(
                "act_1", D2, "NOK", Decimal("200.00"), campaign_id="c1", campaign_name="Spring", ad_id="a1"
            ),
        ]
        upsert_spend(conn, "s1", spend, source="csv", now=NOW)
    anne, bo = Customer(email="anne@example.com"), Customer(phone="+4791234567", country="NO")
    for o in (
        order("o1", D1, anne),
        order("o2", D2, anne),
        order("o3", D2, bo),
        order("g1", D2, Customer(), Attribution()),  # a guest without contact data, unattributed
    ):
        with engine.begin() as conn:
            ingest_order(conn, o, SHOP, now=NOW, trigger_purchase=False)
    set_fixed_cost(engine, SHOP, name="Shopify", monthly=Decimal("300"), valid_from=date(2026, 3, 1), now=NOW)
    set_fixed_cost(engine, SHOP, name="rent", monthly=Decimal("3100"), valid_from=date(2026, 3, 1), now=NOW)
    set_fixed_cost(engine, SHOP, name="rent", monthly=Decimal("0"), valid_from=date(2026, 4, 1), now=NOW)


def test_contribution_margins_and_new_vs_returning_to_the_ore(engine: Engine) -> None:
    seed(engine)
    doc = report_json(build_report(engine, SHOP, by="campaign", now=NOW, date_from=D1, date_to=D2))
    t = doc["total"]
    # per order: revenue 500 / 1.25 = 400; cogs 150; shipping 50; fee 2.5 % of 500 = 12.50; handling 10;
    # expected returns 0.1 × (400 − 150 × 1 + 50) = 30 → CM2 147.50; four orders
    assert (t["revenue"], t["cm1"], t["cm2"]) == (1600.0, 1000.0, 590.0)
    assert t["cm3"] == 90.0  # 590 − 500 spend
    # fixed: 300/31 + 3100/31 a day in March, two days = 6800/31 = 219.354… → 219.35
    assert t["fixed_costs"] == 219.35 and t["net_profit"] == -129.35
    assert t["break_even_roas_cm3"] == 2.7119  # 1600 / 590
    assert t["break_even_revenue_net"] == 1950.78  # (500 + 219.35) / (590 / 1600)
    assert t["break_even_roas_net"] == 3.9016
    assert (t["new_orders"], t["returning_orders"], t["unknown_customer_orders"]) == (2, 1, 1)
    assert (t["new_revenue"], t["new_expected_profit"]) == (800.0, 295.0)
    assert (t["returning_revenue"], t["returning_expected_profit"]) == (400.0, 147.5)
    assert t["new_customer_cac"] == 250.0 and t["first_order_poas"] == 0.59
    rows = {r["campaign_id"]: r for r in doc["rows"]}
    c1 = rows["c1"]
    assert (c1["revenue"], c1["cm2"], c1["cm3"]) == (1200.0, 442.5, -57.5)
    # the period's fixed costs shared by revenue: 21935 øre × 1200/1600 = 16451.25 → 16451 + the remainder
    assert c1["fixed_costs"] == 164.52 and c1["net_profit"] == -222.02
    others = [r for k, r in rows.items() if k != "c1"]
    assert sum(r["fixed_costs"] for r in others) == 54.83
    assert (c1["new_orders"], c1["returning_orders"], c1["new_customer_cac"], c1["first_order_poas"]) == (
        2,
        1,
        250.0,
        0.59,
    )

    channels = report_json(build_report(engine, SHOP, by="channel", now=NOW, date_from=D1, date_to=D2))
    meta = next(r for r in channels["rows"] if r["channel_id"] == "meta")
    assert (meta["cm2"], meta["cm3"], meta["new_orders"], meta["first_order_poas"]) == (442.5, -57.5, 2, 0.59)
    assert channels["total"]["net_profit"] == -129.35

    days = report_json(build_report(engine, SHOP, by="day", now=NOW, date_from=D1, date_to=D2))
    by_day = {r["day"]: r for r in days["rows"]}
    assert by_day["2026-03-02"]["fixed_costs"] == 109.68 and by_day["2026-03-02"]["new_orders"] == 1
    assert by_day["2026-03-03"]["cm3"] == 242.5  # 3 × 147.50 − 200
    # a whole month is exactly the monthly amounts; the rent ends with April
    assert fixed_costs_between(engine, SHOP, date(2026, 3, 1), date(2026, 3, 31)) == Decimal("3400.00")
    assert fixed_costs_between(engine, SHOP, date(2026, 4, 1), date(2026, 4, 30)) == Decimal("300.00")


def test_fixed_costs_cli_and_report_table(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "poas.toml"
    config.write_text('[[shops]]\nid = "demo"\ncurrency = "NOK"\n')
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    settings.cache_clear()
    store.cache_clear()
    try:
        ok = runner.invoke(cli_app, ["costs", "fixed", "set", "rent", "3100", "--from", "2026-03-01"])
        assert ok.exit_code == 0, ok.output
        runner.invoke(
            cli_app,
            ["costs", "fixed", "set", "Shopify", "300,00", "--from", "2026-03-01", "--category", "apps"],
        )
        bad = runner.invoke(cli_app, ["costs", "fixed", "set", "rent", "12.345", "--from", "2026-03-01"])
        assert bad.exit_code == 1 and "more decimals than NOK" in bad.output
        total = runner.invoke(
            cli_app, ["costs", "fixed", "total", "--from", "2026-03-01", "--to", "2026-03-31"]
        )
        assert "3400.00 NOK" in total.output, total.output
        listed = json.loads(runner.invoke(cli_app, ["costs", "fixed", "list", "--format", "json"]).output)
        assert [(r["name"], r["monthly"]) for r in listed] == [("Shopify", "300.00"), ("rent", "3100.00")]
        doc = json.loads(
            runner.invoke(
                cli_app,
                ["report", "--by", "day", "--from", "2026-03-01", "--to", "2026-03-10", "--format", "json"],
            ).output
        )
        assert doc["total"]["fixed_costs"] == 1096.77  # 10 × 3400/31 = 1096.774…
        assert doc["total"]["net_profit"] == -1096.77  # no orders, no spend
        table = runner.invoke(cli_app, ["report", "--from", "2026-03-01", "--to", "2026-03-10"])
        assert table.exit_code == 0 and "contribution margins" in table.output
    finally:
        store().dispose()
        settings.cache_clear()
        store.cache_clear()


def test_api_fixed_costs_and_report_lines(engine: Engine) -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from poas.settings import Settings
    from poas.web.app import create_app

    seed(engine)
    settings = Settings(
        session_secret=SecretStr("s" * 32),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[SHOP.model_copy(update={"api_token": SecretStr("token-for-shop-s1")})],
    )
    auth = {"Authorization": "Bearer token-for-shop-s1"}
    with TestClient(create_app(settings, engine)) as client:
        entry = {"name": "agency", "monthly": "3100", "valid_from": "2026-03-01", "category": "salaries"}
        posted = client.post("/api/v1/costs/fixed", json=entry, headers=auth)
        assert posted.status_code == 200, posted.text
        assert [e["name"] for e in posted.json()["entries"]] == ["Shopify", "agency", "rent", "rent"]
        bad = client.post("/api/v1/costs/fixed", json={**entry, "monthly": "-1"}, headers=auth)
        assert bad.status_code == 422
        body = client.get("/api/v1/report?by=campaign&from=2026-03-02&to=2026-03-03", headers=auth).json()
        kinds = {
            o: client.get(f"/api/v1/orders/s1/{o}", headers=auth).json()["customer_type"]
            for o in ("o1", "o2", "g1")
        }
        assert kinds == {"o1": "new", "o2": "returning", "g1": "unknown"}
    t = body["total"]
    # (300 + 3100 + 3100) / 31 × 2 days = 419.354… → 419.35; CM3 90 − 419.35
    assert (t["cm1"], t["cm2"], t["cm3"]) == ("1000.00", "590.00", "90.00")
    assert (t["fixed_costs"], t["net_profit"]) == ("419.35", "-329.35")
    assert (t["new_orders"], t["returning_orders"], t["unknown_customer_orders"]) == (2, 1, 1)
    assert (t["new_profit"], t["returning_profit"]) == ("295.00", "147.50")
    assert (t["new_customer_cac"], t["first_order_poas"]) == ("250.00", "0.5900")


def test_dashboard_shows_margins_and_customers(engine: Engine) -> None:
    import re

    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from poas.settings import Settings
    from poas.web.app import create_app
    from poas.web.auth import hash_password

    seed(engine)
    password = "correct horse battery staple"
    settings = Settings(
        session_secret=SecretStr("s" * 32),
        admin_password_hash=SecretStr(hash_password(password)),
        shops=[SHOP],
    )
    with TestClient(create_app(settings, engine)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"password": password, "csrf_token": token.group(1), "next": "/"})
        html = client.get("/campaigns", params={"from": str(D1), "to": str(D2), "lang": "en"}).text
    table = html[html.index('id="margins"') :]
    total = table[table.index('class="total"') :]

    def cell(col: str, part: str = total) -> str:
        found = re.search(rf'data-col="{col}">([^<]*)<', part)
        assert found, col
        return found.group(1).replace("\xa0", " ").replace("\u202f", " ")

    assert "590" in cell("cm2") and "90" in cell("cm3") and "219" in cell("fixed_costs")
    assert "129" in cell("net_profit") and cell("new_orders") == "2" and cell("returning_orders") == "1"
    assert "250" in cell("new_customer_cac")


def test_costs_page_fixed_cost_form(engine: Engine) -> None:
    import re

    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from poas.settings import Settings
    from poas.web.app import create_app
    from poas.web.auth import hash_password

    password = "correct horse battery staple"
    settings = Settings(
        session_secret=SecretStr("s" * 32),
        admin_password_hash=SecretStr(hash_password(password)),
        shops=[SHOP],
    )
    with TestClient(create_app(settings, engine)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"password": password, "csrf_token": token.group(1), "next": "/"})
        page = client.get("/costs").text
        csrf = re.search(
            r'id="fixed-cost-form">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page
        )
        assert csrf
        form = {"csrf_token": csrf.group(1), "shop": "s1", "name": "Klaviyo", "valid_from": "2026-03-01"}
        bad = client.post("/costs/fixed", data={**form, "monthly": "ti kroner"}, follow_redirects=True)
        assert "is not a number" in bad.text and 'id="fixed-cost-table"' not in bad.text
        ok = client.post(
            "/costs/fixed", data={**form, "monthly": "450,50", "category": "apps"}, follow_redirects=True
        )
        table = ok.text[ok.text.index('id="fixed-cost-table"') :]
        assert "Klaviyo" in table and "2026-03-01" in table and "450" in table
    assert fixed_costs_between(engine, SHOP, date(2026, 3, 1), date(2026, 3, 31)) == Decimal("450.50")
