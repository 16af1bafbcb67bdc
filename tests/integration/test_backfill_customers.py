"""A bulk backfill (which places its customers once, at the end) stores exactly the customers and
customer_orders rows that ingesting the same orders one by one (as webhooks do) stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from test_backfill_pool import bulk_file

from poas.domain.order import Order
from poas.services.backfill import backfill, backfill_records
from poas.services.ingest import ingest_order
from poas.settings import ShopConfig
from poas.store.customers import order_types
from poas.store.tables.customers import customer_orders, customers

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _shop(shop_id: str) -> ShopConfig:
    return ShopConfig(
        id=shop_id, platform="shopify", currency="NOK", prices_include_vat=True, default_margin=0.5
    )


def _vary(path: Path) -> Path:
    """The pool test's bulk file with its orders spread over 7 customers, dated out of file order,
    every 11th cancelled, and the later copy of the first order moved to another customer."""
    seen: set[str] = set()
    out: list[str] = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        gid = rec.get("id", "") if isinstance(rec, dict) else ""
        if not gid.startswith("gid://shopify/Order/") or "__parentId" in rec or "email" not in rec:
            out.append(line)
            continue
        i = int(gid.rsplit("/", 1)[1]) // 100000 - 7000
        email = f"kunde{i % 7}@example.com" if gid not in seen else "moved@example.com"
        seen.add(gid)
        rec["email"] = rec["customer"]["email"] = email
        rec["customer"]["id"] = f"gid://shopify/Customer/{sum(map(ord, email))}"
        day = (i * 37) % 19 + 1
        rec["createdAt"] = rec["processedAt"] = f"2026-11-{day:02d}T{i % 24:02d}:00:00Z"
        if i % 11 == 3:
            rec["cancelledAt"] = "2026-11-21T10:00:00Z"
        out.append(json.dumps(rec))
    path.write_text("\n".join(out) + "\n")
    return path


def _rows(engine: Engine, shop_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        co = [c for c in customer_orders.c if c.name != "shop_id"]
        cu = [c for c in customers.c if c.name != "shop_id"]
        a = conn.execute(
            select(*co).where(customer_orders.c.shop_id == shop_id).order_by(customer_orders.c.order_id)
        ).all()
        b = conn.execute(
            select(*cu).where(customers.c.shop_id == shop_id).order_by(customers.c.customer_key)
        ).all()
    return [tuple(r) for r in a], [tuple(r) for r in b]


@pytest.mark.parametrize("workers", [0, 2])
def test_backfill_places_customers_as_one_by_one_ingest(engine: Engine, tmp_path: Path, workers: int) -> None:
    path, good = bulk_file(tmp_path / "bulk.jsonl")
    path = _vary(path)
    bulk, single = _shop("bulk"), _shop("single")
    with path.open("rb") as stream:
        report = backfill(
            engine,
            bulk,
            stream,
            "bulk",
            now=NOW,
            batch_size=50,
            send_events=False,
            max_errors=500,
            workers=workers,
        )
    assert report.accepted > 0 and report.outcome.updated == 1
    with path.open("rb") as stream:
        orders = [o for o in backfill_records("bulk", stream, single, None, NOW) if isinstance(o, Order)]
    for o in orders:
        if not o.test:
            with engine.begin() as conn:
                ingest_order(conn, o, single, now=NOW, trigger_purchase=False)

    placed, people = _rows(engine, "bulk")
    assert (placed, people) == _rows(engine, "single")
    assert len(placed) == len(set(good)) and len(people) == 8  # 7 customers and the moved order's
    with engine.connect() as conn:
        types = order_types(conn, "bulk", good)
    kinds = {t: list(types.values()).count(t) for t in ("new", "returning", "unknown")}
    assert kinds["new"] == 8 and kinds["returning"] > 300 and kinds["unknown"] > 0  # the cancelled ones
