"""A Shopify order with a gclid, read through the intake as a webhook is: the click id is stored on
the order, Google's hashes are kept beside Meta's (hashed on arrival; the stored body holds no raw
contact data), Meta's queued Purchase carries none of Google's keys, and a later refund (no contact
data) keeps them. Both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from hashlib import sha256
from pathlib import Path

from sqlalchemy import Engine, select

from poas.domain.google_identity import GOOGLE_KEY, identifiers
from poas.services.intake import process_delivery
from poas.settings import ConsentPolicy, MissingCostPolicy, ShopConfig
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import orders

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
GCLID = "Cj0KCQiA2KitBhCIARIsAPPMEhJ5_x-Yz0vTmAbC1dEfGhIjKlMnOpQrStUvWxYz_BwE"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
SHOP = ShopConfig(
    id="nordlys",
    platform="shopify",
    pixel_id="1234567890",
    consent_policy=ConsentPolicy.ALWAYS,
    missing_cost=MissingCostPolicy.FALLBACK_MARGIN,
    default_margin=Decimal("0.4"),
)


def paid_body() -> bytes:
    data = json.loads((FIXTURES / "order_paid.json").read_text(encoding="utf-8"))
    data["landing_site"] = f"/products/ullgenser?gclid={GCLID}&utm_source=google&utm_medium=cpc"
    data["email"] = "Kari.Nordmann+ull@Gmail.com"
    return json.dumps(data).encode()


def test_gclid_and_google_hashes_are_stored_beside_metas(engine: Engine) -> None:
    with engine.begin() as conn:
        process_delivery(conn, "shopify", "orders/paid", paid_body(), SHOP, now=NOW)
    with engine.connect() as conn:
        row = conn.execute(select(orders).where(orders.c.shop_id == "nordlys")).one()
        payloads = [json.loads(p) for p in conn.execute(select(outbox.c.payload)).scalars()]
    assert (row.gclid, row.gbraid, row.wbraid) == (GCLID, None, None)
    ids = identifiers(row.user_data)
    assert {"emailAddress": sha256(b"karinordmann@gmail.com").hexdigest()} in ids
    assert {"phoneNumber": sha256(b"+4791234567").hexdigest()} in ids
    assert not any("address" in i for i in ids)  # its postal code would be stored in plain text
    # Meta's own hashes are unchanged: its e-mail keeps the dots and the +tag
    assert row.user_data["em"] == [sha256(b"kari.nordmann+ull@gmail.com").hexdigest()]
    stored = json.dumps(row.user_data)
    assert "postalCode" not in stored
    for raw in ("Kari", "Nordmann", "91234567", "Gmail"):
        assert raw not in stored
    assert payloads and all(GOOGLE_KEY not in p["user_data"] for p in payloads)


def test_a_refund_without_contact_data_keeps_googles_hashes(engine: Engine) -> None:
    refund = (FIXTURES / "refund_create.json").read_bytes()
    with engine.begin() as conn:
        process_delivery(conn, "shopify", "orders/paid", paid_body(), SHOP, now=NOW)
        process_delivery(conn, "shopify", "refunds/create", refund, SHOP, now=NOW)
    with engine.connect() as conn:
        row = conn.execute(select(orders.c.user_data, orders.c.gclid)).one()
    assert row.gclid == GCLID
    assert any("emailAddress" in i for i in identifiers(row.user_data))
