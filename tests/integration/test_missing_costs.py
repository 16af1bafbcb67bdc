"""Missing costs are never 0 anywhere (issue #14, item 2): unknown profit is counted apart.

A shop on the defaults (missing_cost = "fallback_margin", no default_margin) gets Shopify orders
(the REST order example, customer not subscribed to e-mail marketing) for SKUs without a cost. No
report row, export, API response or dashboard figure may show their profit as revenue; each shows
the orders without cost and their revenue beside. A shop with a default margin still counts the
same orders as (fallback) profit. Both engines.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from typer.testing import CliRunner

from poas.cli import app as cli_app
from poas.cli.app import settings as cli_settings
from poas.cli.app import store as cli_store
from poas.domain.advice import advise, campaign_figures
from poas.domain.costs import CostRow
from poas.domain.report_rows import SpendRow
from poas.services.doctor import Level, run_checks
from poas.services.export import iter_export, write_export
from poas.services.ingest import ingest_order
from poas.services.missing_costs import missing_costs, unknown_profit
from poas.services.report import build_report, report_csv, report_json
from poas.services.spend import upsert_spend
from poas.settings import Settings, ShopConfig
from poas.sources.shopify import parse_order
from poas.store.costs import import_costs
from poas.store.orders import ensure_shop
from poas.web.app import create_app
from poas.web.auth import hash_password

FIXTURE = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_paid_not_subscribed.json"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DAY = date(2026, 11, 20)
C1, C2 = "120210000000000001", "120210000000000009"  # C1 is the fixture's utm_campaign
IDS = {C1: ("120210000000000002", "120210000000000003"), C2: ("120210000000000008", "120210000000000007")}
SWEATER, HAT = "44021137555656", "44021137588424"  # the fixture's variant ids (the cost book keys)
PASSWORD = "correct horse battery staple"
ADMIN = {"Authorization": "Bearer admin-token-123456"}
NOCOST = ShopConfig(id="nocost", currency="NOK", timezone="Europe/Oslo")
FALLBACK = ShopConfig(id="fallback", currency="NOK", timezone="Europe/Oslo", default_margin=Decimal("0.4"))


def _payload(order_id: int, minute: int, variants: set[str], campaign: str = C1) -> dict[str, Any]:
    """The Shopify order example with another id and time, only the lines of `variants`."""
    data = copy.deepcopy(json.loads(FIXTURE.read_text()))
    data["id"] = order_id
    data["name"] = f"#{order_id}"
    data["order_number"] = order_id
    stamp = f"2026-11-20T14:{minute:02d}:11+01:00"
    data["created_at"] = data["processed_at"] = data["updated_at"] = stamp
    data["line_items"] = [li for li in data["line_items"] if str(li["variant_id"]) in variants]
    if campaign != C1:
        ids = {C1: campaign, IDS[C1][0]: IDS[campaign][0], IDS[C1][1]: IDS[campaign][1]}
        for old, new in ids.items():
            data["landing_site"] = data["landing_site"].replace(old, new)
    return data


# 1001: sweater only (costed) -> known profit; 1002: sweater + hat (hat has no cost) -> unknown;
# 1003: hat only, campaign C2 -> unknown (C2 has no order with a known profit).
ORDERS = [(1001, 5, {SWEATER}, C1), (1002, 10, {SWEATER, HAT}, C1), (1003, 20, {HAT}, C2)]


def _spend(campaign: str, name: str) -> SpendRow:
    return SpendRow(
        account_id="777",
        day=DAY,
        currency="NOK",
        spend=Decimal("500.00"),
        campaign_id=campaign,
        campaign_name=name,
        adset_id=IDS[campaign][0],
        ad_id=IDS[campaign][1],
    )


def _load(engine: Engine, shop: ShopConfig) -> dict[int, Any]:
    """Ingest the three orders for `shop`; returns the parsed orders by id."""
    parsed = {}
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, "NOK", True, NOW)
        import_costs(
            conn, shop.id, [CostRow.of(SWEATER, "300", "NOK", datetime(2026, 1, 1, tzinfo=UTC))], now=NOW
        )
        for oid, minute, variants, campaign in ORDERS:
            order = parse_order(_payload(oid, minute, variants, campaign), shop.id)
            parsed[oid] = order
            ingest_order(conn, order, shop, now=NOW, trigger_purchase=False)
        upsert_spend(conn, shop.id, [_spend(C1, "Ullgenser"), _spend(C2, "Lue")], source="test", now=NOW)
    return parsed


def _revenue(order: Any) -> Decimal:
    """Revenue ex VAT of a parsed order (lines minus VAT, plus shipping ex VAT), as the engine counts it."""
    from poas.domain.costs import CostBook
    from poas.domain.profit import ProfitPolicy, compute_profit
    from poas.domain.rules import CostRules

    return compute_profit(
        order, costs=CostBook([]), rules=CostRules(), policy=ProfitPolicy()
    ).revenue_ex_vat.amount


def _shipping_revenue(order: Any) -> Decimal:
    from poas.domain.costs import CostBook
    from poas.domain.profit import ProfitPolicy, compute_profit
    from poas.domain.rules import CostRules

    result = compute_profit(order, costs=CostBook([]), rules=CostRules(), policy=ProfitPolicy())
    return result.shipping_revenue.amount


@pytest.fixture
def loaded(engine: Engine) -> dict[int, Any]:
    return _load(engine, NOCOST)


def test_report_rows_leave_unknown_profit_out_and_count_it_beside(
    engine: Engine, loaded: dict[int, Any]
) -> None:
    rev = {oid: _revenue(o) for oid, o in loaded.items()}
    report = build_report(engine, NOCOST, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    rows = {r.key: r for r in report.rows}
    c1, c2 = rows[C1], rows[C2]
    # C1: both orders in revenue and ROAS, only 1001's profit in profit / POAS / margin.
    assert c1.figures.orders == 2 and c1.figures.orders_without_cost == 1
    assert c1.figures.revenue == rev[1001] + rev[1002]
    assert c1.figures.revenue_without_cost == rev[1002]
    assert c1.roas == (rev[1001] + rev[1002]) / Decimal("500.00")
    sweater_profit = rev[1001] - Decimal("600.00")  # 2 sweaters at 300 kr; no other cost rules
    assert c1.figures.gross_profit == sweater_profit
    assert c1.poas == sweater_profit / Decimal("500.00")
    assert c1.margin == sweater_profit / rev[1001]  # margin on the priced revenue only
    # C2: every order lacks a cost -> no profit, POAS or margin at all (not 0, not revenue).
    assert c2.figures.orders == c2.figures.orders_without_cost == 1
    assert c2.figures.revenue == c2.figures.revenue_without_cost == rev[1003]
    assert (c2.poas, c2.poas_expected, c2.margin, c2.break_even_roas) == (None, None, None, None)
    assert c2.roas == rev[1003] / Decimal("500.00") and not c2.revenue_trap
    t = report.total
    assert (t.figures.orders, t.figures.orders_without_cost) == (3, 2)
    assert t.figures.gross_profit == sweater_profit and t.margin != 1
    assert any("2 of 3 orders" in n and "poas costs missing" in n for n in report.notes)

    doc = report_json(report)
    by_id = {r["campaign_id"]: r for r in doc["rows"]}
    for row in [*doc["rows"], doc["total"]]:
        assert row["profit"] is None or row["profit"] != row["revenue"]
        assert row["margin"] != 1.0 and row["break_even_roas"] != 1.0
    assert by_id[C2]["profit"] is None and by_id[C2]["expected_profit"] is None and by_id[C2]["poas"] is None
    assert by_id[C2]["orders_without_cost"] == 1 and by_id[C2]["revenue_without_cost"] == float(rev[1003])
    assert by_id[C1]["orders_without_cost"] == 1 and by_id[C1]["profit"] == float(sweater_profit)
    assert doc["total"]["orders_without_cost"] == 2
    assert doc["total"]["revenue_without_cost"] == float(rev[1002] + rev[1003])

    table = list(csv.DictReader(io.StringIO(report_csv(report))))
    c2_csv = next(r for r in table if r["campaign_id"] == C2)
    assert c2_csv["profit"] == "" and c2_csv["poas"] == "" and c2_csv["orders_without_cost"] == "1"


def test_every_level_and_day_counts_orders_without_cost(engine: Engine, loaded: dict[int, Any]) -> None:
    rev = {oid: _revenue(o) for oid, o in loaded.items()}
    for by in ("adset", "ad", "day", "week", "product"):
        report = build_report(engine, NOCOST, by=by, now=NOW, date_from=DAY, date_to=DAY)
        assert sum(r.figures.orders_without_cost for r in report.rows) >= 2, by
        for r in report.rows:
            if r.figures.orders and r.figures.orders_without_cost == r.figures.orders:
                assert r.poas is None and r.margin is None, (by, r.key)
    products = {
        r.name: r
        for r in build_report(engine, NOCOST, by="product", now=NOW, date_from=DAY, date_to=DAY).rows
    }
    hat = next(r for name, r in products.items() if name.startswith("Lue"))
    assert hat.figures.orders == hat.figures.orders_without_cost == 2 and hat.poas is None
    day = build_report(engine, NOCOST, by="day", now=NOW, date_from=DAY, date_to=DAY).rows[0]
    assert day.figures.revenue_without_cost == rev[1002] + rev[1003]


def test_fallback_margin_is_still_profit(engine: Engine) -> None:
    parsed = _load(engine, FALLBACK)
    report = build_report(engine, FALLBACK, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    rows = {r.key: r for r in report.rows}
    assert report.total.figures.orders_without_cost == 0
    c2 = rows[C2]  # the hat priced at the 40 % fallback margin: known profit, flagged as a fallback
    revenue = _revenue(parsed[1003])
    lines_revenue = revenue - _shipping_revenue(parsed[1003])  # the margin applies to the goods
    assert c2.figures.gross_profit == revenue - (lines_revenue * Decimal("0.6")).quantize(Decimal("0.01"))
    assert c2.poas is not None and c2.margin == c2.figures.gross_profit / revenue
    rows_ = {r["order_id"]: r for r in iter_export(engine, "profit", shop="fallback")}
    assert rows_["1003"]["profit_known"] is True and rows_["1003"]["gross_profit"] is not None
    assert "fallback" in json.dumps(rows_["1003"]["breakdown"])


def test_advice_holds_campaigns_with_unknown_profit(engine: Engine, loaded: dict[int, Any]) -> None:
    report = build_report(engine, NOCOST, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    advice = advise(campaign_figures(report.rows), budget=Decimal("2000"))
    by_key = {c.key: c for c in advice.campaigns}
    for key in (C1, C2):
        assert by_key[key].proposed_spend == Decimal("500.00") and by_key[key].poas is None
        assert "profit unknown" in by_key[key].reason
    assert advice.unallocated == Decimal("1000.00")


def test_profit_export_gives_no_profit_for_orders_without_cost(
    engine: Engine, loaded: dict[int, Any]
) -> None:
    rows = {r["order_id"]: r for r in iter_export(engine, "profit", shop="nocost")}
    assert rows["1001"]["profit_known"] is True and rows["1001"]["missing_cost_lines"] == 0
    assert rows["1001"]["gross_profit"] is not None
    for oid, lines in (("1002", 1), ("1003", 1)):
        r = rows[oid]
        assert r["profit_known"] is False and r["missing_cost_lines"] == lines
        assert r["revenue_ex_vat"] == str(_revenue(loaded[int(oid)]))
        for c in ("cogs", "gross_profit", "expected_return_cost", "expected_profit", "realized_profit"):
            assert r[c] is None, (oid, c)
    out = io.StringIO()
    write_export(iter_export(engine, "profit", shop="nocost"), out, "csv")
    table = {r["order_id"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert table["1003"]["gross_profit"] == "" and table["1003"]["profit_known"] == "False"
    assert table["1003"]["revenue_ex_vat"] != ""
    lines = io.StringIO()
    write_export(iter_export(engine, "profit", shop="nocost"), lines, "jsonl")
    docs = {d["order_id"]: d for d in map(json.loads, lines.getvalue().splitlines())}
    assert docs["1002"]["expected_profit"] is None and docs["1002"]["profit_known"] is False


def test_costs_missing_lists_variants_newest_first(engine: Engine, loaded: dict[int, Any]) -> None:
    found = missing_costs(engine, NOCOST, now=NOW)
    assert [m.key for m in found] == [HAT]
    hat = found[0]
    hat_lines = [li for o in (loaded[1002], loaded[1003]) for li in o.lines if li.variant_id == HAT]
    assert (hat.orders, hat.units) == (2, sum(li.quantity for li in hat_lines))
    assert hat.title.startswith("Lue") and hat.last_sold_at == loaded[1003].created_at
    assert hat.first_sold_at == loaded[1002].created_at
    total = unknown_profit(engine, NOCOST, now=NOW)
    assert total.orders == 2
    assert total.revenue_ex_vat == _revenue(loaded[1002]) + _revenue(loaded[1003])
    assert hat.revenue_ex_vat < total.revenue_ex_vat  # the sweater in 1002 is at stake too, but costed
    assert missing_costs(engine, FALLBACK, now=NOW) == []  # other shop: nothing


def test_costs_missing_orders_newest_sale_first(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "nocost", "NOK", True, NOW)
        for oid, minute, variants in ((2001, 5, {HAT}), (2002, 30, {SWEATER})):
            ingest_order(
                conn,
                parse_order(_payload(oid, minute, variants), "nocost"),
                NOCOST,
                now=NOW,
                trigger_purchase=False,
            )
    assert [m.key for m in missing_costs(engine, NOCOST, now=NOW)] == [SWEATER, HAT]
    assert missing_costs(engine, NOCOST, now=datetime(2027, 3, 1, tzinfo=UTC)) == []  # older than 30 days


def test_doctor_warns_about_orders_without_cost(db_url: str, engine: Engine, loaded: dict[int, Any]) -> None:
    s = Settings(database_url=db_url, shops=[NOCOST, FALLBACK])
    checks = run_checks(s, graph=False, now=NOW)
    costs = [c for c in checks if c.name.startswith("costs ")]
    assert [(c.name, c.level) for c in costs] == [("costs nocost", Level.WARN)]
    assert "2 order(s)" in costs[0].detail and "poas costs missing --shop nocost" in costs[0].fix


# ------------------------------------------------------------------ faces: API, dashboard, CLI


def _web_settings() -> Settings:
    return Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("test-secret-" + "x" * 20),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[NOCOST],
    )


@pytest.fixture
def client(engine: Engine, loaded: dict[int, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    import poas.services.views.common as common

    monkeypatch.setattr(common, "utcnow", lambda: NOW)
    import poas.services.views as views

    monkeypatch.setattr(views, "utcnow", lambda: NOW)
    with TestClient(create_app(_web_settings(), engine), base_url="http://testserver") as c:
        yield c


def test_api_report_and_orders_never_show_revenue_as_profit(
    client: TestClient, loaded: dict[int, Any]
) -> None:
    body = client.get(
        "/api/v1/report", params={"by": "campaign", "from": str(DAY), "to": str(DAY)}, headers=ADMIN
    ).json()
    rows = {r["key"]: r for r in body["rows"]}
    assert rows[C2]["gross_profit"] is None and rows[C2]["poas"] is None and rows[C2]["margin"] is None
    assert rows[C2]["orders_without_cost"] == 1 and Decimal(rows[C2]["revenue_without_cost"]) > 0
    assert rows[C1]["orders_without_cost"] == 1 and Decimal(rows[C1]["gross_profit"]) < Decimal(
        rows[C1]["revenue"]
    )
    assert body["total"]["orders_without_cost"] == 2

    page = client.get("/api/v1/orders", headers=ADMIN).json()["orders"]
    summary = {o["order_id"]: o for o in page}
    assert summary["1003"]["profit_known"] is False and summary["1003"]["expected_profit"] is None
    assert summary["1001"]["profit_known"] is True and summary["1001"]["expected_profit"] is not None
    detail = client.get("/api/v1/orders/nocost/1003", headers=ADMIN).json()
    assert detail["profit_known"] is False and detail["missing_cost_lines"] == 1
    assert [s["key"] for s in detail["waterfall"]] == ["revenue", "vat", "revenue_ex_vat"]
    assert all(s["expected_profit"] is None for s in detail["snapshots"])
    assert [ln["cogs"] for ln in detail["lines"]] == [None]

    missing = client.get("/api/v1/costs/missing", headers=ADMIN).json()
    assert missing["orders_without_cost"] == 2 and [m["key"] for m in missing["missing"]] == [HAT]
    assert missing["missing"][0]["units"] >= 2


def _login(client: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1), "next": "/"})


def test_dashboard_shows_orders_without_cost(client: TestClient) -> None:
    _login(client)
    overview = client.get("/", params={"from": str(DAY), "to": str(DAY)}).text
    kpi = re.search(r'id="kpi-without-cost">.*?<div class="value[^"]*">([^<]*)</div>', overview, re.S)
    assert kpi and kpi.group(1) == "2" and 'id="without-cost-note"' in overview
    report = client.get("/campaigns", params={"from": str(DAY), "to": str(DAY)}).text
    row = re.search(rf'<tr data-key="{C2}"[^>]*>(.*?)</tr>', report, re.S)
    assert row and 'data-col="orders_without_cost"' in row.group(1)
    gross = re.search(r'data-col="gross_profit">(.*?)</td>', row.group(1), re.S)
    assert gross and gross.group(1) == "–"  # gross profit: none, not 0 and not the revenue
    costs = client.get("/costs").text
    assert 'id="missing-costs"' in costs and f'data-key="{HAT}"' in costs
    order = client.get("/orders/nocost/1003").text
    assert 'id="profit-unknown"' in order


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    config = tmp_path / "poas.toml"
    config.write_text('[[shops]]\nid = "nocost"\ncurrency = "NOK"\ntimezone = "Europe/Oslo"\n')
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    cli_settings.cache_clear()
    cli_store.cache_clear()
    yield
    cli_store().dispose()
    cli_settings.cache_clear()
    cli_store.cache_clear()


def test_cli_costs_missing(configured: None, engine: Engine) -> None:
    now = datetime.now(UTC)
    payload = _payload(3001, 1, {HAT})
    payload["created_at"] = payload["processed_at"] = payload["updated_at"] = now.isoformat()
    with engine.begin() as conn:
        ensure_shop(conn, "nocost", "NOK", True, now)
        ingest_order(conn, parse_order(payload, "nocost"), NOCOST, now=now, trigger_purchase=False)
    runner = CliRunner()
    res = runner.invoke(cli_app, ["costs", "missing", "--shop", "nocost", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["orders_without_cost"] == 1 and [m["key"] for m in doc["missing"]] == [HAT]
    # no cost rules: the order's klarna fee and its Bring parcel are counted as 0, and named
    assert doc["rule_gaps"] == {
        "orders": 1,
        "payment_fees": [{"gateway": "klarna", "orders": 1}],
        "shipping": [{"method": "Bring Hjemlevering", "country": "NO", "orders": 1}],
        "refunded_orders": 0,
        "return_rate": False,
    }
    table = runner.invoke(cli_app, ["costs", "missing", "--shop", "nocost"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "sold without a cost" in table.output
    assert "1 order(s)" in table.output and "unknown profit" in table.output
    assert "no payment fee rule: klarna (1)" in table.output
    assert "no shipping cost rule: Bring Hjemlevering to NO (1)" in table.output
    as_csv = runner.invoke(cli_app, ["costs", "missing", "--shop", "nocost", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [(r["key"], r["orders"]) for r in rows] == [(HAT, "1")] and rows[0]["title"].startswith("Lue")
    bad = runner.invoke(cli_app, ["costs", "missing", "--days", "0"])
    assert bad.exit_code == 1 and "--days 0" in bad.output


def test_cli_report_table_shows_orders_without_cost_beside_profit(configured: None, engine: Engine) -> None:
    now = datetime.now(UTC)
    payload = _payload(3002, 1, {HAT})
    payload["created_at"] = payload["processed_at"] = payload["updated_at"] = now.isoformat()
    with engine.begin() as conn:
        ensure_shop(conn, "nocost", "NOK", True, now)
        ingest_order(conn, parse_order(payload, "nocost"), NOCOST, now=now, trigger_purchase=False)
    res = CliRunner().invoke(cli_app, ["report", "--shop", "nocost"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    header = next(line for line in res.output.splitlines() if "campaign" in line and "profit" in line)
    assert "orders without cost" in header and "revenue without cost" in header
    total = next(line for line in res.output.splitlines() if "total (blended)" in line)
    cells = [c.strip() for c in total.split("│") if c.strip()]
    # orders, revenue, profit (none known: "–"), then 1 order without cost and its revenue
    assert cells[2] == "1" and cells[4] == "–" and cells[5] == "1" and cells[6] == cells[3]
