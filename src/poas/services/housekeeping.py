"""The worker's duties beside delivery: process the webhook inbox and finalize due orders.

They run on timers inside `poas worker` (and `poas serve`), so no extra service is needed. Both are
idempotent and safe with several workers: the inbox uses leased claims, finalization the ledger's
unique key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine

from poas.services.intake import process_pending
from poas.services.returns import finalize_due
from poas.settings import Settings

log = structlog.get_logger("poas.housekeeping")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class HousekeepingReport:
    inbox_passes: int = 0
    inbox_processed: int = 0
    finalize_passes: int = 0
    appended: int = 0
    unsent: int = 0
    errors: list[str] = field(default_factory=list)


def inbox_pass(engine: Engine, settings: Settings, now: datetime) -> int:
    stats = process_pending(engine, now, settings=settings)
    return stats.claimed


def finalize_pass(engine: Engine, settings: Settings, now: datetime, report: HousekeepingReport) -> None:
    for shop in settings.shops:
        r = finalize_due(engine, shop, now=now)
        report.appended += r.queued
        report.unsent += r.unsent
        report.errors.extend(r.errors[:5])
        if r.queued or r.unsent or r.errors:
            log.info(
                "finalized orders",
                shop=shop.id,
                queued=r.queued,
                unsent=r.unsent,
                unchanged=r.unchanged,
                errors=len(r.errors),
            )


async def run_housekeeping(
    engine: Engine,
    settings: Settings,
    stop: asyncio.Event,
    *,
    inbox_every_s: float = 1.0,
    finalize_every_s: float = 300.0,
    clock: Callable[[], datetime] = _utcnow,
) -> HousekeepingReport:
    """Run both duties on their timers until `stop` is set; a failing pass is logged and retried."""
    report = HousekeepingReport()
    next_finalize = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            report.inbox_processed += await asyncio.to_thread(inbox_pass, engine, settings, clock())
            report.inbox_passes += 1
            if loop.time() >= next_finalize:
                await asyncio.to_thread(finalize_pass, engine, settings, clock(), report)
                report.finalize_passes += 1
                next_finalize = loop.time() + finalize_every_s
        except Exception as exc:  # keep the worker alive; the next pass retries
            first = str(exc).splitlines()[0][:200] if str(exc) else ""  # no SQL parameters: no data
            log.error("housekeeping pass failed", error=type(exc).__name__, detail=first)
            report.errors.append(type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=inbox_every_s)
    return report
