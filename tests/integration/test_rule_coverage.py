"""A shop on the defaults has no cost rules: its orders' profits count no payment fee and no shipping
cost. `poas doctor` names the gateways and shipping methods of the recent orders that no rule prices,
with the orders each affects, until rules price them; `poas rules --example` gives a file to start
from that adds no invented cost when loaded unedited. Shopify's order example (klarna, Bring
Hjemlevering to Norway); both engines."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from typer.testing import CliRunner

import poas.services.views as views
from poas.cli import app as cli_app
from poas.domain.rules import load_rules_toml
from poas.services.cost_rules import example_rules, load_rules
from poas.services.doctor import Level, check_cost_rules
from poas.services.ingest import ingest_order
from poas.services.rule_coverage import rule_gaps
from poas.settings import Settings, ShopConfig
from poas.sources.shopify import parse_order
from poas.store.orders import ensure_shop
from poas.web.app import create_app
from poas.web.auth import hash_password

FIXTURE = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_paid_not_subscribed.json"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SHOP = ShopConfig(id="nordlys", currency="NOK", timezone="Europe/Oslo")
PASSWORD = "correct horse battery staple"
ADMIN = {"Authorization": "Bearer admin-token-123456"}


def _payload(order_id: int, days_ago: int, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(json.loads(FIXTURE.read_text()))
    stamp = (NOW - timedelta(days=days_ago)).isoformat()
    data.update(id=order_id, name=f"#{order_id}", created_at=stamp, processed_at=stamp, updated_at=stamp)
    data.update(changes)
    return data


def _ingest(engine: Engine, *payloads: dict[str, Any]) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, SHOP.id, "NOK", True, NOW)
        for p in payloads:
            ingest_order(conn, parse_order(p, SHOP.id), SHOP, now=NOW, trigger_purchase=False)


def _rules(engine: Engine, document: str) -> None:
    load_rules(engine, SHOP, document, source="test", now=NOW, recompute=True)


def _digital(order_id: int) -> dict[str, Any]:
    """Nothing shipped: no shipping line, no weight (a gift card or a download)."""
    data = _payload(order_id, 3, shipping_lines=[], payment_gateway_names=["vipps"])
    for line in data["line_items"]:
        line["grams"] = 0
    return data


def test_doctor_names_the_unpriced_gateways_and_methods_until_rules_price_them(engine: Engine) -> None:
    _ingest(
        engine,
        _payload(1001, 2),
        _payload(1002, 5),
        _payload(1003, 9, payment_gateway_names=["Vipps"]),
        _payload(1004, 40),  # older than the 30 days looked at
        _payload(1005, 1, test=True),  # a test order: not counted
        _digital(1006),
    )
    gaps = rule_gaps(engine, SHOP, now=NOW)
    assert gaps.orders == 4
    assert gaps.fees == [("klarna", 2), ("vipps", 2)]  # grouped as rules match them: case-insensitive
    assert gaps.shipping == [("Bring Hjemlevering", "NO", 3)]  # the digital order ships nothing

    settings = Settings(database_url=str(engine.url), shops=[SHOP])
    checks = {c.name: c for c in check_cost_rules(settings, NOW)}
    assert set(checks) == {"fees nordlys", "shipping nordlys"}
    fees, shipping = checks["fees nordlys"], checks["shipping nordlys"]
    assert fees.level is Level.WARN and shipping.level is Level.WARN
    assert fees.detail == (
        "4 of 4 order(s) of the last 30 days were paid through gateways with no payment fee rule: "
        "klarna (2), vipps (2); their profit counts no payment fee"
    )
    assert shipping.detail == (
        "3 of 4 order(s) of the last 30 days shipped with no shipping cost rule: "
        "Bring Hjemlevering to NO (3); their profit counts no shipping cost"
    )
    assert "poas rules --example" in fees.fix and "--shop nordlys" in fees.fix

    _rules(engine, 'currency = "NOK"\n[[payment_fees]]\ngateway = "klarna"\npercent = 2.9\nfixed = 1\n')
    gaps = rule_gaps(engine, SHOP, now=NOW)
    assert gaps.fees == [("vipps", 2)]  # klarna is priced now
    _rules(
        engine,
        'currency = "NOK"\n[[payment_fees]]\ngateway = "klarna"\npercent = 2.9\nfixed = 1\n'
        '[[payment_fees]]\ngateway = "vipps"\npercent = 2.5\nfixed = 0\n'
        '[zones]\ndomestic = ["NO"]\n[[shipping]]\nzone = "domestic"\nmax_grams = 500\ncost = 99\n',
    )
    gaps = rule_gaps(engine, SHOP, now=NOW)
    assert gaps.fees == []
    # the fixture's parcel weighs 2 x 450 g + 120 g: above the only band, so still unpriced
    assert gaps.shipping == [("Bring Hjemlevering", "NO", 3)]
    _rules(
        engine,
        'currency = "NOK"\n[[payment_fees]]\ngateway = "*"\npercent = 2.5\nfixed = 0\n'
        '[zones]\ndomestic = ["NO"]\n[[shipping]]\nzone = "domestic"\ncost = 129\n',
    )
    assert check_cost_rules(settings, NOW) == []


def test_an_order_with_its_actual_fee_needs_no_fee_rule(engine: Engine) -> None:
    paid = _payload(2001, 2)
    _ingest(engine, paid)
    with engine.begin() as conn:
        order = parse_order(paid, SHOP.id)
        ingest_order(
            conn,
            replace(
                order, actual_payment_fee=Decimal("31.20"), updated_at=order.created_at + timedelta(hours=1)
            ),
            SHOP,
            now=NOW,
            trigger_purchase=False,
        )
    gaps = rule_gaps(engine, SHOP, now=NOW)
    assert gaps.fees == [] and gaps.shipping == [("Bring Hjemlevering", "NO", 1)]


def _uncommented(text: str) -> str:
    """The example with its commented-out rules switched on (the lines that are TOML, not prose)."""
    toml_line = re.compile(r"^# (\[|\w+ = )")
    return "\n".join(line[2:] if toml_line.match(line) else line for line in text.splitlines())


def test_the_example_rules_load_as_no_rule_until_edited() -> None:
    text = example_rules()
    unedited = load_rules_toml(text)
    assert unedited.payment_fees == () and unedited.shipping == () and unedited.handling == ()
    assert unedited.returns_default is None
    edited = load_rules_toml(_uncommented(text))  # every documented key is valid TOML for the loader
    assert [f.gateway for f in edited.payment_fees] == ["vipps", "klarna", None]
    assert [s.id for s in edited.shipping] == ["bring-domestic-small", "domestic-any"]
    assert [h.id for h in edited.handling] == ["pick-pack"]
    assert edited.returns_default is not None and [r.id for r in edited.returns] == ["shoes"]
    at = NOW
    assert edited.payment_fee_rule("Klarna", at) is not None
    assert edited.shipping_rule("bring hjemlevering", "NO", 1200, at).id == "bring-domestic-small"


def test_poas_rules_example_prints_the_file() -> None:
    result = CliRunner().invoke(cli_app, ["rules", "--example"])
    assert result.exit_code == 0, result.output
    assert result.output == example_rules()


@contextmanager
def _dashboard(engine: Engine) -> Iterator[TestClient]:
    """The web app on `engine`, logged in, its clock at NOW."""
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("test-secret-" + "x" * 20),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[SHOP],
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "utcnow", lambda: NOW)
        with TestClient(create_app(settings, engine), base_url="http://testserver") as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token
            client.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1), "next": "/"})
            yield client


def test_the_api_and_the_costs_page_list_the_gaps(engine: Engine) -> None:
    _ingest(engine, _payload(3001, 2), _payload(3002, 4, payment_gateway_names=["vipps"]), _digital(3003))
    with _dashboard(engine) as client:
        body = client.get("/api/v1/costs/rule-gaps", headers=ADMIN).json()
        assert body["orders"] == 3 and body["fee_orders"] == 3 and body["shipping_orders"] == 2
        assert body["fees"] == [{"gateway": "vipps", "orders": 2}, {"gateway": "klarna", "orders": 1}]
        assert body["shipping"] == [{"method": "Bring Hjemlevering", "country": "NO", "orders": 2}]
        assert (body["refunded_orders"], body["return_rate"]) == (0, False)
        html = client.get("/costs").text
        assert 'id="returns-gap"' not in html  # no refunds: no return rate asked for
        summary = re.search(r'id="rule-gaps-summary">(.*?)<code', html, re.S)
        assert summary and summary.group(1).startswith(
            "3 of 3 order(s) of the last 30 days have no payment fee rule and 2 no shipping cost rule"
        )
        rows = re.findall(
            r'<tr data-kind="(\w+)"><td>[^<]*</td><td>(.*?)</td><td class="num">(\d+)</td>', html
        )
        assert rows == [
            ("payment_fee", "<code>vipps</code>", "2"),
            ("payment_fee", "<code>klarna</code>", "1"),
            ("shipping", "Bring Hjemlevering → NO", "2"),
        ]
        nb = client.get("/costs", headers={"Accept-Language": "nb"}).text
        assert "ingen regel for betalingsgebyr" in nb and "Betalingsgebyr" in nb
        _rules(
            engine,
            'currency = "NOK"\n[[payment_fees]]\ngateway = "*"\npercent = 2.5\nfixed = 0\n'
            "[[shipping]]\ncost = 129\n",
        )
        after = client.get("/costs").text
        assert 'id="rule-gaps' not in after
        assert client.get("/api/v1/costs/rule-gaps", headers=ADMIN).json()["fees"] == []


REFUNDED = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_updated_refunded.json"


def test_refunds_without_a_return_rate_are_named_until_one_is_set(engine: Engine) -> None:
    refunded = json.loads(REFUNDED.read_text())  # Shopify's example of an order with a refund
    _ingest(engine, _payload(4001, 2), refunded)
    settings = Settings(database_url=str(engine.url), shops=[SHOP])
    gaps = rule_gaps(engine, SHOP, now=NOW)
    assert (gaps.orders, gaps.refunded, gaps.return_rate) == (2, 1, False)
    checks = {c.name: c for c in check_cost_rules(settings, NOW)}
    returns = checks["returns nordlys"]
    assert returns.level is Level.WARN
    assert returns.detail == (
        "1 of 2 order(s) of the last 30 days have refunds, but no return rate is set: "
        "their expected profit assumes that nothing comes back"
    )
    assert "poas returns fit --shop nordlys" in returns.fix
    with _dashboard(engine) as client:
        html = client.get("/costs").text
        flash = re.search(r'id="returns-gap">(.*?)<code>poas returns fit</code>', html, re.S)
        assert flash and flash.group(1).startswith("1 of 2 order(s) of the last 30 days have refunds")
        body = client.get("/api/v1/costs/rule-gaps", headers=ADMIN).json()
        assert (body["refunded_orders"], body["return_rate"]) == (1, False)
    _rules(engine, 'currency = "NOK"\n[returns]\nrate = 0.1\nhandling_cost = 50\nrestock_share = 0.9\n')
    gaps = rule_gaps(engine, SHOP, now=NOW)
    assert gaps.return_rate and gaps.refunded == 1
    assert "returns nordlys" not in {c.name for c in check_cost_rules(settings, NOW)}


def test_a_shop_without_refunds_is_not_asked_for_a_return_rate(engine: Engine) -> None:
    _ingest(engine, _payload(5001, 2))
    gaps = rule_gaps(engine, SHOP, now=NOW)
    assert (gaps.refunded, gaps.return_rate) == (0, False)
    names = {c.name for c in check_cost_rules(Settings(database_url=str(engine.url), shops=[SHOP]), NOW)}
    assert names == {"fees nordlys", "shipping nordlys"}
