"""The order page writes every amount in the request's language (Babel, as the other pages): the
waterfall's sentences, what Meta was told, the lines; from the exact Decimal values, on both engines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from browser_kit import seed_order
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.services.views.order_story import component_text, component_words, cost_source
from poas.settings import Settings, ShopConfig
from poas.web import formats as f
from poas.web.app import create_app
from poas.web.auth import hash_password
from poas.web.i18n import Local, using

PASSWORD = "order-locale-password"
NB = Local("nb", ZoneInfo("Europe/Oslo"), "NOK")
EN = Local("en", ZoneInfo("Europe/Oslo"), "NOK")
NBSP = "\u00a0"


def _text(html: str) -> str:
    """The page's visible text, no-break spaces kept, whitespace runs made one space."""
    main = html.split('id="main"', 1)[1]
    main = re.sub(r"<script.*?</script>|<details>.*?</details>", "", main, flags=re.S)
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    shop = ShopConfig(
        id="nordic",
        currency="NOK",
        timezone="Europe/Oslo",
        pixel_id="1234567890",
        access_token=SecretStr("EAAB-test-token"),
        consent_policy="always",
    )
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("order-locale-secret-" + "x" * 20),
        shops=[shop],
    )
    seed_order(engine, shop, datetime.now(UTC))
    with TestClient(create_app(settings, engine), base_url="http://testserver") as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        c.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1), "next": "/settings"})
        yield c


def test_order_page_amounts_in_bokmal(client: TestClient) -> None:
    text = _text(client.get("/orders/nordic/5001", headers={"Accept-Language": "nb-NO"}).text)
    kr = f"{NBSP}kr"
    for shown in (
        f"verdi 1{NBSP}349,00{kr}",  # value told to Meta
        f"net_revenue (fortjeneste) 460,62{kr}",
        f"Mva. på linjene 250,00{kr} og på frakt 19,80{kr}.",
        f"linjer 1{NBSP}000,00{kr} + frakt 79,20{kr}",
        f"(parcel, 1{NBSP}700 g)",
        f"Gebyrregel fee-card: 2,4{NBSP}% av 1{NBSP}349,00{kr} betalt + 2,00{kr}.",
        f"pick-pack (én gang per ordre): 15,00{kr}",
        f"-34,38{kr}",  # the fee step: 2.4 % of 1349.00 + 2 = 34.376, to the øre
        f"180,00{kr} per enhet",
    ):
        assert shown in text, (shown, text)
    assert f"460,62{kr} etter forventede returer" in text  # expected profit
    # no number left in the English way: 1349.00, 250.00, 2.4 %, 1,700
    assert not re.search(r"\d\.\d{2}\b|\d,\d{3}\b|2\.4", text), text
    # the realized profit's status and the snapshot's reason are sentences in Bokmål too
    assert "ikke endelig: realisert så langt" in text and "ordren ble lagt inn" in text
    assert not re.search(r"not final|realized so far|order inserted", text), text


def test_order_page_amounts_in_english(client: TestClient) -> None:
    text = _text(client.get("/orders/nordic/5001", headers={"Accept-Language": "en-GB"}).text)
    nok = f"NOK{NBSP}"
    for shown in (
        f"value {nok}1,349.00",
        f"net_revenue (profit) {nok}460.62",
        f"VAT on the lines {nok}250.00 and on shipping {nok}19.80.",
        f"lines {nok}1,000.00 + shipping {nok}79.20",
        "(parcel, 1,700 g)",
        f"Fee rule fee-card: 2.4% of {nok}1,349.00 paid + {nok}2.00.",
        f"pick-pack (once per order): {nok}15.00",
        f"-{nok}34.38",
        f"{nok}180.00 per unit",
    ):
        assert shown in text, (shown, text)
    assert not re.search(r"\d,\d{2}\b|\bkr\b", text), text
    assert "not final: realized so far" in text and "order inserted" in text


def test_the_api_keeps_the_plain_english_sentence() -> None:
    """The sentence's numbers stay exact plain values; str() is the API's English line as before."""
    fee = {"rule": "fee-card", "basis": "2.45 % of 1349.005 paid + 2 EUR"}
    (w,) = component_words("payment_fee", fee)
    assert w.args == {"rule": "fee-card", "percent": "2.45", "paid": "1349.005", "fixed": "2"}
    assert component_text("payment_fee", fee) == "Fee rule fee-card: 2.45 % of 1349.005 paid + 2 EUR."
    with using(NB):  # the rule's own currency for the fixed part, the percent with its two digits
        args = f.word_args(w.args, w.kinds, "NOK")
        assert args["percent"] == f"2,45{NBSP}%" and args["fixed"] == f"2,00{NBSP}€"
    odd = {"rule": "fee-x", "basis": "whatever the rule said"}
    assert component_text("payment_fee", odd) == "Fee rule fee-x: whatever the rule said."


def test_exact_numbers_and_shares() -> None:
    with using(NB):
        assert f.fmt_exact("11.5342") == "11,5342" and f.fmt_exact(Decimal("1234.5")) == f"1{NBSP}234,5"
        assert f.fmt_exact("n/a") == "n/a"
        assert f.fmt_share(Decimal("0.4")) == f"40{NBSP}%" and f.fmt_share(Decimal("0.375")) == f"37,5{NBSP}%"
        assert f.word_args({"n": "12345", "x": "id-7"}, {"n": "count"}) == {"n": f"12{NBSP}345", "x": "id-7"}
    with using(EN):
        assert f.fmt_exact("11.5342") == "11.5342" and f.fmt_share(Decimal("0.375")) == "37.5%"
    fallback = cost_source({"source": "fallback", "fallback": "default_margin", "margin": "0.35"})
    assert fallback.margin == Decimal("0.35") and fallback.fallback == "default_margin"


def test_delivery_counts_are_grouped_in_the_pages_language(client: TestClient) -> None:
    """Counts on the other pages go through the same helper: 1 200 waiting events / 1,200."""
    from browser_kit import utcnow

    from poas.store import outbox as ob

    now = utcnow()
    events = [
        ob.OutboxEvent(
            shop_id="nordic",
            pixel_id="1234567890",
            event_name="Purchase",
            event_id=f"bulk-{i}",
            order_id=f"{9000 + i}",
            event_time=now,
            payload={"event_name": "Purchase", "event_id": f"bulk-{i}"},
        )
        for i in range(1199)
    ]
    with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        ob.enqueue(conn, events, now=now)
    nb = client.get("/delivery", headers={"Accept-Language": "nb-NO"}).text
    en = client.get("/delivery", headers={"Accept-Language": "en"}).text
    assert f'id="depth">1{NBSP}200<' in nb and 'id="depth">1,200<' in en  # with the order's Purchase
