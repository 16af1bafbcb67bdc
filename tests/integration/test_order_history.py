"""Order history cannot lose an edit: whatever order one order's webhooks arrive in, the store ends
where in-order delivery leaves it — order row, lines, refunds, profit, one Purchase, same event_id.

Every permutation is replayed through `services.intake.process_delivery` (what the inbox workers do
per row) in one transaction, each for a fresh shop with its own pixel; the webhook route itself is
covered by the HTTP test below. Profit is compared by the latest snapshot's values (amounts, sendable,
reason, lines without cost): a snapshot version is added only when those change, so its breakdown
text can still describe the version that last changed them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from history_payloads import SHOPIFY_ORDER_ID, WOO_ORDER_ID, shopify_deliveries, woo_deliveries
from sqlalchemy import Connection, Engine, Table, select
from test_webhooks import SettledClient, make_settings, shopify_headers

from poas.services.intake import process_delivery
from poas.settings import ShopConfig
from poas.store.orders import load_order
from poas.store.snapshots import latest_snapshot
from poas.store.tables.delivery import outbox
from poas.store.tables.foundation import order_lines, order_shipping_lines, orders, refund_lines, refunds
from poas.store.tables.intake import inbox
from poas.web.app import create_app

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
Replay = tuple[dict[str, Any], list[tuple[str, str, str | None]]]


def shop_for(n: int, platform: str) -> ShopConfig:
    return ShopConfig(
        id=f"{platform[:4]}{n:04d}",
        platform=platform,  # type: ignore[arg-type]
        default_margin=Decimal("0.5"),
        pixel_id=str(10**15 + n),  # a pixel per shop: the outbox key is (pixel, event name, event id)
    )


def _rows(conn: Connection, table: Table, shop_id: str, *order_by: str) -> list[dict[str, Any]]:
    query = select(table).where(table.c.shop_id == shop_id).order_by(*(table.c[c] for c in order_by))
    return [
        {k: v for k, v in r._mapping.items() if k not in ("shop_id", "ingested_at")}
        for r in conn.execute(query)
    ]


def stored_state(conn: Connection, shop_id: str, order_id: str) -> dict[str, Any]:
    snap = latest_snapshot(conn, shop_id, order_id)
    events = conn.execute(
        select(outbox.c.event_name, outbox.c.event_id)
        .where(outbox.c.shop_id == shop_id)
        .order_by(outbox.c.id)
    )
    return {
        "order": _rows(conn, orders, shop_id, "order_id"),
        "lines": _rows(conn, order_lines, shop_id, "position"),
        "shipping": _rows(conn, order_shipping_lines, shop_id, "position"),
        "refunds": _rows(conn, refunds, shop_id, "refund_id"),
        "refund_lines": _rows(conn, refund_lines, shop_id, "refund_id", "position"),
        "profit": None
        if snap is None
        else (
            dict(snap.amounts),
            snap.sendable,
            snap.sendable_reason,
            snap.missing_cost_lines,
        ),
        "events": [tuple(e) for e in events],
    }


def replay(
    engine: Engine,
    source: str,
    deliveries: Sequence[tuple[str, bytes]],
    order: Sequence[int],
    shop: ShopConfig,
) -> Replay:
    order_id = SHOPIFY_ORDER_ID if source == "shopify" else WOO_ORDER_ID
    with engine.begin() as conn:
        notes = [process_delivery(conn, source, *deliveries[i], shop, now=NOW) for i in order]
        return stored_state(conn, shop.id, order_id), notes


def differences(got: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    return [key for key in expected if got[key] != expected[key]]


def check_every_permutation(
    engine: Engine, source: str, deliveries: list[tuple[str, bytes]]
) -> dict[str, Any]:
    """Replay every delivery order; returns the in-order state after checking each one ends there,
    with exactly one note saying the Purchase was queued (and none saying so falsely)."""
    expected, notes = replay(engine, source, deliveries, range(len(deliveries)), shop_for(0, source))
    wrong: list[tuple[tuple[int, ...], list[str]]] = []
    for n, order in enumerate(itertools.permutations(range(len(deliveries)))):
        if n == 0:
            continue
        got, notes = replay(engine, source, deliveries, order, shop_for(n, source))
        queued = [note for _, note, _ in notes if "Purchase queued" in note]
        assert len(queued) == 1, (order, [note for _, note, _ in notes])
        if got != expected:
            wrong.append((order, differences(got, expected)))
    assert wrong == [], f"{len(wrong)} delivery orders end elsewhere, e.g. {wrong[:3]}"
    return expected


def test_every_order_of_shopify_deliveries_ends_in_the_in_order_state(engine: Engine) -> None:
    deliveries = shopify_deliveries()
    expected, notes = replay(engine, "shopify", deliveries, range(6), shop_for(9999, "shopify"))
    (order,) = expected["order"]
    # The in-order state is the right one: the edit (the scarf), the cancellation, the later refund.
    assert order["updated_at"] == datetime(2026, 11, 20, 14, 33, 12, tzinfo=UTC)  # the cancellation's
    assert order["cancelled_at"] == datetime(2026, 11, 20, 14, 33, 11, tzinfo=UTC)
    assert [ln["sku"] for ln in expected["lines"]] == ["ULL-GENSER-M-GRA", "LUE-ULL-SORT", "SKJERF-ULL"]
    assert [(r["refund_id"], r["processed_at"]) for r in expected["refunds"]] == [
        ("1020304050", datetime(2026, 11, 20, 15, 3, 11, tzinfo=UTC))
    ]
    assert expected["events"] == [("Purchase", SHOPIFY_ORDER_ID)]
    assert expected["profit"] is not None
    amounts = expected["profit"][0]
    # 2019.20 revenue ex VAT - 970 cogs (50 % default margin) = 1049.20; the refunded sweater takes
    # 720.00 revenue (1000 - 100 discount, without 25 % VAT) and gives back 360.00 cogs.
    assert (amounts["gross_profit"], amounts["realized_profit"]) == (Decimal("1049.20"), Decimal("689.20"))
    assert [status for status, _, _ in notes] == ["done", "done", "skipped", "done", "done", "done"]
    assert check_every_permutation(engine, "shopify", deliveries)["events"] == expected["events"]


def test_every_order_of_woocommerce_deliveries_ends_in_the_in_order_state(engine: Engine) -> None:
    deliveries = woo_deliveries()
    expected, notes = replay(engine, "woocommerce", deliveries, range(5), shop_for(9999, "woocommerce"))
    (order,) = expected["order"]
    assert order["updated_at"] == datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
    # Completed without date_paid_gmt: paid when completed (docs/formats.md), so it is a purchase.
    assert order["processed_at"] == datetime(2026, 11, 21, 11, 30, tzinfo=UTC)
    assert [ln["quantity"] for ln in expected["lines"]] == [1, 3, 1]  # the edit: 3 filters; the fee line
    assert [r["refund_id"] for r in expected["refunds"]] == ["4790"]
    assert expected["events"] == [("Purchase", WOO_ORDER_ID)]
    purchase_notes = [note.split("; ")[-1] for _, note, _ in notes]
    assert purchase_notes == [
        "no purchase queued: not paid yet: status pending",
        "no purchase queued: not paid yet: processing without date_paid_gmt "
        "(cash on delivery is paid when completed)",
        "no purchase queued: not paid yet: processing without date_paid_gmt "
        "(cash on delivery is paid when completed)",
        f"Purchase queued (event_id {WOO_ORDER_ID})",
        f"Purchase already queued earlier (event_id {WOO_ORDER_ID}), nothing new queued",
    ]
    assert check_every_permutation(engine, "woocommerce", deliveries)["events"] == expected["events"]


# ---- over HTTP: the reported case, and a cancellation arriving after a later refund ---------------


def _post(client: TestClient, topic: str, body: bytes, event_id: str) -> None:
    r = client.post("/webhooks/shopify/nordlys", content=body, headers=shopify_headers(body, topic, event_id))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text


def test_an_edit_arriving_after_a_later_refund_is_kept_over_http(engine: Engine, tmp_path: Path) -> None:
    topics = dict(shopify_deliveries())
    with SettledClient(create_app(make_settings(tmp_path), engine)) as client:
        for n, topic in enumerate(("orders/create", "orders/paid", "refunds/create", "orders/updated")):
            _post(client, topic, topics[topic], f"h{n}")
        with engine.connect() as conn:
            order = load_order(conn, "nordlys", SHOPIFY_ORDER_ID)
            notes = list(conn.execute(select(inbox.c.topic, inbox.c.outcome).order_by(inbox.c.id)))
        assert order is not None
        assert [ln.sku for ln in order.lines][
            -1
        ] == "SKJERF-ULL"  # the edit made 1 h in, after the 2 h refund
        assert [r.refund_id for r in order.refunds] == ["1020304050"]  # and the refund is still there
        assert order.updated_at == datetime(2026, 11, 20, 14, 3, 12, tzinfo=UTC)
        assert notes[-1].outcome.startswith("order updated; profit snapshot v")
        assert notes[-1].outcome.endswith(
            "no purchase queued: orders/updated is not the purchase trigger (orders/paid is)"
        )
        _post(client, "orders/cancelled", topics["orders/cancelled"], "h4")
        with engine.connect() as conn:
            cancelled = load_order(conn, "nordlys", SHOPIFY_ORDER_ID)
            purchases = conn.execute(select(outbox.c.event_id).where(outbox.c.event_name == "Purchase")).all()
    assert cancelled is not None and cancelled.cancelled_at == datetime(2026, 11, 20, 14, 33, 11, tzinfo=UTC)
    assert [r.refund_id for r in cancelled.refunds] == ["1020304050"]
    assert [p.event_id for p in purchases] == [SHOPIFY_ORDER_ID]
    body = json.loads(topics["orders/paid"])
    assert body["customer"]["email_marketing_consent"]["state"] == "not_subscribed"
