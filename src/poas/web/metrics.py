"""Operational endpoints: Prometheus `/metrics` (computed from the database at scrape time) and `/healthz`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, case, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from poas.store.tables.delivery import OUTBOX_STATES, delivery_log, outbox, pixel_state
from poas.web.views import MATCH_WINDOW, purchase_match_query

# Graph request latency buckets (seconds) and the window the histogram covers.
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENCY_WINDOW = timedelta(hours=1)
_WAITING = ("pending", "retry", "sending")

router = APIRouter(include_in_schema=False)


class StoreCollector(Collector):
    """Reads the outbox and the delivery log on every scrape: right across any number of processes."""

    def __init__(self, engine: Engine, now: datetime | None = None) -> None:
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        now = self.now or datetime.now(UTC)
        with self.engine.connect() as conn:
            by_state = conn.execute(
                select(outbox.c.pixel_id, outbox.c.event_name, outbox.c.state, func.count()).group_by(
                    outbox.c.pixel_id, outbox.c.event_name, outbox.c.state
                )
            ).all()
            oldest = conn.execute(
                select(outbox.c.pixel_id, func.min(outbox.c.created_at))
                .where(outbox.c.state.in_(_WAITING))
                .group_by(outbox.c.pixel_id)
            ).all()
            paused = conn.execute(select(pixel_state.c.pixel_id, pixel_state.c.paused)).all()
            matches = conn.execute(purchase_match_query(now).group_by(outbox.c.pixel_id)).all()
            ms = delivery_log.c.latency_ms
            bucket_cols = [func.sum(case((ms <= int(b * 1000), 1), else_=0)) for b in LATENCY_BUCKETS_S]
            lat = conn.execute(
                select(func.count(), func.coalesce(func.sum(ms), 0), *bucket_cols).where(
                    delivery_log.c.finished_at >= now - LATENCY_WINDOW
                )
            ).one()

        states = GaugeMetricFamily("poas_outbox_events", "Outbox events by state", labels=["state"])
        detail = GaugeMetricFamily(
            "poas_outbox_pixel_events",
            "Outbox events by pixel, event name and state",
            labels=["pixel", "event", "state"],
        )
        depth = GaugeMetricFamily("poas_outbox_depth", "Events waiting to be sent (pending, retry, sending)")
        totals = dict.fromkeys(OUTBOX_STATES, 0)
        for pixel, event, state, count in by_state:
            detail.add_metric([pixel, event, state], int(count))
            totals[state] = totals.get(state, 0) + int(count)
        for state, count in totals.items():
            states.add_metric([state], count)
        depth.add_metric([], sum(totals.get(s, 0) for s in _WAITING))
        yield states
        yield detail
        yield depth

        age = GaugeMetricFamily(
            "poas_outbox_oldest_pending_age_seconds",
            "Age of the oldest event still waiting to be sent (0 when none waits)",
            labels=["pixel"],
        )
        overall = 0.0
        for pixel, created in oldest:
            if created is None:
                continue
            created_utc = created.replace(tzinfo=UTC) if created.tzinfo is None else created
            seconds = max(0.0, (now - created_utc).total_seconds())
            overall = max(overall, seconds)
            age.add_metric([pixel], seconds)
        age.add_metric(["*"], overall)
        yield age

        pause = GaugeMetricFamily(
            "poas_pixel_paused", "1 when delivery to the pixel is paused", labels=["pixel"]
        )
        for pixel, is_paused in paused:
            pause.add_metric([pixel], 1 if is_paused else 0)
        yield pause

        match = GaugeMetricFamily(
            "poas_purchase_match_rate",
            f"Share of Purchase events queued in the last {MATCH_WINDOW.days} days that Meta accepted",
            labels=["pixel"],
        )
        for pixel, eligible, accepted in matches:
            if eligible:
                match.add_metric([pixel], int(accepted or 0) / int(eligible))  # a gauge: float at the edge
        yield match

        total, total_ms = int(lat[0]), int(lat[1] or 0)
        buckets = [(str(b), float(lat[2 + i] or 0)) for i, b in enumerate(LATENCY_BUCKETS_S)]
        buckets.append(("+Inf", float(total)))
        yield HistogramMetricFamily(
            "poas_graph_request_seconds",
            "Conversions API request latency over the last hour (from the delivery log)",
            buckets=buckets,
            sum_value=total_ms / 1000.0,
        )


def render_metrics(engine: Engine, now: datetime | None = None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine, now))
    return generate_latest(registry)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    try:
        body = render_metrics(request.app.state.engine)
    except SQLAlchemyError:
        return Response("database unavailable\n", status_code=503, media_type="text/plain")
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
def healthz(request: Request) -> Response:
    """200 when the database answers a query, 503 otherwise (no details leak)."""
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
