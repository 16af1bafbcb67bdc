"""The dashboard's locale: Babel formats per language, the shop's time zone, the language choice
(Accept-Language, the switch's cookie) and translated pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.settings import Settings, ShopConfig
from poas.web import formats as f
from poas.web.app import create_app
from poas.web.auth import hash_password
from poas.web.i18n import COOKIE, Local, choose_language, current, using

OSLO = ZoneInfo("Europe/Oslo")
NB = Local("nb", OSLO, "NOK")
EN = Local("en", OSLO, "NOK")
PASSWORD = "locale-test-password"


def test_money_in_bokmal_and_english() -> None:
    with using(NB):
        assert f.fmt_money(Decimal("126835.73")) == "126\u00a0835,73\u00a0kr"
        assert f.fmt_money(Decimal("-1234.5")) == "-1\u00a0234,50\u00a0kr"
        assert f.fmt_money(Decimal("126835.73"), places=0) == "126\u00a0836\u00a0kr"
        assert f.fmt_money(Decimal("12.5"), currency="EUR") == "12,50\u00a0€"
    with using(EN):
        assert f.fmt_money(Decimal("126835.73")) == "NOK\u00a0126,835.73"
        assert f.fmt_money(Decimal("-1234.5")) == "-NOK\u00a01,234.50"
        assert f.fmt_money(Decimal("5"), currency="JPY") == "¥5"  # the currency's own digits
    assert f.fmt_money(None) == "–"


def test_numbers_ratios_and_percentages() -> None:
    with using(NB):
        assert f.fmt_ratio(Decimal("2.2666")) == "2,27×"
        assert f.fmt_pct(Decimal("0.1234")) == "12,3\u00a0%"
        assert f.fmt_amount(Decimal("126835.7")) == "126\u00a0835,70"
        assert f.fmt_count(12345) == "12\u00a0345"
        assert f.fmt_age(9000) == "2,5 h"
    with using(EN):
        assert f.fmt_ratio(Decimal("2.2666")) == "2.27×"
        assert f.fmt_pct(Decimal("0.6")) == "60.0%"
        assert f.fmt_amount(Decimal("126835.7")) == "126,835.70"
        assert f.fmt_count(12345) == "12,345"
        assert f.fmt_age(9000) == "2.5 h"
    assert f.fmt_ratio(None) == f.fmt_pct(None) == f.fmt_amount(None) == "–"
    assert f.plain(Decimal("1234.5")) == "1234.50"  # machine-readable in every language


def test_times_are_the_shops_wall_clock() -> None:
    late = datetime(2026, 9, 4, 22, 30, tzinfo=UTC)
    with using(NB):
        assert f.fmt_when(late) == "2026-09-05 00:30"
        # a cost valid from Oslo midnight, stored as UTC 22:00 the day before, shows the day entered
        assert f.fmt_day(datetime(2026, 9, 4, 22, 0, tzinfo=UTC)) == "2026-09-05"
        assert f.fmt_when(datetime(2026, 9, 4, 22, 30)) == "2026-09-05 00:30"  # naive = UTC
        assert f.fmt_date(date(2026, 9, 5)) == "5. sep. 2026"
        winter = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
        assert f.fmt_when(winter) == "2027-01-01 00:30"  # CET, one hour
    with using(Local("en", ZoneInfo("America/New_York"), "USD")):
        assert f.fmt_when(late) == "2026-09-04 18:30"
        assert f.fmt_date(date(2026, 9, 5)) == "Sep 5, 2026"
    assert f.fmt_when(None) == f.fmt_day(None) == "–"
    assert current().zone == "UTC"  # outside a request and after the blocks


@pytest.mark.parametrize(
    ("cookie", "header", "want"),
    [
        (None, "nb-NO,nb;q=0.9,en;q=0.8", "nb"),
        (None, "no", "nb"),
        (None, "nn-NO", "nb"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "de-DE,de;q=0.9,nb;q=0.5,en;q=0.4", "nb"),
        (None, "en;q=0.3, nb;q=0.8", "nb"),
        (None, "nb;q=0, en", "en"),
        (None, "fr", "en"),
        (None, None, "en"),
        (None, "nb;q=abc", "en"),
        ("en", "nb-NO", "en"),
        ("nb", "en-US", "nb"),
        ("xx", "nb-NO", "nb"),
    ],
)
def test_language_choice(cookie: str | None, header: str | None, want: str) -> None:
    assert choose_language(cookie, header) == want


def _settings(timezone: str = "Europe/Oslo") -> Settings:
    return Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("locale-secret-" + "x" * 20),
        shops=[ShopConfig(id="nordic", currency="NOK", timezone=timezone)],
    )


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), engine), base_url="http://testserver") as c:
        yield c


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_login_page_follows_accept_language(client: TestClient) -> None:
    nb = client.get("/login", headers={"Accept-Language": "nb-NO,nb;q=0.9"}).text
    assert '<html lang="nb-NO">' in nb and "Administratorpassord" in nb and "Logg inn" in nb
    en = client.get("/login", headers={"Accept-Language": "en-GB"}).text
    assert '<html lang="en">' in en and "Admin password" in en and "Logg inn" not in en
    token = _csrf(nb)
    wrong = client.post(
        "/login",
        data={"password": "nope", "csrf_token": token},
        headers={"Accept-Language": "nb"},
        follow_redirects=False,
    )
    assert wrong.status_code == 401 and "Feil passord." in wrong.text


def test_language_switch_sets_a_cookie_and_returns(client: TestClient) -> None:
    r = client.get("/language", params={"lang": "nb", "next": "/login?next=/orders"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/orders"
    assert f"{COOKIE}=nb" in r.headers["set-cookie"] and "Max-Age=31536000" in r.headers["set-cookie"]
    # the cookie beats the browser's Accept-Language
    page = client.get("/login", headers={"Accept-Language": "en-US"}).text
    assert "Logg inn" in page and 'aria-current="true">Norsk<' in page
    back = client.get("/language", params={"lang": "en", "next": "/login"}, follow_redirects=False)
    assert f"{COOKIE}=en" in back.headers["set-cookie"]
    assert "Log in" in client.get("/login", headers={"Accept-Language": "nb"}).text


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", "relative"])
def test_language_switch_stays_on_this_site(client: TestClient, target: str) -> None:
    r = client.get("/language", params={"lang": "nb", "next": target}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_unknown_language_sets_no_cookie(client: TestClient) -> None:
    r = client.get("/language", params={"lang": "xx", "next": "/login"}, follow_redirects=False)
    assert r.status_code == 303 and "set-cookie" not in r.headers


def test_dashboard_pages_in_bokmal_name_the_shops_zone(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/settings"})
    html = client.get("/settings", headers={"Accept-Language": "nb-NO"}).text
    for label in ("Oversikt", "Kampanjer", "Produkter", "Ordrer", "Levering", "Kostnader", "Innstillinger"):
        assert f">{label}</a>" in html, label
    assert "Logg ut" in html and "Europe/Oslo" in html
    assert 'data-locale="nb-NO"' in html and 'data-currency="NOK"' in html
    en = client.get("/settings", headers={"Accept-Language": "en"}).text
    assert ">Campaigns</a>" in en and "Log out" in en and 'data-locale="en"' in en


def test_the_pages_shop_sets_zone_and_currency(engine: Engine) -> None:
    """`?shop=` or an order's path picks the shop whose clock and currency the page uses."""
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("locale-secret-" + "x" * 20),
        shops=[
            ShopConfig(id="nordic", currency="NOK", timezone="Europe/Oslo"),
            ShopConfig(id="nyc", currency="USD", timezone="America/New_York"),
        ],
    )
    with TestClient(create_app(settings, engine), base_url="http://testserver") as c:
        token = _csrf(c.get("/login").text)
        c.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/settings"})
        first = c.get("/settings").text
        assert 'data-currency="NOK" data-zone="Europe/Oslo"' in first
        chosen = c.get("/costs", params={"shop": "nyc"}).text
        assert 'data-currency="USD" data-zone="America/New_York"' in chosen
        assert "America/New_York" in chosen.split('id="time-zone"')[1]
        order = c.get("/orders/nyc/404-none", headers={"Accept": "text/html"})  # its shop, even on a 404
        assert 'data-zone="America/New_York"' in order.text
        unknown = c.get("/settings", params={"shop": "nowhere"}).text
        assert 'data-zone="Europe/Oslo"' in unknown  # an unknown shop: the first one's clock
