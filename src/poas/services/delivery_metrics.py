"""The numbers `/metrics` exposes, read from the outbox and the delivery log at scrape time.

Read from the database, not from process memory, so they are right across any number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from poas.services.database import StoreUnavailable
from poas.services.views.delivery import purchase_match_query
from poas.store.tables.delivery import OUTBOX_STATES, delivery_log, outbox, pixel_state

# Graph request latency buckets (seconds) and the window the histogram covers.
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENCY_WINDOW = timedelta(hours=1)
WAITING = ("pending", "retry", "sending")


@dataclass(slots=True)
class DeliveryMetrics:
    events: list[tuple[str, str, str, int]] = field(default_factory=list)  # pixel, event name, state, n
    totals: dict[str, int] = field(default_factory=dict)  # state -> n, every outbox state present
    oldest_waiting_s: dict[str, float] = field(default_factory=dict)  # pixel -> age of its oldest waiting
    paused: list[tuple[str, bool]] = field(default_factory=list)  # pixel, paused
    purchases: list[tuple[str, int, int]] = field(default_factory=list)  # pixel, eligible, accepted
    requests: int = 0  # Graph requests finished in the latency window
    latency_s: float = 0.0  # their summed latency
    latency_buckets: list[tuple[float, int]] = field(default_factory=list)  # (upper bound s, cumulative n)

    @property
    def depth(self) -> int:
        """Events waiting to be sent (pending, retry, sending)."""
        return sum(self.totals.get(s, 0) for s in WAITING)


def delivery_metrics(engine: Engine, now: datetime | None = None) -> DeliveryMetrics:
    """Outbox counts and ages, pixel pauses, the Purchase match rate and Graph latency; raises
    StoreUnavailable when the database does not answer."""
    now = now or datetime.now(UTC)
    ms = delivery_log.c.latency_ms
    try:
        with engine.connect() as conn:
            by_state = conn.execute(
                select(outbox.c.pixel_id, outbox.c.event_name, outbox.c.state, func.count()).group_by(
                    outbox.c.pixel_id, outbox.c.event_name, outbox.c.state
                )
            ).all()
            oldest = conn.execute(
                select(outbox.c.pixel_id, func.min(outbox.c.created_at))
                .where(outbox.c.state.in_(WAITING))
                .group_by(outbox.c.pixel_id)
            ).all()
            paused = conn.execute(select(pixel_state.c.pixel_id, pixel_state.c.paused)).all()
            matches = conn.execute(purchase_match_query(now).group_by(outbox.c.pixel_id)).all()
            bucket_cols = [func.sum(case((ms <= int(b * 1000), 1), else_=0)) for b in LATENCY_BUCKETS_S]
            lat = conn.execute(
                select(func.count(), func.coalesce(func.sum(ms), 0), *bucket_cols).where(
                    delivery_log.c.finished_at >= now - LATENCY_WINDOW
                )
            ).one()
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the database did not answer") from exc

    result = DeliveryMetrics(totals=dict.fromkeys(OUTBOX_STATES, 0))
    for pixel, event, state, count in by_state:
        result.events.append((pixel, event, state, int(count)))
        result.totals[state] = result.totals.get(state, 0) + int(count)
    for pixel, created in oldest:
        if created is None:
            continue
        created_utc = created.replace(tzinfo=UTC) if created.tzinfo is None else created
        result.oldest_waiting_s[pixel] = max(0.0, (now - created_utc).total_seconds())
    result.paused = [(pixel, bool(is_paused)) for pixel, is_paused in paused]
    result.purchases = [(pixel, int(eligible), int(accepted or 0)) for pixel, eligible, accepted in matches]
    result.requests, result.latency_s = int(lat[0]), int(lat[1] or 0) / 1000.0
    result.latency_buckets = [(b, int(lat[2 + i] or 0)) for i, b in enumerate(LATENCY_BUCKETS_S)]
    return result
