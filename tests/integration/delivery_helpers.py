"""Test helpers for the delivery tests: valid Purchase events, bulk enqueue, sandbox-backed clients."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine

from poas.meta.capi import Credentials
from poas.store import outbox as ob

EMAIL_HASH = hashlib.sha256(b"kari@example.no").hexdigest()
TOKEN = "EAAB-test-token-1234567890"
CREDS = Credentials(access_token=TOKEN)


def purchase(event_id: str, event_time: datetime, value: str = "499.00") -> dict[str, object]:
    """A Purchase event the sandbox accepts."""
    return {
        "event_name": "Purchase",
        "event_time": int(event_time.timestamp()),
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example.no/checkout",
        "user_data": {"em": [EMAIL_HASH], "client_user_agent": "Mozilla/5.0 (poas test)"},
        "custom_data": {"currency": "NOK", "value": float(value), "net_revenue": 120.5, "order_id": event_id},
    }


def events(
    pixel_id: str, n: int, event_time: datetime, prefix: str = "o", shop_id: str = "shop-a"
) -> list[ob.OutboxEvent]:
    return [
        ob.OutboxEvent(
            shop_id=shop_id,
            pixel_id=pixel_id,
            event_name="Purchase",
            event_id=f"{prefix}{pixel_id}-{i}",
            order_id=f"{prefix}{pixel_id}-{i}",
            event_time=event_time,
            payload=json.dumps(purchase(f"{prefix}{pixel_id}-{i}", event_time), separators=(",", ":")),
        )
        for i in range(n)
    ]


def enqueue_all(engine: Engine, rows: Iterable[ob.OutboxEvent], now: datetime, chunk: int = 5000) -> int:
    batch: list[ob.OutboxEvent] = []
    total = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            with engine.begin() as conn:
                total += len(ob.enqueue(conn, batch, now=now))
            batch = []
    if batch:
        with engine.begin() as conn:
            total += len(ob.enqueue(conn, batch, now=now))
    return total


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
