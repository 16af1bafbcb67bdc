"""Looking at and repairing the webhook inbox: deliveries with their attempts, counts by status, and
making failed rows due again (`poas inbox …`, the demo)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from poas.store import inbox

SETTLED = ("done", "failed", "ignored", "rejected")  # statuses no process will touch again by itself


def inbox_rows(
    engine: Engine, *, statuses: Sequence[str] | None = None, shop_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Deliveries newest first, without their bodies."""
    with engine.connect() as conn:
        return inbox.rows(conn, statuses=statuses, shop_id=shop_id, limit=limit)


def inbox_counts(engine: Engine) -> dict[str, int]:
    """Deliveries by status."""
    with engine.connect() as conn:
        return inbox.counts(conn)


def retry_inbox(engine: Engine, *, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Make failed rows (or the given failed/pending rows) due now; returns how many."""
    with engine.begin() as conn:
        return inbox.retry(conn, now=now, ids=ids)
