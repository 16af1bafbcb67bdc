"""Operational endpoints: Prometheus `/metrics` (computed from the database at scrape time) and `/healthz`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from poas.services.database import StoreUnavailable, database_answers
from poas.services.delivery_metrics import delivery_metrics
from poas.services.reconcile import reconcile_counts
from poas.services.views import MATCH_WINDOW

router = APIRouter(include_in_schema=False)


class StoreCollector(Collector):
    """Reads the outbox and the delivery log on every scrape: right across any number of processes."""

    def __init__(self, engine: Engine, now: datetime | None = None) -> None:
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily | CounterMetricFamily]:
        m = delivery_metrics(self.engine, self.now)

        states = GaugeMetricFamily("poas_outbox_events", "Outbox events by state", labels=["state"])
        detail = GaugeMetricFamily(
            "poas_outbox_pixel_events",
            "Outbox events by pixel, event name and state",
            labels=["pixel", "event", "state"],
        )
        depth = GaugeMetricFamily("poas_outbox_depth", "Events waiting to be sent (pending, retry, sending)")
        for pixel, event, state, count in m.events:
            detail.add_metric([pixel, event, state], count)
        for state, count in m.totals.items():
            states.add_metric([state], count)
        depth.add_metric([], m.depth)
        yield states
        yield detail
        yield depth

        age = GaugeMetricFamily(
            "poas_outbox_oldest_pending_age_seconds",
            "Age of the oldest event still waiting to be sent (0 when none waits)",
            labels=["pixel"],
        )
        for pixel, seconds in m.oldest_waiting_s.items():
            age.add_metric([pixel], seconds)
        age.add_metric(["*"], max(m.oldest_waiting_s.values(), default=0.0))
        yield age

        pause = GaugeMetricFamily(
            "poas_pixel_paused", "1 when delivery to the pixel is paused", labels=["pixel"]
        )
        for pixel, is_paused in m.paused:
            pause.add_metric([pixel], 1 if is_paused else 0)
        yield pause

        match = GaugeMetricFamily(
            "poas_purchase_match_rate",
            f"Share of Purchase events queued in the last {MATCH_WINDOW.days} days that Meta accepted",
            labels=["pixel"],
        )
        for pixel, eligible, accepted in m.purchases:
            if eligible:
                match.add_metric([pixel], accepted / eligible)  # a gauge: float at the edge
        yield match

        missed = CounterMetricFamily(
            "poas_reconcile_missed_orders",
            "Orders the shop's webhooks never delivered (or delivered an older version of), caught up "
            "by the worker's reconciliation",
            labels=["shop"],
        )
        last = GaugeMetricFamily(
            "poas_reconcile_last_success_timestamp_seconds",
            "When the shop's last reconciliation succeeded (Unix time)",
            labels=["shop"],
        )
        for c in reconcile_counts(self.engine):
            missed.add_metric([c.shop_id], c.missed_total)
            if c.last_success_at is not None:
                last.add_metric([c.shop_id], c.last_success_at.timestamp())
        yield missed
        yield last

        buckets = [(str(b), float(n)) for b, n in m.latency_buckets]
        buckets.append(("+Inf", float(m.requests)))
        yield HistogramMetricFamily(
            "poas_graph_request_seconds",
            "Conversions API request latency over the last hour (from the delivery log)",
            buckets=buckets,
            sum_value=m.latency_s,
        )


def render_metrics(engine: Engine, now: datetime | None = None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine, now))
    return generate_latest(registry)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    try:
        body = render_metrics(request.app.state.engine)
    except StoreUnavailable:
        return Response("database unavailable\n", status_code=503, media_type="text/plain")
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
def healthz(request: Request) -> Response:
    """200 when the database answers a query, 503 otherwise (no details leak)."""
    engine: Engine = request.app.state.engine
    if not database_answers(engine):
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
