"""The worker's duties beside delivery: process the webhook inbox, finalize due orders, sync FX rates,
check for conditions that need a human and alert (services.alerts).

They run on timers inside `poas worker` (and `poas serve`), so no extra service is needed. All are
idempotent and safe with several workers: the inbox uses leased claims, finalization the ledger's
unique key, the FX sync upserts by pair and day. The FX sync runs beside the other two, so a slow
feed never holds up the inbox; a failed fetch is logged and tried again at the next interval. The
alert check runs the same way (only when `POAS_ALERT_WEBHOOK_URL` is set): a slow or failing receiver
holds up nothing, and the state it keeps in the store makes several workers send each alert once.
On SQLite the write-ahead log is checkpointed and truncated every minute (`store.wal`), so inbox
bodies cleared by processing (and anything deleted) leave the `-wal` file too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine

from poas.services.alerts import check_alerts
from poas.services.fx_sync import sync_fx
from poas.services.intake import process_pending
from poas.services.reconcile import connected, reconcile_all, sync_costs_all
from poas.services.returns import finalize_due
from poas.services.settings_overrides import effective_settings
from poas.settings import Settings
from poas.store.wal import WAL_CHECKPOINT_EVERY_S, checkpoint

log = structlog.get_logger("poas.housekeeping")
FX_STOP_WAIT_S = 5.0
ALERT_STOP_WAIT_S = 10.0  # a POST has a 5 s timeout; the check's own store work is quick


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
    fx_passes: int = 0
    fx_saved: int = 0
    fx_errors: list[str] = field(
        default_factory=list
    )  # failed FX syncs (kept apart: a feed outage is not ours)
    alert_passes: int = 0
    alerts_sent: int = 0
    alert_errors: list[str] = field(default_factory=list)  # checks that failed, and alerts not delivered
    wal_checkpoints: int = 0  # SQLite WAL checkpoints that emptied the log
    wal_busy: int = 0  # checkpoints a writer or an old reader held up (tried again at the next one)
    reconcile_passes: int = 0
    reconcile_missed: int = 0  # orders webhooks never delivered, caught up by reconciliation
    cost_passes: int = 0
    shop_errors: list[str] = field(default_factory=list)  # shops a reconciliation / cost sync failed for


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


def fx_pass(engine: Engine, settings: Settings, now: datetime, report: HousekeepingReport) -> None:
    """One exchange-rate sync; never raises (a failure is logged and the next interval retries)."""
    report.fx_passes += 1
    try:
        result = sync_fx(engine, settings, now=now)
    except Exception as exc:  # the feed, the network or the store: log it, keep the worker alive
        first = str(exc).splitlines()[0][:300] if str(exc) else ""  # URLs without credentials, no data
        log.warning(
            "exchange-rate sync failed; retried at the next interval",
            source=settings.fx_sync_source,
            error=type(exc).__name__,
            detail=first,
            retry_in_s=settings.fx_sync_every_s,
        )
        report.fx_errors.append(f"{type(exc).__name__}: {first}")
        return
    report.fx_saved += result.saved
    if result.saved or result.skipped:
        log.info(
            "exchange rates synced",
            source=result.source,
            saved=result.saved,
            latest=result.latest.isoformat() if result.latest else None,
            skipped=len(result.skipped),
            first_skipped=[f"{e.where}: {e.message}" for e in result.skipped[:3]],
        )


def wal_pass(engine: Engine, report: HousekeepingReport) -> None:
    """Checkpoint and truncate SQLite's WAL (nothing on PostgreSQL); busy is counted, not an error."""
    done = checkpoint(engine)
    if done is None:
        return
    if done.busy:
        report.wal_busy += 1
    else:
        report.wal_checkpoints += 1


def reconcile_pass(engine: Engine, settings: Settings, now: datetime, report: HousekeepingReport) -> None:
    """One reconciliation of every connected shop (services.reconcile); never raises."""
    report.reconcile_passes += 1
    try:
        # With the shop settings changed in the dashboard (consent default, missing-cost policy, …).
        result = reconcile_all(engine, effective_settings(settings, engine), now=now)
    except Exception as exc:  # the store: log it, keep the worker alive
        log.error("reconciliation failed; retried at the next interval", error=type(exc).__name__)
        report.shop_errors.append(type(exc).__name__)
        return
    for shop in result.shops:
        report.reconcile_missed += shop.missed
        if shop.error is not None:
            report.shop_errors.append(f"{shop.shop_id}: {shop.error}")


def cost_pass(engine: Engine, settings: Settings, now: datetime, report: HousekeepingReport) -> None:
    """One unit-cost sync of every connected shop (services.reconcile); never raises."""
    report.cost_passes += 1
    try:
        done = sync_costs_all(engine, effective_settings(settings, engine), now=now)
    except Exception as exc:  # the store: log it, keep the worker alive
        log.error("unit-cost sync failed; retried at the next interval", error=type(exc).__name__)
        report.shop_errors.append(type(exc).__name__)
        return
    report.shop_errors.extend(f"{shop}: {why}" for shop, why in done.items() if why is not None)


def alert_pass(engine: Engine, settings: Settings, now: datetime, report: HousekeepingReport) -> None:
    """One alert check; never raises (a failure is logged and the next check retries)."""
    report.alert_passes += 1
    try:
        result = check_alerts(engine, settings, now=now)
    except Exception as exc:  # the store: log it, keep the worker alive
        first = str(exc).splitlines()[0][:200] if str(exc) else ""  # no SQL parameters: no data
        log.error("alert check failed; retried at the next check", error=type(exc).__name__, detail=first)
        report.alert_errors.append(type(exc).__name__)
        return
    report.alerts_sent += len(result.sent)
    report.alert_errors.extend(f"not delivered: {key}" for key in result.failed)


async def run_housekeeping(
    engine: Engine,
    settings: Settings,
    stop: asyncio.Event,
    *,
    inbox_every_s: float = 1.0,
    finalize_every_s: float = 300.0,
    wal_every_s: float = WAL_CHECKPOINT_EVERY_S,
    clock: Callable[[], datetime] = _utcnow,
) -> HousekeepingReport:
    """Run the duties on their timers until `stop` is set; a failing pass is logged and retried.

    The FX sync (unless `fx_sync_source` is off) runs at start and then every `fx_sync_every_s`,
    in a thread of its own beside the inbox and finalize passes; so does the alert check (when
    `alert_webhook_url` is set), every `alert_check_every_s`. With a connected shop (services.reconcile),
    so do its order reconciliation (every `reconcile_every_s`) and unit-cost sync (`cost_sync_every_s`),
    one of them at a time.
    """
    report = HousekeepingReport()
    next_finalize = 0.0
    next_wal = 0.0
    next_fx = 0.0
    fx_task: asyncio.Future[None] | None = None
    next_alert = 0.0
    alert_task: asyncio.Future[None] | None = None
    shop_timers: dict[str, tuple[float, Callable[..., None], float]] = {}  # name -> (every, pass, next)
    if any(connected(shop) for shop in settings.shops):
        shop_timers["reconcile"] = (settings.reconcile_every_s, reconcile_pass, 0.0)
        shop_timers["costs"] = (settings.cost_sync_every_s, cost_pass, 0.0)
    shop_task: tuple[str, asyncio.Future[None]] | None = None
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        if shop_task is not None and shop_task[1].done():
            every, run, _ = shop_timers[shop_task[0]]
            shop_timers[shop_task[0]] = (every, run, loop.time() + every)
            shop_task = None
        if shop_task is None:  # one shop pass at a time, in a thread beside the others
            for name, (_, run, due) in shop_timers.items():
                if loop.time() >= due:
                    shop_task = (
                        name,
                        asyncio.ensure_future(asyncio.to_thread(run, engine, settings, clock(), report)),
                    )
                    break
        if settings.alert_webhook_url is not None and alert_task is None and loop.time() >= next_alert:
            alert_task = asyncio.ensure_future(
                asyncio.to_thread(alert_pass, engine, settings, clock(), report)
            )
        if alert_task is not None and alert_task.done():
            alert_task = None
            next_alert = loop.time() + settings.alert_check_every_s
        if settings.fx_sync_source != "off" and fx_task is None and loop.time() >= next_fx:
            fx_task = asyncio.ensure_future(asyncio.to_thread(fx_pass, engine, settings, clock(), report))
        if fx_task is not None and fx_task.done():
            fx_task = None
            next_fx = loop.time() + settings.fx_sync_every_s
        try:
            report.inbox_processed += await asyncio.to_thread(inbox_pass, engine, settings, clock())
            report.inbox_passes += 1
            if loop.time() >= next_finalize:
                await asyncio.to_thread(finalize_pass, engine, settings, clock(), report)
                report.finalize_passes += 1
                next_finalize = loop.time() + finalize_every_s
            if loop.time() >= next_wal:
                await asyncio.to_thread(wal_pass, engine, report)
                next_wal = loop.time() + wal_every_s
        except Exception as exc:  # keep the worker alive; the next pass retries
            first = str(exc).splitlines()[0][:200] if str(exc) else ""  # no SQL parameters: no data
            log.error("housekeeping pass failed", error=type(exc).__name__, detail=first)
            report.errors.append(type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=inbox_every_s)
    if fx_task is not None:  # let a sync in flight finish its write, but do not hang on a slow feed
        await asyncio.wait({fx_task}, timeout=FX_STOP_WAIT_S)
    if shop_task is not None:  # a platform may be slow: do not hang on it
        await asyncio.wait({shop_task[1]}, timeout=ALERT_STOP_WAIT_S)
    if alert_task is not None:  # let a check in flight record what it sent
        await asyncio.wait({alert_task}, timeout=ALERT_STOP_WAIT_S)
    return report
