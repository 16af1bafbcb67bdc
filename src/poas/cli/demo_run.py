"""The demo, composed from every face (sandbox, web app, worker): a generated sample shop pushed
through the real webhooks, profit engine, outbox, Meta sandbox and spend sync, ending in the
ROAS-vs-POAS report and budget advice.

The story runs in the order a shop lives it: orders arrive (Purchase sent to Meta at checkout), then
the refunds and cancellations of the following days arrive, the orders whose profit became final are
corrected with AppendValue (inside Meta's window) or kept in the ledger, and the spend sync brings
Meta's own reported purchases beside the shop's figures.

Every stage uses the same code a real installation runs; only Meta and Shopify are stand-ins (the local
Meta sandbox over real HTTP, and signed webhook deliveries built from the generator's payloads).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine

from poas.domain.advice import Advice, advise, campaign_figures
from poas.services import intake, sample_history
from poas.services.cohorts import CohortReport, cohort_report
from poas.services.correction_log import CorrectionSummary, correction_summary
from poas.services.cost_import import read_cost_file, save_costs
from poas.services.cost_rules import load_rules
from poas.services.database import open_store
from poas.services.deliver import DeliveryConfig, DeliveryReport
from poas.services.fixed_costs import set_fixed_cost
from poas.services.inbox import SETTLED, inbox_counts
from poas.services.outbox_admin import outbox_stats
from poas.services.report import Report, build_report, decision_policy
from poas.services.returns import finalize_due
from poas.services.sample_shop import FIXED_COSTS, WrittenShop, write_sample_shop
from poas.services.spend import sync_spend
from poas.services.worker import Worker
from poas.settings import Settings, ShopConfig, load_settings

if TYPE_CHECKING:  # the sandbox and the web app (FastAPI, Jinja) are imported when the demo starts them
    from poas.services.sandbox import Sandbox
    from poas.web.server import ServerThread

Clock = Callable[[], datetime]
# Two 30-day periods, so the dashboard's default range has a previous period to compare with
DEFAULT_DAYS = 60
DEFAULT_ORDERS_PER_DAY = 40
# The shop's life before the live window, imported first: its customers were acquired over these
# ~6 months, so most have lived 90 days by today and the story can tell their 90-day profit
DEFAULT_HISTORY_DAYS = 180


class Progress(Protocol):
    """Where the demo reports its stages (the CLI draws Rich progress bars; tests pass NullProgress)."""

    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def done(self, note: str = "") -> None: ...


class NullProgress:
    def stage(self, name: str, total: int | None = None) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None

    def done(self, note: str = "") -> None:
        return None


class DemoError(RuntimeError):
    """A stage that did not do what the demo needs; the message names the stage."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    home: Path  # the demo makes a fresh folder inside it
    seed: int = 7
    days: int = DEFAULT_DAYS
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY
    history_days: int = DEFAULT_HISTORY_DAYS  # 0: no older history (the shop starts at the window)
    webhook_concurrency: int = 16
    port: int | None = None  # the web app's port; default a free one
    database_url: str | None = None  # default: a fresh SQLite file in the demo folder


@dataclass(slots=True)
class DemoResult:
    folder: Path
    since: date
    until: date
    report: Report
    advice: Advice
    counts: dict[str, int] = field(default_factory=dict)
    corrections: CorrectionSummary | None = None
    cohorts: CohortReport | None = None  # customers by the campaign of their first order


def sign(body: bytes, secret: str) -> str:
    """Shopify's X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class Demo:
    """One demo run. Use as a context manager: entering starts the sandbox and the web app."""

    def __init__(self, options: DemoOptions, progress: Progress | None = None, clock: Clock | None = None):
        self.options = options
        self.progress = progress or NullProgress()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.counts: dict[str, int] = {}
        self._stack = ExitStack()
        self.folder = Path()
        self.shop_dir = Path()
        self.settings: Settings
        self.shop: ShopConfig
        self.engine: Engine
        self.sample: WrittenShop
        self.sandbox: Sandbox
        self.web: ServerThread
        self.admin_password: str | None = None

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> Demo:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        opts = self.options
        opts.home.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="demo-", dir=opts.home))
        self.shop_dir = self.folder / "sample-shop"
        today = self.clock().astimezone(ZoneInfo("Europe/Oslo")).date()
        self.progress.stage("generate the sample shop")
        self.sample = write_sample_shop(
            self.shop_dir,
            seed=opts.seed,
            days=opts.days,
            orders_per_day=opts.orders_per_day,
            today=today,
            history_days=opts.history_days,
        )
        self.since, self.until = self.sample.since, self.sample.until
        written = self.sample.counts
        self.counts.update({f"generated_{k}": v for k, v in written.items()})
        self.progress.done(f"{written['orders']} orders, {written['refunds']} refunds")

        self.progress.stage("start the Meta sandbox")
        base = load_settings(self.shop_dir / "poas.toml")
        shop_id = self.sample.shop_id
        shop = base.shop(shop_id)
        if shop is None:
            raise DemoError(f"generate: {self.shop_dir / 'poas.toml'} has no shop {shop_id!r}")
        secret = shop.app_secret.get_secret_value() if shop.app_secret else None
        from poas.services.sandbox import start_sandbox

        self.sandbox = self._stack.enter_context(start_sandbox(app_secret=secret))
        self.progress.done(self.sandbox.url)

        self.progress.stage("open the store and start the web app")
        self.settings = load_settings(
            self.shop_dir / "poas.toml",
            home=self.folder,
            database_url=opts.database_url or f"sqlite:///{self.folder / 'poas.db'}",
            graph_base_url=self.sandbox.url,
        )
        found = self.settings.shop(shop_id)
        assert found is not None
        self.shop = found
        self.engine = open_store(self.settings.resolved_database_url())
        self._stack.callback(self.engine.dispose)
        from poas.web.app import create_app
        from poas.web.server import ServerThread, ensure_admin_password

        self.admin_password = ensure_admin_password(self.settings)

        self.web = ServerThread(create_app(self.settings, self.engine), port=opts.port)
        self.web.start()
        self._stack.callback(self.web.stop)
        self.progress.done(self.web.url)

    # ---------------------------------------------------------------- stages

    def run(self) -> DemoResult:
        """Every stage in order; returns the campaign report, the budget advice and the corrections."""
        self.load_costs_and_rules()
        self.import_history()
        self.send_webhooks(later=False)
        self.process_inbox()
        self.deliver()
        self.send_webhooks(later=True)
        self.process_inbox()
        if self.finalize_returns():
            self.deliver("send AppendValue corrections to the sandbox")
        self.count_received()
        self.sync_spend()
        report, advice = self.report()
        self.save_record(report)
        corrections = correction_summary(self.engine, self.shop.id)
        cohorts = cohort_report(self.engine, self.shop, by="campaign", now=self.clock())
        return DemoResult(
            self.folder, self.since, self.until, report, advice, dict(self.counts), corrections, cohorts
        )

    def load_costs_and_rules(self) -> None:
        now = self.clock()
        costs = read_cost_file(self.engine, self.shop, self.shop_dir / "costs.csv", now=now, max_errors=1)
        if costs.errors:
            raise DemoError(f"costs: {costs.errors[0]}")
        rows = costs.rows
        self.progress.stage("load costs and rules", len(rows))
        saved = save_costs(self.engine, self.shop, rows, now=now, recompute_reason=None)
        self.counts["cost_rows"] = saved.imported
        rules = (self.shop_dir / "rules.toml").read_text()
        load_rules(self.engine, self.shop, rules, source="demo", now=now, recompute=False)
        for name, category, monthly in FIXED_COSTS:  # apps, salaries, rent: net profit below CM3
            set_fixed_cost(
                self.engine,
                self.shop,
                name=name,
                monthly=monthly,
                valid_from=self.sample.history_since or self.since,  # the shop paid them then too
                now=now,
                category=category,
            )
        self.counts["fixed_costs"] = len(FIXED_COSTS)
        self.progress.advance(len(rows))
        self.progress.done(f"{costs.lines} cost lines, rules version saved")

    def import_history(self) -> None:
        """The shop's orders before the live window, as a backfill brings them: straight into the
        store with their refunds and cancellations, no Meta event (all far older than Meta's 7 days)."""
        n = self.sample.counts.get("history_orders", 0)
        if not n:
            return
        self.progress.stage("import the shop's older orders (no events)", n)
        done = sample_history.import_history(
            self.engine,
            self.shop,
            self.shop_dir / "history" / "orders.jsonl",
            now=self.clock(),
            on_progress=self.progress.advance,
        )
        self.counts["history_imported"] = done.orders
        self.progress.done(f"{done.orders} orders since {self.sample.history_since}")

    def _deliveries(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads((self.shop_dir / "webhooks.json").read_text())
        return items

    def send_webhooks(self, *, later: bool = False) -> None:
        """POST deliveries, signed, to the web app: each order's first one, or (`later`) what Shopify
        sends days after: refunds and cancellations."""
        seen: set[int] = set()
        first: list[dict[str, Any]] = []
        follow_ups: list[dict[str, Any]] = []
        for d in self._deliveries():  # in the order Shopify sent them
            (follow_ups if d["id"] in seen else first).append(d)
            seen.add(d["id"])
        items = follow_ups if later else first
        name = "send Shopify refund and cancellation webhooks" if later else "send Shopify order webhooks"
        self.progress.stage(name, len(items))
        results = asyncio.run(self._post_all([items]))
        for status, n in results.items():
            self.counts[f"webhooks_{status}"] = self.counts.get(f"webhooks_{status}", 0) + n
        accepted = results.get("accepted", 0) + results.get("duplicate", 0)
        if accepted != len(items):
            raise DemoError(f"webhooks: only {accepted} of {len(items)} accepted ({results})")
        self.progress.done(f"{accepted} accepted")

    async def _post_all(self, groups: list[list[dict[str, Any]]]) -> dict[str, int]:
        secret = self.shop.webhook_secrets[0].get_secret_value()
        url = f"{self.web.url}/webhooks/shopify/{self.shop.id}"
        results: dict[str, int] = {}
        limits = httpx.Limits(max_connections=self.options.webhook_concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            for group in groups:
                todo = iter(group)

                async def worker(todo: Iterator[dict[str, Any]] = todo) -> None:
                    for item in todo:  # the workers share one iterator: each item is sent once
                        status = await self._post(client, url, secret, item)
                        results[status] = results.get(status, 0) + 1
                        self.progress.advance()

                await asyncio.gather(*(worker() for _ in range(self.options.webhook_concurrency)))
        return results

    async def _post(self, client: httpx.AsyncClient, url: str, secret: str, item: dict[str, Any]) -> str:
        body = (self.shop_dir / item["file"]).read_bytes()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": item["topic"],
            "X-Shopify-Hmac-Sha256": sign(body, secret),
            "X-Shopify-Shop-Domain": self.sample.domain,
            "X-Shopify-API-Version": self.sample.api_version,
            "X-Shopify-Webhook-Id": item["webhook_id"],
            "X-Shopify-Event-Id": item["event_id"],
            "X-Shopify-Triggered-At": item["triggered_at"],
        }
        for attempt in range(3):
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.TransportError:
                if attempt == 2:
                    return "transport_error"
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code >= 500 and attempt < 2:
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code != 200:
                return f"http_{response.status_code}"
            status: str = response.json().get("status", "unknown")
            return status
        return "gave_up"

    def process_inbox(self, timeout_s: float = 120.0) -> None:
        """Process what the web app's background tasks have not yet, until the inbox is settled."""
        self.progress.stage("process the inbox")
        deadline = time.monotonic() + timeout_s
        processed = 0
        while True:
            stats = intake.process_pending(self.engine, self.clock(), settings=self.settings)
            processed += stats.claimed
            counts = inbox_counts(self.engine)
            busy = {k: v for k, v in counts.items() if k not in SETTLED}
            if not busy:
                break
            if time.monotonic() > deadline:
                raise DemoError(f"inbox: still not settled after {timeout_s:.0f} s ({counts})")
            time.sleep(0.1)
        self.counts.update({f"inbox_{k}": v for k, v in counts.items()})
        self.progress.done(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))

    def finalize_returns(self) -> int:
        """Orders whose profit is final (refunded, cancelled, window closed): AppendValue or ledger."""
        self.progress.stage("finalize refunded and closed orders")
        report = finalize_due(self.engine, self.shop, now=self.clock())
        self.counts.update(
            {
                "finalize_examined": report.examined,
                "finalize_queued": report.queued,
                "finalize_unsent": report.unsent,
                "finalize_waiting": report.waiting,
                "finalize_errors": len(report.errors),
            }
        )
        self.progress.done(f"{report.queued} AppendValue queued, {report.unsent} in the ledger only")
        return report.queued

    def deliver(self, label: str = "send events to the Meta sandbox") -> None:
        """Run the outbox dispatcher against the sandbox until nothing due is left."""
        before = outbox_stats(self.engine, now=self.clock())
        due = sum(
            n for states in before.counts.values() for s, n in states.items() if s in ("pending", "retry")
        )
        self.counts["events_queued"] = sum(n for states in before.counts.values() for n in states.values())
        self.progress.stage(label, due)
        report = asyncio.run(self._drain())
        for key, n in (
            ("events_sent", report.sent),
            ("events_too_old", report.too_old),
            ("events_dead", report.dead),
            ("events_retried", report.retried),
            ("capi_requests", report.requests),
        ):
            self.counts[key] = self.counts.get(key, 0) + n
        self.progress.advance(report.sent + report.too_old + report.dead)
        self.progress.done(f"{report.sent} sent in {report.requests} requests, {report.too_old} too old")

    async def _drain(self) -> DeliveryReport:
        # The settings' Graph base URL is the sandbox's.
        async with Worker(self.engine, self.settings, DeliveryConfig(concurrency=4), timeout_s=30) as w:
            return await w.drain(wait_for_retries=True)

    def count_received(self) -> None:
        """What the Meta sandbox accepted, by event name (its own record, not the outbox's)."""
        for record in self.sandbox.events():
            if record.get("duplicate"):
                continue
            key = f"sandbox_{record['event'].get('event_name', '?')}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def sync_spend(self) -> None:
        """The live window's spend, and the history's before it (its campaigns' CAC needs it)."""
        spend = json.loads((self.shop_dir / "spend.json").read_text())
        older = self.shop_dir / "history" / "spend.json"
        history = json.loads(older.read_text()) if self.sample.history_since else []
        self.progress.stage("load spend into the sandbox and sync it", len(spend) + len(history))
        rows = history + spend
        body = {"account_id": self.shop.ad_account_id, "rows": rows, "replace": True, "page_size": 500}
        from poas.services.sandbox import SandboxError, load_insights

        try:
            load_insights(self.sandbox.url, body)
        except SandboxError as exc:
            raise DemoError(f"spend: {exc}") from None
        first = self.sample.history_since
        if first is not None and first < self.since:
            back = sync_spend(
                self.engine,
                self.settings,
                self.shop,
                now=self.clock(),
                since=first,
                until=self.since - timedelta(days=1),
            )
            self.counts["history_spend_rows"] = back.rows
            self.progress.advance(back.rows)
        result = sync_spend(
            self.engine, self.settings, self.shop, now=self.clock(), since=self.since, until=self.until
        )
        self.counts["spend_rows"] = result.rows
        self.progress.advance(result.rows)
        self.progress.done(f"{result.rows} rows for {len(result.days)} days")

    def report(self) -> tuple[Report, Advice]:
        self.progress.stage("build the report")
        report = build_report(
            self.engine, self.shop, by="campaign", now=self.clock(), date_from=self.since, date_to=self.until
        )
        policy = decision_policy(self.shop)  # the shop's basis, target and pause line, as the dashboard
        advice = advise(campaign_figures(report.rows, policy.basis), policy)
        self.progress.done(f"{len(report.rows)} rows")
        return report, advice

    def save_record(self, report: Report) -> None:
        """Keep what the sandbox received next to the store, for checking the run afterwards."""
        from poas.services.report import report_json

        (self.folder / "sandbox_events.json").write_text(json.dumps(self.sandbox.events(), indent=1) + "\n")
        (self.folder / "report.json").write_text(json.dumps(report_json(report), indent=1) + "\n")
