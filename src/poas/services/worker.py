"""The delivery worker as one use-case: a client per destination kind (Meta's Graph API; Google's Data
Manager API when a shop has Google conversion actions), the outbox dispatcher and the worker's duties
(processing the webhook inbox, finalizing orders), for `poas worker`, `poas serve` and the demo."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

from sqlalchemy import Engine

from poas.domain.destinations import GOOGLE_ADJUSTMENT, GOOGLE_ADS
from poas.google.ads_adjustments import AdjustmentClient
from poas.google.datamanager import DataManagerClient
from poas.meta.capi import MAX_BATCH, CapiClient
from poas.services import housekeeping as hk
from poas.services.deliver import (
    DeliveryConfig,
    DeliveryReport,
    DestinationClient,
    Dispatcher,
    settings_credentials,
)
from poas.settings import Settings

MAX_BATCH_SIZE = MAX_BATCH  # Meta takes at most this many events per request

BodyFormat = Literal["form", "json"]


class Worker:
    """Delivers outbox events to the configured Graph API. Use as an async context manager: leaving it
    closes the Graph client's connections."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        config: DeliveryConfig | None = None,
        *,
        body_format: BodyFormat = "form",
        timeout_s: float | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.config = config or DeliveryConfig()
        self.client = CapiClient(
            settings.graph_base_url,
            settings.graph_version,
            timeout_s=settings.graph_timeout_s if timeout_s is None else timeout_s,
            max_connections=self.config.concurrency * 2,
            body_format=body_format,
        )
        self.google: DataManagerClient | None = None
        if any(shop.google.conversion_actions for shop in settings.shops):
            self.google = DataManagerClient(
                settings.google_datamanager_url,
                settings.google_token_url,
                timeout_s=settings.google_timeout_s if timeout_s is None else timeout_s,
                max_connections=self.config.concurrency * 2,
            )
        self.adjustments: AdjustmentClient | None = None
        if any(shop.google.adjustments == "google_ads_api" for shop in settings.shops):
            self.adjustments = AdjustmentClient(
                settings.google_ads_api_url,
                settings.google_ads_api_version,
                settings.google_ads_token_url,
                timeout_s=settings.google_timeout_s if timeout_s is None else timeout_s,
                max_connections=self.config.concurrency * 2,
            )
        clients: dict[str, DestinationClient] = {}
        if self.google is not None:
            clients[GOOGLE_ADS] = self.google
        if self.adjustments is not None:
            clients[GOOGLE_ADJUSTMENT] = self.adjustments
        self.dispatcher = Dispatcher(
            engine, self.client, settings_credentials(settings.shops), clients=clients, config=self.config
        )

    @property
    def worker_id(self) -> str:
        return self.dispatcher.worker_id

    async def __aenter__(self) -> Worker:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.client.aclose()
        for extra in (self.google, self.adjustments):
            if extra is not None:
                await extra.aclose()

    async def run(self, stop: asyncio.Event, *, housekeeping: bool = True) -> DeliveryReport:
        """Deliver (and, with `housekeeping`, do the worker's duties on their timers) until `stop` is
        set; in-flight requests finish, or their claims are released, before it returns."""
        chores = None
        if housekeeping:
            chores = asyncio.create_task(hk.run_housekeeping(self.engine, self.settings, stop))
        report = await self.dispatcher.run(stop)
        if chores is not None:
            await chores
        return report

    async def drain(
        self, *, housekeeping: bool = False, now: datetime | None = None, wait_for_retries: bool = False
    ) -> DeliveryReport:
        """Send what is due now: with `housekeeping`, after one inbox and one finalization pass (at
        `now`, default the current time); with `wait_for_retries`, until no retry is left either."""
        if housekeeping:
            now = now or datetime.now(UTC)
            engine, settings = self.engine, self.settings
            await asyncio.to_thread(hk.inbox_pass, engine, settings, now)
            await asyncio.to_thread(hk.finalize_pass, engine, settings, now, hk.HousekeepingReport())
        return await self.dispatcher.drain(wait_for_retries=wait_for_retries)
