"""Alerts over real HTTP to a local receiver, on SQLite and PostgreSQL: a paused pixel fires once, is
repeated after the interval and resolved once; two checkers send once; dead letters are summed up;
stuck inbox rows fire and resolve; a refusing receiver is retried while the worker loop goes on;
`poas alerts test`; and the Settings page shows only the receiver's host."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from local_http import serve
from pydantic import SecretStr
from sqlalchemy import Engine, insert, update
from typer.testing import CliRunner

import poas.cli  # noqa: F401  (registers every command)
from poas.services.alerts import check_alerts
from poas.services.housekeeping import run_housekeeping
from poas.settings import Settings, ShopConfig
from poas.store import alerts as alert_store
from poas.store import outbox as ob
from poas.store.db import make_engine
from poas.store.tables.delivery import outbox
from poas.store.tables.intake import inbox
from poas.web.app import create_app
from poas.web.auth import hash_password

appmod = importlib.import_module("poas.cli.app")

PIXEL = "1234567890"
SHOP = "nordlys"
# A token shaped like Meta's, as if the pause reason or the config carried it: it must never be posted.
TOKEN = "EAAGm0PX4ZCpsBA" + "Zx9" * 40
SECRET_PATH = "/services/T0AAA/B0BBB/hunter2hunter2hunter2"
REPEAT_S = 3600.0
HASHED_EMAIL = "a" * 64


@dataclass
class Receiver:
    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            got, self.posts[:] = list(self.posts), []
        return got


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            with rec.lock:
                rec.raw.append(body)
                if rec.status < 300:
                    rec.posts.append(json.loads(body))
                status = rec.status
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve(Handler) as url:
        rec.url = url
        yield rec


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as rec:
        yield rec


def _settings(receiver: Receiver, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "alert_webhook_url": SecretStr(receiver.url + SECRET_PATH),
        "alert_repeat_s": REPEAT_S,
        "shops": [ShopConfig(id=SHOP, pixel_id=PIXEL, access_token=SecretStr(TOKEN))],
    }
    values.update(overrides)
    return Settings(**values)


def _enqueue(engine: Engine, now: datetime, n: int, start: int = 0, pixel: str = PIXEL) -> list[int]:
    events = [
        ob.OutboxEvent(
            SHOP,
            pixel,
            "Purchase",
            f"order-{i}",
            now,
            {"event_name": "Purchase", "user_data": {"em": [HASHED_EMAIL]}},
            order_id=f"order-{i}",
        )
        for i in range(start, start + n)
    ]
    with engine.begin() as conn:
        return ob.enqueue(conn, events, now=now)


def _pause(engine: Engine, now: datetime, pixel: str = PIXEL) -> None:
    reason = f"pause: http 401 code 190/463 Error validating access token {TOKEN}: Session has expired"
    with engine.begin() as conn:
        ob.pause_pixel(conn, pixel, reason=reason, now=now)


def _no_secrets(receiver: Receiver) -> None:
    for body in receiver.raw:
        assert TOKEN not in body and TOKEN[:40] not in body
        assert "hunter2" not in body and HASHED_EMAIL not in body


def test_paused_pixel_fires_once_repeats_after_the_interval_and_resolves_once(
    engine: Engine, receiver: Receiver
) -> None:
    settings = _settings(receiver)
    now = datetime(2025, 5, 2, 8, 0, tzinfo=UTC)
    _enqueue(engine, now, 3)
    _pause(engine, now)

    check_alerts(engine, settings, now=now)
    (first,) = receiver.take()
    text = first["text"]
    assert set(first) == {"text"}
    assert f"Meta pixel {PIXEL} (shop {SHOP}) is paused" in text
    assert f"`poas outbox resume {PIXEL}`" in text and "access token" in text
    assert "code 190/463" in text and "3 events waiting" in text

    check_alerts(engine, settings, now=now + timedelta(seconds=60))
    check_alerts(engine, settings, now=now + timedelta(seconds=REPEAT_S - 1))
    assert receiver.take() == []

    check_alerts(engine, settings, now=now + timedelta(seconds=REPEAT_S + 1))
    (again,) = receiver.take()
    assert f"Meta pixel {PIXEL} (shop {SHOP}) is still paused" in again["text"]

    with engine.begin() as conn:
        ob.resume_pixel(conn, PIXEL, now=now)
    later = now + timedelta(seconds=REPEAT_S + 120)
    check_alerts(engine, settings, now=later)
    (resolved,) = receiver.take()
    assert resolved["text"].startswith(":white_check_mark:") and "no longer paused" in resolved["text"]
    check_alerts(engine, settings, now=later + timedelta(seconds=60))
    check_alerts(engine, settings, now=later + timedelta(seconds=REPEAT_S * 2))
    assert receiver.take() == []
    _no_secrets(receiver)


def test_two_checkers_at_once_send_each_alert_once(db_url: str, engine: Engine, receiver: Receiver) -> None:
    settings = _settings(receiver, alert_format="json")
    now = datetime(2025, 5, 2, 8, 0, tzinfo=UTC)
    for pixel in ("111", "222", "333"):
        _enqueue(engine, now, 1, pixel=pixel)
        _pause(engine, now, pixel)
    engines = [make_engine(db_url), make_engine(db_url)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(eng: Engine, at: datetime) -> None:
        try:
            barrier.wait(timeout=10)
            check_alerts(eng, settings, now=at)
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        for round_at in (now, now + timedelta(seconds=1)):
            threads = [threading.Thread(target=run, args=(e, round_at)) for e in engines]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
        assert errors == []
        posts = receiver.take()
        assert sorted(p["alert"] for p in posts) == [f"pixel_paused:{p}" for p in ("111", "222", "333")]
        assert {p["state"] for p in posts} == {"firing"}
    finally:
        for e in engines:
            e.dispose()


def test_a_checker_that_read_a_stale_state_loses_the_claim(engine: Engine) -> None:
    """The claim itself: two checkers read the same row; the first change wins, the second matches nothing."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        one = alert_store.get_or_create(conn, "pixel_paused:1", now=now)
    with engine.begin() as conn:
        two = alert_store.get_or_create(conn, "pixel_paused:1", now=now)
    assert one.claim == two.claim
    with engine.begin() as conn:
        won = alert_store.change_if_unchanged(conn, one.key, one.claim, now=now, sent_state="firing")
    with engine.begin() as conn:
        lost = alert_store.change_if_unchanged(conn, two.key, two.claim, now=now, sent_state="firing")
    assert won is not None and lost is None
    with engine.connect() as conn:
        assert alert_store.states(conn)["pixel_paused:1"].claim == won


def _kill(engine: Engine, ids: list[int], reason: str) -> None:
    """Dead-letter events the way the dispatcher's mark_dead leaves them (state and reason)."""
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(state="dead", last_error=reason))


def test_dead_letters_are_summed_up_once_per_check(engine: Engine, receiver: Receiver) -> None:
    settings = _settings(receiver, alert_format="json")
    now = datetime.now(UTC)
    ids = _enqueue(engine, now, 3)
    _kill(engine, ids[:2], "invalid: http 400 code 100/2804003 Invalid parameter")
    _kill(engine, ids[2:], f"dead: http 400 code 803 unknown for customer jane.doe@example.no {TOKEN}")

    check_alerts(engine, settings, now=now)
    (post,) = receiver.take()
    assert post["alert"] == f"dead_letters:{PIXEL}" and post["state"] == "firing"
    assert post["details"]["new_dead"] == 3 and post["details"]["dead_total"] == 3
    reasons = post["details"]["top_reasons"]
    assert reasons[0] == {"reason": "invalid: http 400 code 100/2804003 Invalid parameter", "count": 2}
    assert "3 events for Meta pixel" in post["summary"]
    assert "poas outbox list --state dead" in post["details"]["action"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", post["at"])
    assert "jane.doe" not in json.dumps(post)

    check_alerts(engine, settings, now=now + timedelta(seconds=60))
    assert receiver.take() == []

    more = _enqueue(engine, now, 1, start=10)
    _kill(engine, more, "invalid: http 400 code 100/2804003 Invalid parameter")
    check_alerts(engine, settings, now=now + timedelta(seconds=120))
    (post,) = receiver.take()
    assert post["details"]["new_dead"] == 1 and post["details"]["dead_total"] == 4

    with engine.begin() as conn:  # replaying lowers the count silently; new ones are announced again
        ob.replay(conn, now=now)
    check_alerts(engine, settings, now=now + timedelta(seconds=180))
    assert receiver.take() == []
    _no_secrets(receiver)


def test_stuck_inbox_deliveries_fire_and_resolve(engine: Engine, receiver: Receiver) -> None:
    settings = _settings(receiver, alert_format="json")
    now = datetime.now(UTC)
    row = {
        "shop_id": SHOP,
        "source": "shopify",
        "topic": "orders/paid",
        "body": b'{"email": "jane.doe@example.no"}',
        "body_sha256": "0" * 64,
        "next_attempt_at": now,
        "error": "no cost for SKU MUG",
    }
    with engine.begin() as conn:
        conn.execute(
            insert(inbox),
            [
                {**row, "dedup_key": "1", "received_at": now, "status": "failed", "attempts": 5},
                {
                    **row,
                    "dedup_key": "2",
                    "received_at": now - timedelta(hours=2),
                    "status": "pending",
                    "attempts": 3,
                },
                # retrying, but for less than an hour: not stuck yet
                {**row, "dedup_key": "3", "received_at": now, "status": "pending", "attempts": 1},
                # parked as unreadable: its order will never count (a week ago: no longer alerted)
                {**row, "dedup_key": "4", "received_at": now, "status": "rejected", "attempts": 0},
                {
                    **row,
                    "dedup_key": "5",
                    "received_at": now - timedelta(days=8),
                    "status": "rejected",
                    "attempts": 0,
                },
            ],
        )
    check_alerts(engine, settings, now=now)
    (post,) = receiver.take()
    assert post["alert"] == "inbox_stuck" and post["state"] == "firing"
    assert post["details"]["failed"] == 1 and post["details"]["retrying"] == 1
    assert post["details"]["rejected"] == 1 and "1 rejected as unreadable" in post["summary"]
    assert post["details"]["by_source"][0]["topic"] == "orders/paid"
    assert "jane.doe" not in json.dumps(post)

    with engine.begin() as conn:
        conn.execute(update(inbox).values(status="done", body=None))
    check_alerts(engine, settings, now=now + timedelta(seconds=60))
    (post,) = receiver.take()
    assert post["alert"] == "inbox_stuck" and post["state"] == "resolved"


async def test_a_refusing_receiver_is_retried_and_the_worker_goes_on(
    engine: Engine, receiver: Receiver
) -> None:
    settings = _settings(receiver, alert_check_every_s=0.05)
    _pause(engine, datetime.now(UTC))
    receiver.status = 500
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(run_housekeeping(engine, settings, stop, inbox_every_s=0.02))
        for _ in range(400):
            await asyncio.sleep(0.02)
            if len(receiver.raw) >= 2:
                break
        assert len(receiver.raw) >= 2, "the refused alert was not tried again"
        assert f"pixel {PIXEL} (shop {SHOP})" in receiver.raw[0]  # the shop from the config
        receiver.status = 200
        for _ in range(400):
            await asyncio.sleep(0.02)
            if receiver.posts:
                break
        await asyncio.sleep(0.3)  # more checks: nothing more to send
        assert not task.done(), "the housekeeping loop stopped"
        stop.set()
        report = await task
    assert len(receiver.take()) == 1
    assert report.alerts_sent == 1 and report.alert_passes >= 3
    assert f"not delivered: pixel_paused:{PIXEL}" in report.alert_errors
    assert report.errors == []
    failures = [e for e in logs if e["event"] == "alert not delivered; retried at the next check"]
    assert failures and failures[0]["error"] == "HTTP 500"
    assert "hunter2" not in repr(logs) and "127.0.0.1" not in repr(logs)
    _no_secrets(receiver)


def test_no_url_no_checks(engine: Engine, receiver: Receiver) -> None:
    _pause(engine, datetime.now(UTC))
    report = check_alerts(engine, Settings(), now=datetime.now(UTC))
    assert not report.ran and receiver.raw == []


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("POAS_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield CliRunner()
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


def test_cli_alerts_test_and_status(
    cli: CliRunner, engine: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli.invoke(appmod.app, ["alerts", "test"])
    assert result.exit_code == 1
    assert "POAS_ALERT_WEBHOOK_URL is not set" in result.output

    monkeypatch.setenv("POAS_ALERT_WEBHOOK_URL", receiver.url + SECRET_PATH)
    appmod.settings.cache_clear()
    result = cli.invoke(appmod.app, ["alerts", "test"])
    assert result.exit_code == 0, result.output
    assert "accepted the test alert" in result.output and "127.0.0.1" in result.output
    assert "hunter2" not in result.output
    (post,) = receiver.take()
    assert "test alert" in post["text"]

    receiver.status = 500
    result = cli.invoke(appmod.app, ["alerts", "test"])
    assert result.exit_code == 1 and "did not accept" in result.output and "HTTP 500" in result.output

    _pause(engine, datetime.now(UTC))
    result = cli.invoke(appmod.app, ["alerts", "status"])
    assert result.exit_code == 0, result.output
    assert f"pixel_paused:{PIXEL}" in result.output and "firing" in result.output
    assert "set (127.0.0.1)" in result.output and "hunter2" not in result.output


def test_settings_page_shows_only_the_receiver_host(engine: Engine) -> None:
    password = "correct horse battery staple"
    settings = Settings(
        admin_password_hash=SecretStr(hash_password(password)),
        session_secret=SecretStr("test-secret-" + "x" * 20),
        alert_webhook_url=SecretStr("https://hooks.slack.com" + SECRET_PATH),
        alert_format="json",
    )
    with TestClient(create_app(settings, engine), base_url="http://testserver") as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"password": password, "csrf_token": token.group(1), "next": "/settings"})
        html = client.get("/settings").text
    assert "set (hooks.slack.com)" in html and "every 6 h" in html
    assert "hunter2" not in html and "T0AAA" not in html
    assert "<dt>Format</dt><dd>json</dd>" in html
