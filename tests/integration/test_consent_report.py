"""`poas doctor` and the dashboard's Settings page say where each shop's ads consent comes from and
what share of the last 7 days' orders carried a consent signal (both engines)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.domain.order import Consent, Customer, Order, OrderLine
from poas.services.consent import consent_summaries
from poas.services.doctor import Level, check_consent
from poas.services.ingest import ingest_order
from poas.settings import Settings, ShopConfig
from poas.store.orders import ensure_shop
from poas.web.app import create_app
from poas.web.auth import hash_password

NOW = datetime.now(UTC).replace(microsecond=0)
PASSWORD = "correct horse battery staple"
SHOPIFY = ShopConfig(
    id="nordlys",
    platform="shopify",
    default_margin=Decimal("0.5"),
    consent_default_by_region={"EEA": "denied"},
)
WOO = ShopConfig(id="kaffe", platform="woocommerce", default_margin=Decimal("0.5"), consent_default="denied")


def _order(shop_id: str, n: int, consent: Consent, days_ago: float) -> Order:
    placed = NOW - timedelta(days=days_ago)
    return Order(
        shop_id=shop_id,
        order_id=str(n),
        created_at=placed,
        updated_at=placed,
        currency="NOK",
        lines=(OrderLine("l1", 1, Decimal("100.00"), sku="A", tax=Decimal("20.00")),),
        customer=Customer(email="kari@example.no"),
        consent=consent,
    )


def _seed(engine: Engine) -> None:
    """nordlys: 4 orders this week (1 granted, 1 denied, 2 without a signal, one of them subscribed to
    the newsletter) and an old one with a signal; kaffe: 2 orders this week, neither with a signal."""
    rows = [
        (SHOPIFY, _order("nordlys", 1, Consent(marketing=False, ads_tracking=True), 1)),
        (SHOPIFY, _order("nordlys", 2, Consent(marketing=True, ads_tracking=False), 2)),
        (SHOPIFY, _order("nordlys", 3, Consent(marketing=True), 3)),
        (SHOPIFY, _order("nordlys", 4, Consent(marketing=False), 6.5)),
        (SHOPIFY, _order("nordlys", 5, Consent(ads_tracking=True), 9)),  # outside the 7 days
        (WOO, _order("kaffe", 6, Consent(), 1)),
        (WOO, _order("kaffe", 7, Consent(), 2)),
    ]
    with engine.begin() as conn:
        for shop_id in ("nordlys", "kaffe"):
            ensure_shop(conn, shop_id, "NOK", True, NOW - timedelta(days=30))
        for shop, order in rows:
            ingest_order(conn, order, shop, now=NOW, trigger_purchase=False)


EXPECT_NORDLYS = "2 of 4 orders (50 %) in the last 7 days carried a consent signal (1 granted, 1 denied)"


def test_summaries_count_last_weeks_signals(engine: Engine) -> None:
    _seed(engine)
    nordlys, kaffe = consent_summaries(engine, [SHOPIFY, WOO], now=NOW)
    assert (nordlys.orders, nordlys.granted, nordlys.denied) == (4, 1, 1)
    assert nordlys.share_text == EXPECT_NORDLYS
    assert (kaffe.orders, kaffe.with_signal, kaffe.default) == (2, 0, "denied")


def test_doctor_names_the_source_and_warns_when_the_default_denies_everything(
    db_url: str, engine: Engine
) -> None:
    _seed(engine)
    checks = check_consent(Settings(database_url=db_url, shops=[SHOPIFY, WOO]), now=NOW)
    by = {c.name: c for c in checks}
    nordlys, kaffe = by["shop nordlys"], by["shop kaffe"]
    assert nordlys.level is Level.OK
    assert "signal: note/cart attribute _consent_ads" in nordlys.detail
    assert "else default granted (EEA denied)" in nordlys.detail and EXPECT_NORDLYS in nordlys.detail
    assert kaffe.level is Level.WARN and "order meta _consent_ads" in kaffe.detail
    assert "0 of 2 orders (0 %)" in kaffe.detail and "nothing is sent to Meta" in kaffe.detail
    assert kaffe.fix


def test_doctor_without_a_migrated_database_still_names_the_source(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    (check,) = check_consent(Settings(database_url=url, shops=[SHOPIFY]), now=NOW)
    assert check.level is Level.OK and "note/cart attribute" in check.detail
    assert "order counts unavailable" in check.detail


def test_settings_page_shows_consent_source_and_signal_share(engine: Engine) -> None:
    _seed(engine)
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("test-secret-" + "x" * 20),
        shops=[SHOPIFY, WOO],
    )
    with TestClient(create_app(settings, engine), base_url="http://testserver") as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1), "next": "/settings"})
        html = client.get("/settings").text
    table = html.split('<table id="consent">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(\w+)</td><td>(.*?)</td><td>(.*?)</td></tr>", table)
    got = {shop: (source, share) for shop, source, share in rows}
    assert set(got) == {"nordlys", "kaffe"}
    assert "note/cart attribute _consent_ads" in got["nordlys"][0] and "EEA denied" in got["nordlys"][0]
    assert got["nordlys"][1] == EXPECT_NORDLYS
    assert "order meta _consent_ads" in got["kaffe"][0] and "else default denied" in got["kaffe"][0]
    assert got["kaffe"][1].startswith("0 of 2 orders (0 %)")
