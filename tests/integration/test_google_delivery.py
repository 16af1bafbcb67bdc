"""#18 acceptance for the Google destination over real HTTP, on both engines: an order with a gclid goes
to Meta and to the shop's Google conversion actions (profit and revenue), the Google conversion carries
the expected profit, a refund that makes it final restates it (same transactionId, final profit), a
resend is never a second conversion, Google's errors are classified, and no consent means no event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from test_sandbox_commands import serving

from poas.domain.costs import CostRow
from poas.domain.delivery_errors import Disposition
from poas.domain.destinations import (
    GOOGLE_ADJUSTMENT,
    GOOGLE_ADS,
    google_adjustment_id,
    google_destination_id,
)
from poas.domain.order import Attribution, Customer, Order, OrderLine, Refund, RefundLine, RestockType
from poas.google.ads_adjustments import AdjustmentClient
from poas.google.datamanager import DataManagerClient
from poas.google.errors import GoogleError
from poas.google.sandbox import (
    DEFAULT_CLIENT,
    DEFAULT_REFRESH_TOKEN,
    RunningGoogleSandbox,
    run_google_sandbox,
)
from poas.meta.capi import CapiClient
from poas.meta.sandbox import RunningSandbox, run_sandbox
from poas.services.alerts import pixel_paused_alert
from poas.services.deliver import DeliveryConfig, Dispatcher, settings_credentials
from poas.services.export import iter_export
from poas.services.google_connect import connect_google
from poas.services.ingest import ingest_order
from poas.services.intake_notes import purchase_note
from poas.services.returns import finalize_due
from poas.services.views.delivery import delivery_view
from poas.services.views.orders import order_detail
from poas.services.worker import Worker
from poas.settings import EventSettings, GoogleConversionAction, GoogleSettings, Settings, ShopConfig
from poas.store import alerts as alert_store
from poas.store import outbox as ob
from poas.store.costs import import_costs
from poas.store.rules import save_rules
from poas.store.tables.delivery import delivery_log, outbox, pixel_state

D = Decimal
CUSTOMER = "1234567890"
PROFIT_ACTION, REVENUE_ACTION = "111111111", "222222222"
PROFIT_DEST = google_destination_id(CUSTOMER, PROFIT_ACTION)
REVENUE_DEST = google_destination_id(CUSTOMER, REVENUE_ACTION)
RULES = """
currency = "NOK"
[[payment_fees]]
id = "vipps"
gateway = "vipps"
percent = 2.5
fixed = 1
"""
FAST = DeliveryConfig(
    retry_base_s=0.01, retry_cap_s=0.05, throttle_base_s=0.01, throttle_cap_s=0.05, idle_poll_s=0.02
)


def _shop(*, two_actions: bool = False, **extra: Any) -> ShopConfig:
    actions = [GoogleConversionAction(customer_id="123-456-7890", conversion_action_id=PROFIT_ACTION)]
    if two_actions:
        actions.append(
            GoogleConversionAction(customer_id=CUSTOMER, conversion_action_id=REVENUE_ACTION, value="revenue")
        )
    fields: dict[str, Any] = {
        "id": "nordic",
        "domain": "nordic.example.no",
        "currency": "NOK",
        "pixel_id": "1234567890",
        "access_token": SecretStr("sandbox-token-0123456789"),
        "consent_policy": "always",
        "events": EventSettings(append_window_days=3, finalize_on_refund=True),
        "google": GoogleSettings(
            conversion_actions=actions,
            client_id=DEFAULT_CLIENT[0],
            client_secret=SecretStr(DEFAULT_CLIENT[1]),
            refresh_token=SecretStr(DEFAULT_REFRESH_TOKEN),
        ),
    }
    fields.update(extra)
    return ShopConfig(**fields)


def _order(oid: str, placed: datetime, *, refunds: tuple[Refund, ...] = (), country: str = "NO") -> Order:
    line = OrderLine(
        line_id=f"{oid}-1",
        quantity=2,
        unit_price=D("500.00"),
        tax=D("200.00"),
        tax_rate=D("0.25"),
        sku="JACKET",
    )
    updated = max([placed, *(r.processed_at for r in refunds)])
    return Order(
        shop_id="nordic",
        order_id=oid,
        created_at=placed,
        updated_at=updated,
        currency="NOK",
        lines=(line,),
        gateway="vipps",
        customer=Customer(email=f"kunde{oid}@example.no", country=country),
        shipping_country=country,
        attribution=Attribution(gclid=f"Cj0KCQiA{oid}gclid"),
        refunds=refunds,
    )


@pytest.fixture
def sandboxes() -> Iterator[tuple[RunningSandbox, RunningGoogleSandbox]]:
    with run_sandbox() as meta, run_google_sandbox() as google:
        yield meta, google


def _setup(engine: Engine, now: datetime) -> None:
    with engine.begin() as conn:
        import_costs(
            conn, "nordic", [CostRow.of("JACKET", D("150"), "NOK", now - timedelta(days=90))], now=now
        )
        save_rules(conn, "nordic", RULES, source="test", now=now)


async def _deliver(
    engine: Engine, meta_url: str, google_url: str, shop: ShopConfig, *, now: datetime | None = None
) -> Dispatcher:
    capi = CapiClient(meta_url, "v25.0", timeout_s=2.0)
    google = DataManagerClient(google_url, f"{google_url}/token", timeout_s=2.0)
    adjust = AdjustmentClient(google_url, "v21", f"{google_url}/token", timeout_s=2.0)
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    dispatcher = Dispatcher(
        engine,
        capi,
        settings_credentials([shop]),
        clients={GOOGLE_ADS: google, GOOGLE_ADJUSTMENT: adjust},
        config=FAST,
        clock=clock,
    )
    await dispatcher.drain(wait_for_retries=True)
    for client in (capi, google, adjust):
        await client.aclose()
    return dispatcher


def _conversions(url: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = httpx.get(f"{url}/_sandbox/conversions").json()["data"]
    return {(r["destination"], r["transaction_id"]): r for r in rows}


def _events(url: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = httpx.get(f"{url}/_sandbox/events").json()["data"]
    return data


def _ingest(engine: Engine, order: Order, shop: ShopConfig, now: datetime) -> Any:
    with engine.begin() as conn:
        return ingest_order(conn, order, shop, now=now, trigger_purchase=True)


async def test_gclid_order_goes_to_meta_and_both_google_actions_then_is_restated_when_final(
    engine: Engine, sandboxes: tuple[RunningSandbox, RunningGoogleSandbox]
) -> None:
    meta, google = sandboxes
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop(two_actions=True)
    _setup(engine, now)
    placed = now - timedelta(days=1)
    outcome = _ingest(engine, _order("A1", placed), shop, placed + timedelta(minutes=1))
    assert outcome.events.google.queued == [(PROFIT_DEST, "A1"), (REVENUE_DEST, "A1")]
    await _deliver(engine, meta.url, google.url, shop)

    purchase = meta.events(event_name="Purchase")
    assert len(purchase) == 1
    expected = outcome.profit.expected_profit.rounded().amount
    assert D(str(purchase[0]["event"]["custom_data"]["net_revenue"])) == expected
    conv = _conversions(google.url)
    assert set(conv) == {(PROFIT_DEST, "A1"), (REVENUE_DEST, "A1")}
    assert D(str(conv[(PROFIT_DEST, "A1")]["value"])) == expected  # the number Meta got as net_revenue
    assert D(str(conv[(REVENUE_DEST, "A1")]["value"])) == outcome.profit.revenue_ex_vat.rounded().amount
    sent = _events(google.url)[0]["event"]
    assert sent["adIdentifiers"] == {"gclid": "Cj0KCQiAA1gclid"}
    assert sent["consent"]["adUserData"] == "CONSENT_GRANTED"
    assert sent["currency"] == "NOK" and sent["eventTimestamp"].endswith("Z")

    # One of the two jackets comes back: the refund makes the profit final (finalize_on_refund).
    later = now
    refund = (Refund("A1-r", now - timedelta(hours=1), (RefundLine("A1-1", 1, RestockType.RETURN),)),)
    refunded = _ingest(engine, _order("A1", placed, refunds=refund), shop, later)
    report = finalize_due(engine, shop, now=later)
    assert report.google_queued == 2
    await _deliver(engine, meta.url, google.url, shop, now=later)

    final_profit = refunded.profit.realized_profit.rounded().amount
    assert final_profit != expected
    conv = _conversions(google.url)
    assert len(conv) == 2  # still one conversion per action: the restatement is no new one
    assert conv[(PROFIT_DEST, "A1")]["restatements"] == 1
    assert D(str(conv[(PROFIT_DEST, "A1")]["value"])) == final_profit
    assert D(str(conv[(PROFIT_DEST, "A1")]["first_value"])) == expected
    left = refunded.profit.revenue_ex_vat.amount - refunded.profit.refunded_revenue_ex_vat.amount
    assert D(str(conv[(REVENUE_DEST, "A1")]["value"])) == left.quantize(D("0.01"))
    restated = [e for e in _events(google.url) if e["kind"] == "restatement"]
    assert {e["transaction_id"] for e in restated} == {"A1"}
    assert all("lastUpdatedTimestamp" in e["event"] and e["event"]["adIdentifiers"] for e in restated)
    assert len(meta.events(event_name="AppendValue")) == 1  # Meta's path is unchanged
    exported = {(r["pixel_id"], r["event_name"]): r for r in iter_export(engine, "events")}
    row = exported[(PROFIT_DEST, "restatement")]
    assert D(str(row["value"])) == final_profit and row["currency"] == "NOK" and row["net_revenue"] is None
    assert row["fbtrace_id"]  # Google's requestId
    assert D(str(exported[(PROFIT_DEST, "conversion")]["value"])) == expected


async def test_resends_never_make_a_second_conversion(
    engine: Engine, sandboxes: tuple[RunningSandbox, RunningGoogleSandbox]
) -> None:
    meta, google = sandboxes
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop()
    _setup(engine, now)
    # Google ingests the event but the answer is lost (a 503 after recording): the retry resends it.
    httpx.post(f"{google.url}/_sandbox/faults", json={"status": "UNAVAILABLE", "count": 1, "record": True})
    _ingest(engine, _order("B1", now - timedelta(hours=3)), shop, now)
    _ingest(engine, _order("B1", now - timedelta(hours=3)), shop, now)  # the webhook arrives twice
    await _deliver(engine, meta.url, google.url, shop)
    # A worker claims the next order and is killed (SIGKILL: nothing recorded, the lease just runs out).
    _ingest(engine, _order("B2", now - timedelta(hours=2)), shop, now)
    claim = ob.claim(engine, "killed-worker", PROFIT_DEST, 10, 0.0, datetime.now(UTC))
    assert claim is not None and [e.event_id for e in claim.events] == ["B2"]
    await _deliver(engine, meta.url, google.url, shop)
    conv = _conversions(google.url)
    assert set(conv) == {(PROFIT_DEST, "B1"), (PROFIT_DEST, "B2")}
    assert conv[(PROFIT_DEST, "B1")]["restatements"] == 1  # the lost answer's resend: same value again
    assert conv[(PROFIT_DEST, "B2")]["restatements"] == 0  # the killed worker had sent nothing
    assert all(c["value"] == c["first_value"] for c in conv.values())
    assert sum(1 for e in _events(google.url) if e["kind"] == "conversion") == 2


async def test_google_errors_are_classified(
    engine: Engine, sandboxes: tuple[RunningSandbox, RunningGoogleSandbox]
) -> None:
    meta, google = sandboxes
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop()
    _setup(engine, now)
    for oid in ("C1", "C2", "C3"):
        _ingest(engine, _order(oid, now - timedelta(hours=1)), shop, now)
    faults = [
        {"status": "UNAVAILABLE", "count": 2},  # 5xx: retried
        {"status": "RESOURCE_EXHAUSTED", "count": 1},  # quota: the destination is throttled
        {"status": "INVALID_ARGUMENT", "transaction_ids": ["C2"]},  # one bad event: bisected, dead
    ]
    for fault in faults:
        httpx.post(f"{google.url}/_sandbox/faults", json=fault)
    await _deliver(engine, meta.url, google.url, shop)
    with engine.connect() as conn:
        states = dict(
            conn.execute(
                select(outbox.c.event_id, outbox.c.state).where(outbox.c.pixel_id == PROFIT_DEST)
            ).all()
        )
        dead_reason = conn.execute(
            select(outbox.c.last_error).where(outbox.c.pixel_id == PROFIT_DEST, outbox.c.event_id == "C2")
        ).scalar_one()
        outcomes = [
            r[0]
            for r in conn.execute(
                select(delivery_log.c.outcome).where(delivery_log.c.pixel_id == PROFIT_DEST)
            )
        ]
    assert states == {"C1": "sent", "C2": "dead", "C3": "sent"}
    assert "INVALID_ARGUMENT" in dead_reason and "events[0].transactionId" in dead_reason
    # 5xx twice, quota once; the bad event ends alone (bisected when it shared a request) and dead
    assert outcomes.count("retry") == 2 and outcomes.count("throttle") == 1 and outcomes.count("invalid") == 1
    assert set(_conversions(google.url)) == {(PROFIT_DEST, "C1"), (PROFIT_DEST, "C3")}

    # The refresh token is revoked: the destination pauses and alerts; Meta goes on.
    httpx.post(f"{google.url}/_sandbox/revoke", json={"refresh_tokens": True})
    _ingest(engine, _order("C4", now - timedelta(minutes=5)), shop, now)
    dispatcher = await _deliver(engine, meta.url, google.url, shop)
    assert PROFIT_DEST in dispatcher.report.paused
    with engine.connect() as conn:
        paused = (
            conn.execute(select(pixel_state).where(pixel_state.c.pixel_id == PROFIT_DEST)).mappings().one()
        )
        c4 = conn.execute(
            select(outbox.c.state).where(outbox.c.event_id == "C4", outbox.c.pixel_id == PROFIT_DEST)
        ).scalar_one()
    assert paused["paused"] and "invalid_grant" in paused["pause_reason"]
    assert DEFAULT_REFRESH_TOKEN not in paused["pause_reason"]
    assert c4 in ("pending", "retry")  # kept, not sent nor dead: it goes after `poas outbox resume`
    assert [e["event"]["custom_data"]["order_id"] for e in meta.events(event_name="Purchase")][-1] == "C4"

    # The delivery view and the alert name the destination by kind; the alert says what to fix.
    view = delivery_view(engine, now=datetime.now(UTC), shops=None)
    kinds = {p.pixel_id: (p.kind, p.paused) for p in view.pixels}
    assert kinds[PROFIT_DEST] == ("google_ads_conversion_action", True)
    assert kinds["1234567890"] == ("meta_pixel", False)
    with engine.connect() as conn:
        row = next(p for p in alert_store.paused_pixels(conn, datetime.now(UTC)) if p.pixel_id == PROFIT_DEST)
    alert = pixel_paused_alert(row, now=datetime.now(UTC), repeat=False)
    assert alert.summary.startswith(f"Google Ads conversion action {PROFIT_ACTION} (account {CUSTOMER})")
    assert "delivery to Google Ads has stopped" in alert.summary
    assert "refresh token" in alert.action and f"poas outbox resume {PROFIT_DEST}" in alert.action


async def test_no_ads_consent_in_the_eea_sends_nothing_to_google(
    engine: Engine, sandboxes: tuple[RunningSandbox, RunningGoogleSandbox]
) -> None:
    meta, google = sandboxes
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop(consent_policy=None, consent_default_by_region={"EEA": "denied", "NO": "granted"})
    _setup(engine, now)
    denied = _ingest(engine, _order("E1", now - timedelta(hours=1), country="DE"), shop, now)
    granted = _ingest(engine, _order("E2", now - timedelta(hours=1), country="NO"), shop, now)
    assert denied.events.google.skipped.startswith("no ads consent:")
    assert "denied" in denied.events.google.skipped
    assert granted.events.google.queued == [(PROFIT_DEST, "E2")]
    note = purchase_note(denied, True, "")  # what the inbox says about the webhook
    assert "Google not sent: no ads consent: shop default denied for DE (region EEA)" in note
    assert purchase_note(granted, True, "").endswith("; Google: 1 conversion(s) queued")
    await _deliver(engine, meta.url, google.url, shop)
    assert set(_conversions(google.url)) == {(PROFIT_DEST, "E2")}
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.pixel_id).where(outbox.c.order_id == "E1")).all()
    assert rows == []


async def test_poas_sandbox_google_serves_the_worker(
    engine: Engine, sandboxes: tuple[RunningSandbox, RunningGoogleSandbox]
) -> None:
    """`poas sandbox google --port P` (its own process) and the Worker wired from settings alone."""
    meta, _ = sandboxes
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop()
    _setup(engine, now)
    _ingest(engine, _order("W1", now - timedelta(hours=1)), shop, now)
    with serving(["sandbox", "google"], "/_sandbox/conversions") as url:
        settings = Settings(
            graph_base_url=meta.url,
            google_datamanager_url=url,
            google_token_url=f"{url}/token",
            shops=[shop],
        )
        async with Worker(engine, settings, FAST) as worker:
            report = await worker.drain(wait_for_retries=True)
        assert report.sent == 2  # the Purchase and the Google conversion
        assert set(_conversions(url)) == {(PROFIT_DEST, "W1")}
        bad = httpx.post(f"{url}/token", data={"grant_type": "refresh_token", "client_id": "nobody"})
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        unauth = httpx.post(f"{url}/v1/events:ingest", json={})
        assert unauth.status_code == 401 and unauth.json()["error"]["status"] == "UNAUTHENTICATED"


async def test_adjustments_through_the_google_ads_api_retract_and_restate(
    engine: Engine, sandboxes: tuple[RunningSandbox, RunningGoogleSandbox]
) -> None:
    """google.adjustments = "google_ads_api": a fully refunded order's conversion is RETRACTED, a partly
    refunded one RESTATED, through ConversionAdjustmentUploadService (allowlisted accounts only)."""
    meta, google = sandboxes
    now = datetime.now(UTC).replace(microsecond=0)
    base = _shop()
    shop = base.model_copy(
        update={
            "google": base.google.model_copy(update={"adjustments": "google_ads_api"}),
            "google_ads_developer_token": SecretStr("dev-token-123"),
        }
    )
    _setup(engine, now)
    placed = now - timedelta(days=1)
    for oid in ("R1", "R2"):
        _ingest(engine, _order(oid, placed), shop, placed + timedelta(minutes=1))
    await _deliver(engine, meta.url, google.url, shop)
    full = (Refund("R1-r", now - timedelta(hours=1), (RefundLine("R1-1", 2, RestockType.RETURN),)),)
    part = (Refund("R2-r", now - timedelta(hours=1), (RefundLine("R2-1", 1, RestockType.RETURN),)),)
    _ingest(engine, _order("R1", placed, refunds=full), shop, now)
    refunded = _ingest(engine, _order("R2", placed, refunds=part), shop, now)
    assert finalize_due(engine, shop, now=now).google_queued == 2
    with engine.connect() as conn:
        adjusting = conn.execute(select(outbox.c.event_id).where(outbox.c.pixel_id.like("gadj:%"))).all()
    assert sorted(r[0] for r in adjusting) == ["R1.restate.final", "R2.restate.refund:R2-r"]
    await _deliver(engine, meta.url, google.url, shop)

    conv = _conversions(google.url)
    assert conv[(PROFIT_DEST, "R1")]["retracted"] is True and conv[(PROFIT_DEST, "R1")]["value"] == 0
    assert D(str(conv[(PROFIT_DEST, "R2")]["value"])) == refunded.profit.realized_profit.rounded().amount
    assert len(conv) == 2
    kinds = {(e["transaction_id"], e["kind"]) for e in _events(google.url)}
    assert ("R1", "retraction") in kinds and ("R2", "restatement") in kinds
    retraction = next(e["event"] for e in _events(google.url) if e["kind"] == "retraction")
    assert retraction["conversionAction"] == f"customers/{CUSTOMER}/conversionActions/{PROFIT_ACTION}"
    assert retraction["orderId"] == "R1" and "restatementValue" not in retraction

    # A resend of the retraction (a lost answer) is done already, not an error; an account Google does
    # not allow on the old API pauses the destination.
    creds = settings_credentials([shop])("nordic", google_adjustment_id(CUSTOMER, PROFIT_ACTION))
    client = AdjustmentClient(google.url, "v21", f"{google.url}/token", timeout_s=2.0)
    again = await client.send(google_adjustment_id(CUSTOMER, PROFIT_ACTION), [json.dumps(retraction)], creds)
    assert again.events_received == 1
    httpx.post(f"{google.url}/_sandbox/objects", json={"accounts": {"5555555555": ["333"]}})
    with pytest.raises(GoogleError) as refused:
        await client.send(google_adjustment_id("5555555555", "333"), [json.dumps(retraction)], creds)
    await client.aclose()
    assert refused.value.disposition is Disposition.PAUSE
    assert "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE" in refused.value.message


def test_connect_google_checks_token_account_and_actions(
    sandboxes: tuple[RunningSandbox, RunningGoogleSandbox],
) -> None:
    """`poas connect google SHOP` against the sandbox: OK for the configured actions; an unknown action
    and a revoked refresh token FAIL with what to fix; nothing is recorded (validateOnly)."""
    _, google = sandboxes
    settings = Settings(google_datamanager_url=google.url, google_token_url=f"{google.url}/token")
    shop = _shop(two_actions=True)
    checks = connect_google(settings, shop)
    assert [(c.name, c.level.value) for c in checks] == [
        ("OAuth", "ok"),
        (f"conversion action {PROFIT_ACTION}", "ok"),
        (f"conversion action {REVENUE_ACTION}", "ok"),
    ]
    assert _events(google.url) == []
    wrong = shop.model_copy(
        update={
            "google": shop.google.model_copy(
                update={
                    "conversion_actions": [
                        GoogleConversionAction(customer_id=CUSTOMER, conversion_action_id="404")
                    ]
                }
            )
        }
    )
    failed = connect_google(settings, wrong)[-1]
    assert failed.level.value == "fail" and "DESTINATION_NOT_FOUND" in failed.detail and failed.fix
    httpx.post(f"{google.url}/_sandbox/revoke", json={"refresh_tokens": True})
    refused = connect_google(settings, shop)
    assert len(refused) == 1 and refused[0].level.value == "fail" and "invalid_grant" in refused[0].detail
    assert "refresh token" in refused[0].fix


async def test_a_shop_without_a_pixel_sends_to_google_and_the_order_says_meta_got_nothing(
    engine: Engine, sandboxes: tuple[RunningSandbox, RunningGoogleSandbox]
) -> None:
    meta, google = sandboxes
    now = datetime.now(UTC).replace(microsecond=0)
    shop = _shop(pixel_id=None)
    _setup(engine, now)
    outcome = _ingest(engine, _order("G1", now - timedelta(hours=1)), shop, now)
    assert outcome.events.skipped == "shop nordic has no pixel_id configured"
    assert outcome.events.google.queued == [(PROFIT_DEST, "G1")]
    await _deliver(engine, meta.url, google.url, shop)
    assert meta.events() == [] and set(_conversions(google.url)) == {(PROFIT_DEST, "G1")}
    detail = order_detail(engine, "nordic", "G1", shop=shop)
    assert detail is not None and detail.meta is not None
    assert detail.meta.kind == "not_sent"  # the Google conversion is not taken for a Meta Purchase
    assert [e.pixel_id for e in detail.events] == [PROFIT_DEST]
