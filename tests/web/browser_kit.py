"""Helpers for the browser tests: the live app handle, login, screenshots and store contents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from poas.settings import Settings
from poas.store import outbox as ob

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class LiveApp:
    url: str
    engine: Engine
    settings: Settings


def login(page: Any, base_url: str, next_path: str = "/") -> None:
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base_url + next_path) + r"(\?.*)?$"))


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def utcnow() -> datetime:
    return datetime.now(UTC)


def seed_delivery(engine: Engine, now: datetime, pixel: str = "1234567890") -> list[int]:
    """Five Purchases two days old: three sent, two dead. Returns the dead ids."""
    events = [
        ob.OutboxEvent(
            shop_id="nordic",
            pixel_id=pixel,
            event_name="Purchase",
            event_id=f"ord-{i}",
            order_id=f"{1000 + i}",
            event_time=now - timedelta(days=2),
            payload={"event_name": "Purchase", "event_id": f"ord-{i}"},
        )
        for i in range(5)
    ]
    with engine.begin() as conn:
        ob.enqueue(conn, events, now=now - timedelta(days=2))
    claim = ob.claim(engine, "seed", pixel, limit=5, lease_s=60, now=now)
    assert claim is not None
    ids = [e.id for e in claim.events]
    with engine.begin() as conn:
        ob.mark_sent(conn, "seed", ids[:3], now=now, meta_response={"events_received": 3})
        ob.mark_dead(conn, "seed", ids[3:], reason="(#100) Invalid parameter")
    return ids[3:]
