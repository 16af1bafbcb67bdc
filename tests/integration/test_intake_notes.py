"""Every inbox outcome's note says what happened: the order stored or kept, the Purchase queued (with
its event_id), queued earlier, or why not; for stale deliveries, which version was kept and what
they added. Customers are not subscribed to e-mail marketing (tests/integration/history_payloads.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from history_payloads import SHOPIFY_ORDER_ID, WOO_ORDER_ID, shopify_deliveries, woo_deliveries
from sqlalchemy import Connection, Engine, func, select

from poas.services.intake import EDIT_NOTE, process_delivery
from poas.settings import ShopConfig
from poas.store.orders import load_order
from poas.store.tables.delivery import outbox

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PIXEL = "1234567890123456"
QUEUED = f"Purchase queued (event_id {SHOPIFY_ORDER_ID})"
SHOPIFY = dict(shopify_deliveries())
WOO = woo_deliveries()


def shop(**settings: Any) -> ShopConfig:
    base: dict[str, Any] = {"id": "nordlys", "platform": "shopify", "default_margin": Decimal("0.5")}
    return ShopConfig(**{**base, "pixel_id": PIXEL, **settings})


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as c:
        yield c


def deliver(
    conn: Connection, topic: str, body: bytes | None = None, s: ShopConfig | None = None
) -> tuple[str, str]:
    source = "woocommerce" if topic.startswith("order.") else "shopify"
    status, note, _ = process_delivery(conn, source, topic, body or SHOPIFY[topic], s or shop(), now=NOW)
    return status, note


def purchases(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


def changed(topic: str, **fields: Any) -> bytes:
    doc = json.loads(SHOPIFY[topic])
    doc.update(fields)
    return json.dumps(doc).encode()


def test_queued_then_queued_earlier(conn: Connection) -> None:
    assert deliver(conn, "orders/paid") == ("done", f"order stored; profit snapshot v1; {QUEUED}")
    again = deliver(conn, "orders/paid")
    assert again == (
        "done",
        f"order updated; profit unchanged; Purchase already queued earlier (event_id {SHOPIFY_ORDER_ID}), "
        "nothing new queued",
    )
    assert purchases(conn) == 1


def test_not_the_trigger_and_not_paid_yet(conn: Connection) -> None:
    assert deliver(conn, "orders/create") == (
        "done",
        "order stored; profit snapshot v1; no purchase queued: not paid yet (financial_status pending); "
        "orders/paid sends it",
    )
    _status, note = deliver(conn, "orders/updated")
    assert note.endswith("no purchase queued: orders/updated is not the purchase trigger (orders/paid is)")
    on_create = shop(events={"purchase_topic": "create"})
    assert deliver(conn, "orders/paid", s=on_create.model_copy(update={"id": "other"}))[1].endswith(
        "no purchase queued: orders/paid is not the purchase trigger (orders/create is)"
    )
    assert purchases(conn) == 0


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"consent_default": "denied"}, "no purchase queued: no ads consent: shop default denied for NO"),
        ({"pixel_id": None}, "no purchase queued: shop nordlys has no pixel_id configured"),
        ({"missing_cost": "skip", "default_margin": None}, "no purchase queued: profit not sendable: "),
        (
            {"missing_cost": "block", "default_margin": None},
            "no purchase queued: no profit could be computed",
        ),
    ],
)
def test_purchase_not_queued_says_why(conn: Connection, settings: dict[str, Any], reason: str) -> None:
    status, note = deliver(conn, "orders/paid", s=shop(**settings))
    assert status == "done" and note.startswith("order stored; ")
    assert reason in note, note
    assert "queued (event_id" not in note and purchases(conn) == 0
    if settings.get("missing_cost") == "block":
        assert "; no profit: " in note


def test_stale_says_what_was_kept(conn: Connection) -> None:
    deliver(conn, "orders/updated")
    assert deliver(conn, "orders/create") == (
        "skipped",
        "stale (2026-11-20 13:03:12 < stored 2026-11-20 14:03:12): kept the stored version; nothing changed",
    )
    # A late purchase trigger queues the Purchase for the stored (newer) version.
    assert deliver(conn, "orders/paid") == (
        "done",
        f"stale (2026-11-20 13:03:15 < stored 2026-11-20 14:03:12): kept the stored version; "
        f"order updated; profit unchanged; {QUEUED}",
    )
    assert purchases(conn) == 1
    order = load_order(conn, "nordlys", SHOPIFY_ORDER_ID)
    assert order is not None and order.lines[-1].sku == "SKJERF-ULL"


def test_a_stale_cancellation_is_kept(conn: Connection) -> None:
    later = changed("orders/updated", updated_at="2026-11-20T16:00:00+01:00")  # says nothing of it
    deliver(conn, "orders/updated", later)
    status, note = deliver(conn, "orders/cancelled")
    assert status == "done" and note.startswith(
        "stale (2026-11-20 14:33:12 < stored 2026-11-20 15:00:00): kept the stored version and added this "
        "delivery's cancellation and cancel reason; order updated; profit "
    )
    newest = changed("orders/updated", updated_at="2026-11-20T17:00:00+01:00")
    status, note = deliver(conn, "orders/updated", newest)
    assert note.startswith("kept cancellation and cancel reason of an older version; order updated; ")
    order = load_order(conn, "nordlys", SHOPIFY_ORDER_ID)
    assert order is not None and order.cancelled_at == datetime(2026, 11, 20, 14, 33, 11, tzinfo=UTC)


def test_refund_notes(conn: Connection) -> None:
    assert deliver(conn, "refunds/create") == ("done", "refund 1020304050 kept until its order arrives")
    deliver(conn, "orders/paid")
    _status, note = deliver(conn, "refunds/create")
    assert note == "refund 1020304050 merged again (a known refund id); order updated; profit unchanged"
    other = json.loads(SHOPIFY["refunds/create"])
    other["id"] = 1020304051
    assert deliver(conn, "refunds/create", json.dumps(other).encode()) == (
        "done",
        "refund 1020304051 merged; order updated; profit snapshot v2",
    )


def test_test_orders_and_order_edits_store_nothing(conn: Connection) -> None:
    assert deliver(conn, "orders/paid", changed("orders/paid", test=True)) == (
        "skipped",
        "test order: not ingested",
    )
    assert deliver(conn, "orders/edited") == ("skipped", EDIT_NOTE)
    assert load_order(conn, "nordlys", SHOPIFY_ORDER_ID) is None


def test_woocommerce_payment_notes(conn: Connection) -> None:
    kaffe = shop(id="kaffe", platform="woocommerce")
    _, created = WOO[0]
    cancelled = json.loads(created)
    cancelled["status"] = "cancelled"
    _status, note = deliver(conn, "order.updated", json.dumps(cancelled).encode(), kaffe)
    assert note.endswith("no purchase queued: not a paid order: status cancelled")
    kaffe = kaffe.model_copy(update={"id": "kaffe2"})
    _, processing = WOO[1]
    assert deliver(conn, "order.updated", processing, kaffe)[1].endswith(
        "no purchase queued: not paid yet: processing without date_paid_gmt "
        "(cash on delivery is paid when completed)"
    )
    _, completed = WOO[3]
    assert json.loads(completed)["date_paid_gmt"] is None
    assert deliver(conn, "order.updated", completed, kaffe)[1].endswith(
        f"Purchase queued (event_id {WOO_ORDER_ID})"
    )
