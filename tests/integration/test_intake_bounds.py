"""Bad input never breaks a shop (#15): absurd dates, huge integers, lone surrogates and unknown
currencies are field errors on all four intake endpoints; the JSON API answers 422 naming the field,
a signed webhook is answered 200 and parked as `rejected` with the reason (never retried), file
imports report the line and field and keep the rest; the dashboard bounds its query parameters.
After each, the shop's pages and report still answer 200, and a valid order is still stored and
priced (both engines)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from test_webhooks import (
    API_TOKEN,
    SettledClient,
    amounts,
    api_order,
    fixture_json,
    make_settings,
    shopify_headers,
    woo_headers,
)

from poas.services import intake
from poas.services.order_import import OrderImport
from poas.settings import Settings
from poas.store import inbox as inbox_store
from poas.store.orders import ensure_shop
from poas.store.tables.foundation import orders
from poas.store.tables.intake import inbox
from poas.web.app import create_app
from poas.web.auth import hash_password

PASSWORD = "bad-input-never-breaks-1"
ADMIN = {"Authorization": "Bearer admin-token-bounds-0123"}
API = {"Authorization": f"Bearer {API_TOKEN}"}
SOON = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
BAD_DAYS = ["9999-12-31", "0001-01-01", "1970-01-01", "1800-01-01", SOON]
SURROGATE = "\ud800"


def _settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        admin_password_hash=SecretStr(hash_password(PASSWORD)),
        session_secret=SecretStr("bounds-session-secret-0123456789abcdef"),
        admin_api_token=SecretStr(ADMIN["Authorization"].removeprefix("Bearer ")),
    )


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with SettledClient(create_app(_settings(tmp_path), engine), base_url="http://testserver") as c:
        page = c.get("/login").text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "login page has no CSRF field"
        r = c.post(
            "/login", data={"password": PASSWORD, "csrf_token": match.group(1)}, follow_redirects=False
        )
        assert r.status_code in (302, 303), r.text
        yield c


def dumps(data: Any) -> bytes:
    return json.dumps(data).encode()  # ensure_ascii: a lone surrogate goes out as the escape \ud800


def shopify_order(when: str | None = None, **changes: Any) -> dict[str, Any]:
    data = fixture_json("shopify/order_paid.json")
    if when is not None:
        data["created_at"] = data["processed_at"] = data["updated_at"] = when
    data.update(changes)
    return data


def woo_order(when: str | None = None, **changes: Any) -> dict[str, Any]:
    data = fixture_json("woocommerce/order_created.json")
    if when is not None:
        naive = when.removesuffix("Z")
        for key in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
            data[key] = naive
        data["date_paid"] = data["date_paid_gmt"] = naive
    data.update(changes)
    return data


def api_refund(when: str = "2026-11-23T09:00:00Z", **changes: Any) -> dict[str, Any]:
    refund = {"order_id": "A-100", "refund_id": "R-1", "processed_at": when, "shipping": "0"}
    refund.update(changes)
    return refund


class Sender:
    """Posts signed / authenticated bodies to the four intake endpoints."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.n = 0

    def _id(self) -> str:
        self.n += 1
        return f"hostile-{self.n}"

    def shopify(self, body: bytes, topic: str = "orders/paid") -> Any:
        return self.client.post(
            "/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, topic, self._id())
        )

    def woo(self, body: bytes) -> Any:
        return self.client.post(
            "/webhooks/woocommerce/kaffe",
            content=body,
            headers=woo_headers(body, "order.created", self._id()),
        )

    def api(self, path: str, body: bytes) -> Any:
        return self.client.post(path, content=body, headers={**API, "Content-Type": "application/json"})


def parked(engine: Engine, inbox_id: int) -> tuple[str, str, int]:
    with engine.connect() as conn:
        row = conn.execute(select(inbox).where(inbox.c.id == inbox_id)).one()
    return row.status, row.error or "", row.attempts


def assert_parked(engine: Engine, r: Any, field: str) -> None:
    """A webhook answered 200 whose delivery is parked as rejected at once, the field named."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["field"]) == ("rejected", field), body
    status, error, attempts = parked(engine, body["inbox_id"])
    assert status == "rejected" and attempts == 0
    assert error.startswith(f"invalid payload: {field}: "), error


def assert_refused(r: Any, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["detail"].startswith(f"{field}: ")


def assert_shop_works(client: TestClient, engine: Engine) -> None:
    """The shop's pages and report answer, and a valid order sent now is stored and priced."""
    for path in ("/", "/campaigns", "/products", "/orders"):
        r = client.get(path)
        assert r.status_code == 200 and "/login" not in str(r.url), (path, r.status_code)
    for shop in ("nordlys", "kaffe"):
        r = client.get(f"/api/v1/report?by=day&shop_id={shop}", headers=ADMIN)
        assert r.status_code == 200, (shop, r.text)
    client.post("/api/v1/orders", json={**api_order(), "order_id": "VALID-1"}, headers=API)
    assert amounts(engine, "kaffe", "VALID-1")["revenue_ex_vat"] == Decimal("840.00")


def stored_orders(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(orders.c.order_id)).all())


def test_dates_outside_the_shops_bounds_are_refused_on_every_endpoint(
    client: TestClient, engine: Engine
) -> None:
    send = Sender(client)
    for day in BAD_DAYS:
        when = f"{day}T10:00:00Z"
        assert_parked(engine, send.shopify(dumps(shopify_order(when))), "created_at")
        assert_parked(engine, send.woo(dumps(woo_order(when))), "date_created_gmt")
        assert_refused(send.api("/api/v1/orders", dumps({**api_order(), "created_at": when})), "created_at")
        assert_refused(send.api("/api/v1/refunds", dumps(api_refund(when))), "processed_at")
    # A Shopify refund's time and an order's later times are bounded too.
    refund = fixture_json("shopify/refund_create.json")
    refund["processed_at"] = refund["created_at"] = "9999-12-31T00:00:00Z"
    assert_parked(engine, send.shopify(dumps(refund), "refunds/create"), "processed_at")
    late = shopify_order(cancelled_at="9999-12-31T00:00:00Z")
    assert_parked(engine, send.shopify(dumps(late)), "cancelled_at")
    assert stored_orders(engine) == 0
    assert_shop_works(client, engine)


def test_earliest_order_date_is_the_shops_setting(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    kaffe = settings.shop("kaffe")
    assert kaffe is not None and kaffe.earliest_order_date == date(2000, 1, 1)
    older = Settings(
        **{
            **settings.model_dump(exclude={"shops"}),
            "shops": [s.model_copy(update={"earliest_order_date": date(1995, 1, 1)}) for s in settings.shops],
        }
    )
    order = {**api_order(), "order_id": "OLD-1", "created_at": "1999-06-01T10:00:00Z", "updated_at": None}
    with SettledClient(create_app(older, engine)) as c:
        assert c.post("/api/v1/orders", json=order, headers=API).status_code == 202
        r = c.post("/api/v1/orders", json={**order, "created_at": "1994-12-31T23:00:00Z"}, headers=API)
    assert_refused(r, "created_at")
    assert "earliest_order_date 1995-01-01" in r.json()["detail"]
    assert amounts(engine, "kaffe", "OLD-1")["revenue_ex_vat"] == Decimal("840.00")


def test_huge_integers_and_lone_surrogates_are_field_errors(client: TestClient, engine: Engine) -> None:
    send = Sender(client)
    huge = "9" * 5000
    # Integers: the body is JSON with a 5,000-digit number where an id or a quantity goes.
    shop_text = json.dumps(shopify_order()).replace('"id": 5830120800456', f'"id": {huge}', 1)
    assert_parked(engine, send.shopify(shop_text.encode()), "id")
    woo = woo_order()
    woo["line_items"][0]["quantity"] = 0  # replaced by the huge literal below
    woo_text = json.dumps(woo).replace('"quantity": 0', f'"quantity": {huge}', 1)
    assert_parked(engine, send.woo(woo_text.encode()), "line_items[0].quantity")
    api_text = json.dumps({**api_order(), "order_id": 0}).replace('"order_id": 0', f'"order_id": {huge}')
    assert_refused(send.api("/api/v1/orders", api_text.encode()), "order_id")
    refund_text = json.dumps(api_refund(refund_id=0)).replace('"refund_id": 0', f'"refund_id": -{huge}')
    assert_refused(send.api("/api/v1/refunds", refund_text.encode()), "refund_id")

    # Lone surrogates in an id, a name, a SKU and a title, on each endpoint.
    def line(data: dict[str, Any], key: str, value: str, field: str = "line_items") -> dict[str, Any]:
        data[field][0][key] = value
        return data

    bad = f"x{SURROGATE}y"
    for data, field in [
        (shopify_order(id=bad), "id"),
        (shopify_order(name=bad), "name"),
        (line(shopify_order(), "sku", bad), "line_items[0].sku"),
        (line(shopify_order(), "title", bad), "line_items[0].title"),
    ]:
        assert_parked(engine, send.shopify(dumps(data)), field)
    for data, field in [
        (woo_order(id=bad), "id"),
        (woo_order(number=bad), "number"),
        (line(woo_order(), "sku", bad), "line_items[0].sku"),
        (line(woo_order(), "name", bad), "line_items[0].name"),
    ]:
        assert_parked(engine, send.woo(dumps(data)), field)
    for data, field in [
        ({**api_order(), "order_id": bad}, "order_id"),
        ({**api_order(), "name": bad}, "name"),
        (line(api_order(), "sku", bad, "lines"), "lines[0].sku"),
        (line(api_order(), "title", bad, "lines"), "lines[0].title"),
    ]:
        assert_refused(send.api("/api/v1/orders", dumps(data)), field)
    assert_refused(send.api("/api/v1/refunds", dumps(api_refund(refund_id=bad))), "refund_id")
    # The same surrogate sent as raw (CESU-style) bytes instead of an escape.
    raw = dumps(shopify_order(name="x-marker-y")).replace(b"x-marker-y", b"x\xed\xa0\x80y")
    assert_parked(engine, send.shopify(raw), "name")
    assert stored_orders(engine) == 0
    assert_shop_works(client, engine)


def test_unknown_currencies_are_refused_on_the_webhooks(client: TestClient, engine: Engine) -> None:
    send = Sender(client)
    for code in ("XYZ", "BTC", "XAU", "123", 123):
        assert_parked(engine, send.shopify(dumps(shopify_order(currency=code))), "currency")
        assert_parked(engine, send.woo(dumps(woo_order(currency=code))), "currency")
        assert_refused(send.api("/api/v1/orders", dumps({**api_order(), "currency": code})), "currency")
    assert stored_orders(engine) == 0
    assert_shop_works(client, engine)


def test_a_parked_delivery_is_not_retried_and_a_repeat_is_a_duplicate(
    client: TestClient, engine: Engine
) -> None:
    body = dumps(shopify_order(currency="XYZ"))
    headers = shopify_headers(body, "orders/paid", "same-event")
    first = client.post("/webhooks/shopify/nordlys", content=body, headers=headers)
    assert_parked(engine, first, "currency")
    again = client.post("/webhooks/shopify/nordlys", content=body, headers=headers)  # the platform retries
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    stats = intake.process_pending(
        engine, datetime.now(UTC) + timedelta(days=2), settings=client.app.state.settings
    )  # type: ignore[attr-defined]
    assert stats.claimed == 0  # nothing due: a rejected row is never claimed
    assert parked(engine, first.json()["inbox_id"])[0] == "rejected"


def test_dashboard_offsets_are_bounded(client: TestClient) -> None:
    r = client.get("/orders?offset=9223372036854775808")
    assert 400 <= r.status_code < 500, r.status_code
    assert client.get("/orders?offset=-1").status_code == 422
    assert client.get("/orders?offset=1000000000").status_code == 200  # past the end: an empty page
    r = client.get("/api/v1/orders?offset=9223372036854775808", headers=ADMIN)
    assert 400 <= r.status_code < 500, r.status_code
    for path in ("/campaigns", "/products", "/"):
        r = client.get(f"{path}?from=0001-01-01&to=9999-12-31")
        assert r.status_code < 500, (path, r.status_code)
        r = client.get(f"{path}?from=9999-99-99")
        assert r.status_code < 500, (path, r.status_code)


# ---- processing: a body that can never be processed is parked at once -----------------------------


def _accept(engine: Engine, body: bytes, topic: str, key: str, received: datetime) -> int:
    delivery = inbox_store.Delivery(
        shop_id="nordlys", source="shopify", topic=topic, dedup_key=key, body=body, received_at=received
    )
    row_id, new = intake.accept(engine, delivery, now=received)
    assert new
    return row_id


def test_an_accepted_body_that_breaks_the_bounds_is_parked_not_retried(
    engine: Engine, tmp_path: Path
) -> None:
    """A row accepted before the bounds existed (an upgrade) is parked as rejected on its first try,
    while a transient failure next to it (a shop missing from the settings) is still retried."""
    settings = _settings(tmp_path)
    now = datetime.now(UTC)
    old = _accept(engine, dumps(shopify_order("1999-06-01T10:00:00Z")), "orders/paid", "old", now)
    far = _accept(engine, dumps(shopify_order("9999-12-31T10:00:00Z", id=42)), "orders/paid", "far", now)
    gone = inbox_store.Delivery(
        shop_id="gone",
        source="shopify",
        topic="orders/paid",
        dedup_key="g",
        body=dumps(shopify_order()),
        received_at=now,
    )
    intake.accept(engine, gone, now=now)
    stats = intake.process_pending(engine, now, settings=settings)
    assert (stats.claimed, stats.rejected, stats.retrying, stats.done) == (3, 2, 1, 0)
    status, error, attempts = parked(engine, old)
    assert (status, attempts) == ("rejected", 1)
    assert (
        error == "invalid payload: created_at: 1999-06-01 is before the shop's earliest_order_date 2000-01-01"
    )
    assert parked(engine, far)[1].startswith("invalid payload: created_at: 9999-12-31 is more than a day")
    later = now + timedelta(days=1)
    assert intake.process_pending(engine, later, settings=settings).rejected == 0  # never claimed again

    # `poas inbox retry ID` makes it due again; its stored (reduced) body gives the same answer.
    with engine.begin() as conn:
        assert inbox_store.retry(conn, now=later, ids=[old]) == 1
    stats = intake.process_pending(engine, later, settings=settings)
    assert (stats.claimed, stats.rejected) == (1, 1)
    assert parked(engine, old) == ("rejected", error, 2)
    assert parked(engine, far)[0] == "rejected"


def test_file_import_reports_the_line_and_field_and_keeps_the_rest(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    shop = settings.shop("kaffe")
    assert shop is not None
    lines = []
    for i, when in enumerate(
        ["2026-11-22T10:00:00Z", "1800-01-01T00:00:00Z", "2026-11-22T11:00:00Z", None, None]
    ):
        order = {**api_order(), "order_id": f"F-{i}", "updated_at": None}
        if when is not None:
            order["created_at"] = when
        lines.append(json.dumps(order))
    lines[3] = json.dumps({**api_order(), "order_id": "F-3"}).replace(
        '"quantity": 2', '"quantity": ' + "7" * 5000
    )
    lines[4] = json.dumps({**api_order(), "order_id": "F-4", "name": f"x{SURROGATE}"})
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, datetime.now(UTC))
    with OrderImport(engine, shop, workers=0) as imp:
        report = imp.run(path)
    assert (report.accepted, report.rejected) == (2, 3)
    got = [(e.line, e.field) for e in report.errors]
    assert got == [(2, "created_at"), (4, "lines[0].quantity"), (5, "name")], got
    assert "before the shop's earliest_order_date 2000-01-01" in report.errors[0].message
