"""No raw personal data at rest: after orders with known contact data arrive (Shopify and WooCommerce
webhooks, the JSON API), are processed, fail, are retried and parked, neither the SQLite files (the
database, its -wal and -shm, read as bytes) nor any column of any table (PostgreSQL) holds an e-mail
address, a phone number in any common format, a first or last name, a street, the order page's
access token or a tracking number. Only hashes (and the browser fields Meta takes as they are)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, select
from test_webhooks import (
    API_TOKEN,
    SettledClient,
    fixture_json,
    make_settings,
    shopify_headers,
    woo_headers,
)

from poas.domain.pii import hash_field
from poas.services import intake
from poas.store import wal
from poas.store.inbox import Delivery
from poas.store.orders import load_user_data
from poas.store.tables.foundation import orders
from poas.store.tables.intake import inbox, intake_orders
from poas.web.app import create_app

STATUS_TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
STATUS_KEY = "c0ffee5ecret0a1b2c3d4e5f60718293"
TRACKING = "LX998877665NO"
WOO_ORDER_KEY = "wc_order_Zq8Xk2PpLm4Ab"


def person(first: str, last: str, email: str, phone: str, street: str) -> dict[str, str]:
    return {"first": first, "last": last, "email": email, "phone": phone, "street": street}


A = person(
    "Sigvaldi", "Brekkestuen", "sigvaldi.brekkestuen@posteksempel.no", "+47 412 98 765", "Trollveien 42B"
)
B = person("Gunnhild", "Skarvebakken", "gunnhild.skarve@kaffe-eksempel.no", "+47 93 87 65 21", "Fjordgata 17")
C = person("Halvard", "Aasmundstad", "halvard.aasmundstad@api-eksempel.no", "+4799112233", "Lerkeveien 8")
D = person("Ingebjorg", "Vassbotnen", "ingebjorg.vassbotnen@post.example", "(+47) 466 55 443", "Myrveien 5")
E = person("Oddleif", "Hammerstrand", "oddleif.hammerstrand@post.example", "+47 415-66-778", "Hammerveien 3")
F = person("Reidunn", "Tveitedalen", "reidunn.tveitedalen@post.example", "+47 482 11 907", "Bekkeveien 12")
PEOPLE = (A, B, C, D, E, F)


def needles(p: dict[str, str]) -> list[bytes]:
    """Every form of the person's data that must not be found: the e-mail (and its local part), the
    phone as written and as bare digits with and without the country code, names, the street."""
    digits = "".join(ch for ch in p["phone"] if ch.isdigit())
    national = digits[2:] if digits.startswith("47") else digits
    forms = {p["email"], p["email"].split("@")[0], p["phone"], digits, national, "+" + digits}
    forms |= {p["first"], p["last"], p["street"], p["street"].split()[0]}
    return [f.encode() for f in forms]


FORBIDDEN = [n for p in PEOPLE for n in needles(p)] + [
    x.encode() for x in (STATUS_TOKEN, STATUS_KEY, TRACKING, WOO_ORDER_KEY)
]


def shopify_address(p: dict[str, str]) -> dict[str, Any]:
    return {
        "first_name": p["first"],
        "last_name": p["last"],
        "address1": p["street"],
        "address2": "",
        "city": "Oslo",
        "zip": "0155",
        "province": None,
        "province_code": None,
        "country": "Norway",
        "country_code": "NO",
        "phone": p["phone"],
        "company": None,
        "name": f"{p['first']} {p['last']}",
        "latitude": 59.9139,
        "longitude": 10.7522,
    }


def shopify_order(p: dict[str, str], order_id: int, *, name: str) -> dict[str, Any]:
    """Shopify's documented orders/paid shape for a customer not subscribed to e-mail marketing, with
    `p`'s contact data everywhere Shopify puts it, the order page link, tracking, free text, a gift
    note attribute and an engraving line property, and the banner's ads consent attribute."""
    data = fixture_json("shopify/order_paid_not_subscribed.json")
    data.update(id=order_id, name=name, email=p["email"], contact_email=p["email"], phone=p["phone"])
    data["order_status_url"] = (
        f"https://nordlys.example/70000000/orders/{STATUS_TOKEN}/authenticate?key={STATUS_KEY}"
    )
    data["token"] = STATUS_TOKEN
    data["note"] = f"Ring {p['first']} på {p['phone']} før levering"
    data["note_attributes"] = [
        *data["note_attributes"],
        {"name": "gift message", "value": f"Til {p['first']} {p['last']}"},
        {"name": "_consent_ads", "value": "granted"},
    ]
    data["billing_address"] = data["shipping_address"] = shopify_address(p)
    customer = data["customer"]
    customer.update(email=p["email"], first_name=p["first"], last_name=p["last"], phone=p["phone"])
    customer["default_address"] = shopify_address(p)
    data["line_items"][0]["properties"] = [{"name": "Engraving", "value": f"{p['first']} {p['last']}"}]
    data["fulfillments"] = [
        {
            "id": 255858046,
            "order_id": order_id,
            "status": "success",
            "tracking_company": "Posten",
            "tracking_number": TRACKING,
            "tracking_numbers": [TRACKING],
            "tracking_url": f"https://sporing.posten.no/sporing/{TRACKING}",
            "tracking_urls": [f"https://sporing.posten.no/sporing/{TRACKING}"],
            "line_items": [],
        }
    ]
    return data


def woo_order(p: dict[str, str]) -> dict[str, Any]:
    """WooCommerce's REST v3 order (order.created) with `p`'s data in billing, shipping, the customer's
    note, a plugin's address index meta, the order key and the payment link."""
    data = fixture_json("woocommerce/order_created.json")
    address = {
        "first_name": p["first"],
        "last_name": p["last"],
        "company": "",
        "address_1": p["street"],
        "address_2": "",
        "city": "Bergen",
        "state": "",
        "postcode": "5003",
        "country": "NO",
    }
    data["billing"] = {**address, "email": p["email"], "phone": p["phone"]}
    data["shipping"] = {**address, "phone": p["phone"]}
    data["customer_note"] = f"Lever til {p['first']} {p['last']}"
    data["order_key"] = WOO_ORDER_KEY
    data["payment_url"] = (
        f"https://kaffebutikk.example/kasse/order-pay/4711/?pay_for_order=true&key={WOO_ORDER_KEY}"
    )
    data["meta_data"] = [
        *data["meta_data"],
        {"id": 5101, "key": "_billing_address_index", "value": f"{p['first']} {p['last']} {p['street']}"},
        {"id": 5102, "key": "_consent_ads", "value": "granted"},
    ]
    data["line_items"][0]["meta_data"].append({"id": 4010, "key": "Gravering", "value": p["last"]})
    return data


def api_order(p: dict[str, str]) -> dict[str, Any]:
    return {
        "order_id": "A-PII-1",
        "created_at": "2026-11-22T10:00:00+01:00",
        "currency": "NOK",
        "financial_status": "paid",
        "lines": [
            {"line_id": "1", "quantity": 1, "unit_price": "500.00", "sku": "KVERN-01", "tax": "100.00"}
        ],
        "customer": {
            "email": p["email"],
            "phone": p["phone"],
            "first_name": p["first"],
            "last_name": p["last"],
            "city": "Oslo",
            "country": "NO",
        },
    }


def dump_tables(engine: Engine) -> bytes:
    """Every column of every table (text, JSON, bytes, numbers) as bytes."""
    meta = MetaData()
    meta.reflect(engine)
    out: list[bytes] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        out.append(bytes(value))
                    elif value is not None:
                        out.append(json.dumps(value, default=str, ensure_ascii=False).encode())
    return b"\n".join(out)


def found(blob: bytes) -> list[str]:
    return [n.decode() for n in FORBIDDEN if n in blob]


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with SettledClient(create_app(make_settings(tmp_path), engine)) as c:
        yield c


def _post_shopify(client: TestClient, data: dict[str, Any], topic: str, event: str) -> dict[str, Any]:
    body = json.dumps(data).encode()
    r = client.post("/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, topic, event))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_no_raw_personal_data_at_rest(
    client: TestClient, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    # Shopify: an order and its refund (a staff note naming the customer).
    assert _post_shopify(client, shopify_order(A, 5830120800777, name="#1077"), "orders/paid", "p1")[
        "status"
    ] == ("accepted")
    refund = fixture_json("shopify/refund_create.json")
    refund.update(order_id=5830120800777, note=f"Refundert til {A['first']} {A['last']}")
    _post_shopify(client, refund, "refunds/create", "p2")
    # WooCommerce.
    body = json.dumps(woo_order(B)).encode()
    r = client.post(
        "/webhooks/woocommerce/kaffe", content=body, headers=woo_headers(body, "order.created", "w1")
    )
    assert r.status_code == 200, r.text
    # The JSON API.
    r = client.post("/api/v1/orders", json=api_order(C), headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert r.status_code == 202, r.text
    # A signed Shopify body that can never be processed (a negative quantity): parked at once.
    bad = shopify_order(D, 5830120800888, name="#1088")
    bad["line_items"][0]["quantity"] = -1
    parked = _post_shopify(client, bad, "orders/paid", "p3")
    assert parked["status"] == "rejected" and parked["field"] == "line_items[0].quantity"
    # Raw bodies as 0.x stored them (pending at the upgrade): one processed, one for a shop removed
    # from the settings, which fails, is retried and is parked.
    settings = client.app.state.settings  # type: ignore[attr-defined]
    legacy = [
        (E, "nordlys", 5830120800999, "#1099"),
        (F, "gone", 5830120801000, "#1100"),
    ]
    for p, shop_id, order_id, name in legacy:
        raw = json.dumps(shopify_order(p, order_id, name=name)).encode()
        intake.accept(
            engine,
            Delivery(shop_id, "shopify", "orders/paid", f"legacy-{order_id}", raw, received_at=now),
            now=now,
        )
    at = now
    for _ in range(intake.MAX_ATTEMPTS):
        intake.process_pending(engine, at, settings=settings)
        at += intake.MAX_DELAY
    with engine.connect() as conn:
        states = dict(conn.execute(select(inbox.c.dedup_key, inbox.c.status)).all())
        kept_bodies = [bytes(b) for b in conn.execute(select(inbox.c.body)).scalars() if b is not None]
        payloads = list(conn.execute(select(intake_orders.c.payload)).scalars())
        consent = dict(conn.execute(select(orders.c.order_id, orders.c.consent_ads_tracking)).all())
        user_data = load_user_data(conn, "nordlys", "5830120800777")
    assert states["event:p1"] == "done" and states["event:p2"] == "done" and states["w1"] == "done"
    assert states["event:p3"] == "rejected"
    assert states["legacy-5830120800999"] == "done" and states["legacy-5830120801000"] == "failed"
    assert len(kept_bodies) == 2  # the rejected and the failed row keep their (private) bodies
    # What is kept still works: the consent attribute survived storage, the hashes are the customer's.
    assert consent["5830120800777"] is True and consent["4711"] is True
    assert user_data is not None
    assert user_data["em"] == [hash_field("em", A["email"])]
    assert user_data["ph"] == [hash_field("ph", A["phone"], "NO")]
    assert user_data["ln"] == [hash_field("ln", A["last"])]
    assert any(p and p.get("note_attributes") for p in payloads)  # _fbc/_fbp/_consent_ads kept
    # The failed legacy delivery was kept as its private form: the shop comes back, a retry stores it.
    fixed = settings.model_copy(
        update={"shops": [*settings.shops, settings.shops[0].model_copy(update={"id": "gone"})]}
    )
    with engine.begin() as conn:
        assert intake.inbox.retry(conn, now=at) == 1
    assert intake.process_pending(engine, at, settings=fixed).done == 1
    with engine.connect() as conn:
        gone = load_user_data(conn, "gone", "5830120801000")
    assert gone is not None and gone["em"] == [hash_field("em", F["email"])]

    assert found(dump_tables(engine)) == []
    if not db_url.startswith("sqlite"):
        return
    # SQLite: the files themselves. The legacy bodies were written raw: only secure_delete (cleared
    # cells zeroed) and the WAL checkpoint (old frames gone) take them off the disk.
    path = Path(db_url.split("///", 1)[1])
    checkpoint = wal.checkpoint(engine)
    assert checkpoint is not None and not checkpoint.busy
    files = [
        f
        for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
        if f.exists()
    ]
    assert path in files
    for f in files:
        assert found(f.read_bytes()) == [], f.name


def test_wal_holds_cleared_bodies_until_the_checkpoint(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """Why the worker checkpoints: a raw body cleared by processing is still in the WAL's older
    frames until the checkpoint truncates it (SQLite only; PostgreSQL has nothing to do)."""
    if not db_url.startswith("sqlite"):
        assert wal.checkpoint(engine) is None
        return
    path = Path(db_url.split("///", 1)[1])
    log = path.with_name(path.name + "-wal")
    now = datetime.now(UTC)
    raw = json.dumps(shopify_order(E, 5830120800999, name="#1099")).encode()
    intake.accept(
        engine, Delivery("nordlys", "shopify", "orders/paid", "legacy", raw, received_at=now), now=now
    )
    stats = intake.process_pending(engine, now + timedelta(seconds=1), settings=make_settings(tmp_path))
    assert stats.done == 1
    assert E["email"].encode() in log.read_bytes()  # cleared from the table, not yet from the log
    checkpoint = wal.checkpoint(engine)
    assert checkpoint is not None and not checkpoint.busy and checkpoint.checkpointed == checkpoint.log_frames
    assert log.read_bytes() == b""
    assert E["email"].encode() not in path.read_bytes()  # secure_delete zeroed the cleared cell
