"""Helpers for the tests that read while another connection holds a write: a Shopify order (the
documented example shape, a buyer not subscribed to e-mail marketing) and the held write."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import OperationalError

from poas.services.ingest import ingest_order
from poas.settings import ShopConfig
from poas.sources import shopify
from poas.store.db import write_if_free
from poas.store.orders import ensure_shop
from poas.store.tables.foundation import orders

FIXTURE = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_paid_not_subscribed.json"
HOLD_S = 20.0  # the writer holds at most this long: a read that waited for it takes that long
READ_LIMIT_S = 3.0  # a read beside the writer answers well within this (it used to take the hold)
HELD_NAME = "#held-uncommitted"


def shopify_order(order_id: int, created_at: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FIXTURE.read_text())
    body.update(id=order_id, name=f"#{order_id}", created_at=created_at, processed_at=created_at)
    body["updated_at"] = created_at
    return body


def store_order(engine: Engine, shop: ShopConfig, body: dict[str, Any], now: datetime) -> str:
    """Parse and ingest straight into the store (no edge checks: the order's dates are taken as is)."""
    order = shopify.parse_order(body, shop.id)
    with engine.begin() as conn:
        ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
        ingest_order(conn, order, shop, now=now, trigger_purchase=False)
    return order.order_id


def write_is_blocked(engine: Engine, shop_id: str) -> bool:
    """Whether another transaction's write is in the way of ours (SQLite: the write lock is taken;
    PostgreSQL: the shop's order rows are locked)."""
    if engine.dialect.name == "sqlite":
        with write_if_free(engine, 0.05) as conn:
            return conn is None
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '50ms'"))
        try:
            conn.execute(select(orders.c.order_id).where(orders.c.shop_id == shop_id).with_for_update())
        except OperationalError:
            return True
    return False


@contextmanager
def write_held(engine: Engine, shop_id: str) -> Iterator[None]:
    """Another connection renames the shop's orders and does not commit until the block ends."""
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(update(orders).where(orders.c.shop_id == shop_id).values(name=HELD_NAME))
                started.set()
                release.wait(HOLD_S)
                raise RuntimeError("roll back the held write")
        except RuntimeError:
            pass
        except BaseException as exc:
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=hold, name="held-writer", daemon=True)
    thread.start()
    assert started.wait(10) and not errors, errors
    try:
        assert write_is_blocked(engine, shop_id), "the held write does not hold anything"
        yield
    finally:
        release.set()
        thread.join(HOLD_S + 5)
