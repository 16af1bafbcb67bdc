"""Silent syncs are alerts, on SQLite and PostgreSQL over real HTTP: the ad-spend sync (against the Meta
sandbox's insights) and the exchange-rate sync (against a local ECB) record each attempt; one without a
success for longer than its setting fires once to the alert receiver, is repeated after the repeat
interval and resolved once after a success, and `poas doctor` names it. A shop without an ad account
or token, and an FX sync that is off, have nothing to be silent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fx_feed_server import FxFeeds, serve_fx_feeds
from pydantic import SecretStr
from sqlalchemy import Engine
from test_alerts import SECRET_PATH, Receiver, serve_receiver

from poas.meta.sandbox import RunningSandbox, run_sandbox
from poas.services.alerts import alert_status, check_alerts
from poas.services.doctor import Level, check_syncs, run_checks
from poas.services.fx_sync import FxSyncError, sync_fx
from poas.services.spend import SpendError, sync_spend
from poas.settings import Settings, ShopConfig
from poas.store import syncs as sync_store

TOKEN = "EAAB-sandbox-token-0123456789abcdef"
REPEAT_S = 6 * 3600.0
SPEND_SILENCE = timedelta(hours=36)
FX_SILENCE = timedelta(hours=72)
T0 = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # the local ECB's latest rates are Friday 27 November's


def _meta_row(day: date, spend: str) -> dict[str, Any]:
    return {
        "account_currency": "NOK",
        "campaign_id": "120200000000000",
        "campaign_name": "Kampanje",
        "adset_id": "120210000000000",
        "adset_name": "Annonsesett",
        "ad_id": "120220000000000",
        "ad_name": "Annonse",
        "spend": spend,
        "impressions": "1520",
        "clicks": "37",
        "actions": [{"action_type": "purchase", "value": "3"}],
        "action_values": [{"action_type": "purchase", "value": "1499.5"}],
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as rec:
        yield rec


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox() as sb:
        httpx.post(
            f"{sb.url}/_sandbox/insights",
            json={"account_id": "777", "rows": [_meta_row(date(2026, 3, 7), "250.10")]},
        ).raise_for_status()
        yield sb


def _shop(token: str = TOKEN, **kw: Any) -> ShopConfig:
    return ShopConfig(id="nordlys", ad_account_id="act_777", access_token=SecretStr(token), **kw)


def _spend_settings(receiver: Receiver, sandbox: RunningSandbox, shop: ShopConfig, db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        graph_base_url=sandbox.url,
        alert_webhook_url=SecretStr(receiver.url + SECRET_PATH),
        alert_format="json",
        alert_repeat_s=REPEAT_S,
        spend_sync_silence_s=SPEND_SILENCE.total_seconds(),
        fx_sync_source="off",
        shops=[shop, ShopConfig(id="kaffe")],  # kaffe: no ad account, no token: no spend sync to miss
    )


def _keys(posts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["alert"], p["state"]) for p in posts]


def test_silent_spend_sync_fires_once_repeats_resolves_and_doctor_warns(
    engine: Engine, db_url: str, receiver: Receiver, sandbox: RunningSandbox
) -> None:
    settings = _spend_settings(receiver, sandbox, _shop(), db_url)
    sync_spend(engine, settings, _shop(), now=T0)
    check_alerts(engine, settings, now=T0 + timedelta(hours=1))
    assert receiver.take() == []

    # The token expires: the next syncs fail, each failure recorded with Meta's reason.
    expired = _spend_settings(receiver, sandbox, _shop("expired"), db_url)
    with pytest.raises(SpendError):
        sync_spend(engine, expired, _shop("expired"), now=T0 + timedelta(hours=20))
    check_alerts(engine, settings, now=T0 + SPEND_SILENCE)  # not longer than allowed yet
    assert receiver.take() == []
    assert check_syncs(settings, T0 + SPEND_SILENCE) == []

    fired_at = T0 + SPEND_SILENCE + timedelta(minutes=1)
    check_alerts(engine, settings, now=fired_at)
    (post,) = receiver.take()
    assert _keys([post]) == [("sync_silent:spend:nordlys", "firing")]
    assert post["summary"] == "the ad-spend sync of shop nordlys has not succeeded for 36 h (allowed: 36 h)"
    details = post["details"]
    assert details["shop_id"] == "nordlys" and details["sync"] == "spend"
    assert details["last_success_at"] == "2026-03-08T06:00:00Z"
    assert details["last_failure_at"] == "2026-03-09T02:00:00Z"
    assert "Error validating access token" in details["last_error"]
    assert "poas spend sync --shop nordlys" in details["action"]
    assert not details["repeat"]

    check_alerts(engine, settings, now=fired_at + timedelta(seconds=60))
    check_alerts(engine, settings, now=fired_at + timedelta(seconds=REPEAT_S - 1))
    assert receiver.take() == []
    (status,) = alert_status(engine, now=fired_at, settings=settings)  # `poas alerts status`
    assert (status.key, status.condition, status.receiver_told) == (
        "sync_silent:spend:nordlys",
        "firing",
        "firing",
    )

    doctor = check_syncs(settings, fired_at)
    assert [(c.name, c.level) for c in doctor] == [("spend sync nordlys", Level.WARN)]
    assert "has not succeeded for 36 h" in doctor[0].detail and "failed" in doctor[0].detail
    assert "cron" in doctor[0].fix
    wired = [c for c in run_checks(settings, graph=False, now=fired_at) if c.name.endswith("sync nordlys")]
    assert [c.level for c in wired] == [Level.WARN]

    check_alerts(engine, settings, now=fired_at + timedelta(seconds=REPEAT_S + 1))
    (again,) = receiver.take()
    assert again["state"] == "firing" and again["details"]["repeat"]
    assert "has still not succeeded for 42 h" in again["summary"]

    # The token is renewed: the next sync succeeds and the alert is resolved once.
    back = fired_at + timedelta(seconds=REPEAT_S + 120)
    sync_spend(engine, settings, _shop(), now=back)
    check_alerts(engine, settings, now=back + timedelta(seconds=60))
    (resolved,) = receiver.take()
    assert _keys([resolved]) == [("sync_silent:spend:nordlys", "resolved")]
    assert "succeeded again" in resolved["summary"]
    check_alerts(engine, settings, now=back + timedelta(hours=2))
    assert receiver.take() == []
    assert check_syncs(settings, back + timedelta(hours=2)) == []
    assert all(TOKEN not in body and "hunter2" not in body for body in receiver.raw)


def test_a_spend_sync_that_never_ran_is_silent_from_the_first_check(
    engine: Engine, db_url: str, receiver: Receiver, sandbox: RunningSandbox
) -> None:
    """No cron job was ever set up: nothing records an attempt, so the first alert check starts the
    clock; a backfill of old days alone is not the recurring sync and does not stop it."""
    settings = _spend_settings(receiver, sandbox, _shop(), db_url)
    assert check_syncs(settings, T0) == []  # nothing has looked for it yet
    check_alerts(engine, settings, now=T0)
    sync_spend(engine, settings, _shop(), now=T0, since=date(2026, 2, 1), until=date(2026, 2, 7))
    with engine.connect() as conn:
        (row,) = sync_store.load(conn).values()
    assert (row.kind, row.shop_id, row.expected_since, row.last_attempt_at) == ("spend", "nordlys", T0, None)
    check_alerts(engine, settings, now=T0 + SPEND_SILENCE + timedelta(seconds=1))
    (post,) = receiver.take()
    assert post["alert"] == "sync_silent:spend:nordlys" and post["details"]["last_success_at"] is None
    assert post["details"]["last_attempt_at"] is None
    assert post["details"]["silent_since"] == "2026-03-08T06:00:00Z"
    (warn,) = check_syncs(settings, T0 + SPEND_SILENCE + timedelta(seconds=1))
    assert "No success recorded since it was first expected (2026-03-08T06:00:00Z)" in warn.detail
    assert "It has not been tried since" in warn.detail
    assert not any("kaffe" in body for body in receiver.raw)  # no ad account, no token: no alert


def test_a_shop_without_ad_account_or_token_has_no_spend_sync_to_miss(
    engine: Engine, db_url: str, receiver: Receiver, sandbox: RunningSandbox
) -> None:
    no_token = ShopConfig(id="nordlys", ad_account_id="act_777")
    no_account = ShopConfig(id="nordlys", access_token=SecretStr(TOKEN))
    for shop in (no_token, no_account):
        settings = _spend_settings(receiver, sandbox, shop, db_url)
        check_alerts(engine, settings, now=T0)
        check_alerts(engine, settings, now=T0 + timedelta(days=30))
        assert check_syncs(settings, T0 + timedelta(days=30)) == []
    assert receiver.raw == []
    with engine.connect() as conn:
        assert sync_store.load(conn) == {}


@pytest.fixture
def feeds() -> Iterator[FxFeeds]:
    with serve_fx_feeds() as f:
        yield f


def _fx_settings(receiver: Receiver, feeds: FxFeeds, db_url: str, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "fx_sync_source": "ecb",
        "fx_ecb_base_url": feeds.ecb_url,
        "alert_webhook_url": SecretStr(receiver.url + SECRET_PATH),
        "alert_repeat_s": REPEAT_S,
        "fx_sync_silence_s": FX_SILENCE.total_seconds(),
    }
    values.update(kw)
    return Settings(**values)


def test_silent_fx_sync_fires_once_repeats_resolves_and_doctor_warns(
    engine: Engine, db_url: str, receiver: Receiver, feeds: FxFeeds
) -> None:
    settings = _fx_settings(receiver, feeds, db_url)  # slack format
    sync_fx(engine, settings, now=SUNDAY)
    feeds.fail_with = 503  # the feed goes down: every hourly sync fails
    for hours in (1, 2, 50):
        with pytest.raises(FxSyncError):
            sync_fx(engine, settings, now=SUNDAY + timedelta(hours=hours, days=1))
    check_alerts(engine, settings, now=SUNDAY + FX_SILENCE)
    assert receiver.take() == []

    fired_at = SUNDAY + FX_SILENCE + timedelta(minutes=5)
    check_alerts(engine, settings, now=fired_at)
    (post,) = receiver.take()
    text = post["text"]
    assert text.startswith(":rotating_light: *poas: the exchange-rate sync has not succeeded for 3 d")
    assert "(allowed: 3 d)" in text
    assert "Last success 2026-11-29T09:00:00Z" in text
    assert "last at 2026-12-02T11:00:00Z, and failed: FxSyncError: ECB:" in text and "HTTP 503" in text
    assert "What to do: check that `poas worker`" in text
    assert "[url]" in text and feeds.url not in text  # the feed's address is scrubbed like any URL

    (warn,) = check_syncs(settings, fired_at)
    assert (warn.name, warn.level) == ("fx sync", Level.WARN) and "HTTP 503" in warn.detail

    check_alerts(engine, settings, now=fired_at + timedelta(seconds=REPEAT_S - 1))
    assert receiver.take() == []
    check_alerts(engine, settings, now=fired_at + timedelta(seconds=REPEAT_S))
    (again,) = receiver.take()
    assert "has still not succeeded" in again["text"]

    feeds.fail_with = None
    back = fired_at + timedelta(seconds=REPEAT_S + 60)
    sync_fx(engine, settings, now=back)
    check_alerts(engine, settings, now=back)
    (resolved,) = receiver.take()
    assert resolved["text"].startswith(":white_check_mark: *poas: the exchange-rate sync succeeded again")
    check_alerts(engine, settings, now=back + timedelta(hours=1))
    assert receiver.take() == []
    assert check_syncs(settings, back) == []


def test_fx_sync_off_means_no_fx_alert(
    engine: Engine, db_url: str, receiver: Receiver, feeds: FxFeeds
) -> None:
    settings = _fx_settings(receiver, feeds, db_url, alert_format="json")
    check_alerts(engine, settings, now=SUNDAY)  # on: the clock starts
    late = SUNDAY + FX_SILENCE + timedelta(hours=1)
    check_alerts(engine, settings, now=late)
    assert _keys(receiver.take()) == [("sync_silent:fx", "firing")]

    off = _fx_settings(receiver, feeds, db_url, alert_format="json", fx_sync_source="off")
    assert check_syncs(off, late) == []
    check_alerts(engine, off, now=late + timedelta(minutes=1))
    (resolved,) = receiver.take()  # switched off: nothing to wait for any more
    assert _keys([resolved]) == [("sync_silent:fx", "resolved")]
    assert "no longer expected" in resolved["summary"]
    check_alerts(engine, off, now=late + timedelta(days=30))
    assert receiver.take() == []


def test_sync_silence_settings_are_validated() -> None:
    for name in ("spend_sync_silence_s", "fx_sync_silence_s"):
        with pytest.raises(ValueError, match=f"POAS_{name.upper()} must be seconds above 0"):
            Settings(**{name: 0})
        with pytest.raises(ValueError, match="at most 31536000"):
            Settings(**{name: 400 * 86400})
    assert Settings().spend_sync_silence_s == 36 * 3600 and Settings().fx_sync_silence_s == 72 * 3600
