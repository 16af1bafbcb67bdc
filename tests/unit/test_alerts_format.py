"""Alert formatting (Slack and json), the scrubbing of stored reasons, and the alert settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError

from poas.services import alerts
from poas.settings import Settings
from poas.store.alerts import DeadLetters, PausedPixelRow

NOW = datetime(2025, 5, 2, 8, 16, tzinfo=UTC)
TOKEN = "EAAGm0PX4ZCpsBAZB" + "q1" * 60


def _paused(
    reason: str = "pause: http 401 code 190/463 Error validating access token (fbtrace_id AbC12)",
) -> PausedPixelRow:
    return PausedPixelRow("123", reason, datetime(2025, 5, 2, 8, 0, tzinfo=UTC), None, ("nordlys",), 42)


def test_slack_names_the_pixel_the_shop_the_reason_and_the_remedy() -> None:
    body = alerts.format_slack(alerts.pixel_paused_alert(_paused(), now=NOW, repeat=False))
    assert list(body) == ["text"]
    text = body["text"]
    assert text.startswith(":rotating_light: *poas: Meta pixel 123 (shop nordlys) is paused")
    assert "Reason Meta gave: pause: http 401 code 190/463 Error validating access token" in text
    assert "Paused since 2025-05-02T08:00:00Z until someone resumes it; 42 events waiting" in text
    assert text.splitlines()[-1].startswith("What to do: renew") and "`poas outbox resume 123`" in text


def test_json_has_the_documented_shape() -> None:
    body = alerts.format_json(alerts.pixel_resumed_alert("123", now=NOW))
    assert body == {
        "alert": "pixel_paused:123",
        "state": "resolved",
        "summary": "Meta pixel 123 is no longer paused: delivery to Meta is running again",
        "details": {"pixel_id": "123"},
        "at": "2025-05-02T08:16:00Z",
    }
    firing = alerts.format_json(
        alerts.dead_letters_alert(
            DeadLetters("123", 5, ("a", "b"), [("invalid: code 100", 4), ("x", 1)]), 2, now=NOW
        )
    )
    assert firing["state"] == "firing" and firing["alert"] == "dead_letters:123"
    assert firing["summary"].startswith("2 events for Meta pixel 123 (shops a, b) dead-lettered")
    assert firing["details"]["top_reasons"][0] == {"reason": "invalid: code 100", "count": 4}
    assert "poas outbox replay --all-dead" in firing["details"]["action"]


@pytest.mark.parametrize(
    ("raw", "gone"),
    [
        (f"code 190 token {TOKEN} expired", TOKEN[:20]),
        ("user jane.doe+shop@example.no is invalid", "jane.doe"),
        ("call +47 912 34 567 about it", "912 34"),
        ("see https://graph.facebook.com/v25.0/1/events?access_token=abc123", "abc123"),
        ("hash " + "ab" * 32 + " rejected", "abab"),
    ],
)
def test_scrub_removes_tokens_and_contact_data(raw: str, gone: str) -> None:
    assert gone not in alerts.scrub(raw)


def test_scrub_keeps_meta_codes_and_short_trace_ids() -> None:
    reason = "invalid: http 400 code 100/2804003 Invalid parameter (fbtrace_id AbCdEf123XyZ)"
    assert alerts.scrub(reason) == reason
    assert len(alerts.scrub("x " * 500)) == alerts.MAX_REASON_CHARS


def test_the_paused_alert_never_carries_the_token() -> None:
    alert = alerts.pixel_paused_alert(_paused(f"pause: code 190 {TOKEN}"), now=NOW, repeat=True)
    for body in (alerts.format_slack(alert), alerts.format_json(alert)):
        assert TOKEN[:20] not in str(body)
    assert "is still paused" in alert.summary


def test_alert_settings_defaults_and_receiver_host() -> None:
    s = Settings()
    assert (s.alert_webhook_url, s.alert_format, s.alert_repeat_s, s.alert_check_every_s) == (
        None,
        "slack",
        21600.0,
        60.0,
    )
    assert alerts.receiver_label(s) == "not set"
    s = Settings(
        alert_webhook_url=SecretStr("https://hooks.slack.com/services/T0/B0/secret"), alert_format="JSON"
    )
    assert alerts.receiver_label(s) == "set (hooks.slack.com)" and s.alert_format == "json"
    assert "secret" not in str(alerts.settings_facts(s))
    assert Settings(alert_webhook_url="  ").alert_webhook_url is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("alert_webhook_url", "ftp://hooks.example/secret-path", "POAS_ALERT_WEBHOOK_URL must be an http"),
        ("alert_webhook_url", "hooks.slack.com/secret-path", "POAS_ALERT_WEBHOOK_URL must be an http"),
        ("alert_format", "xml", "POAS_ALERT_FORMAT must be slack or json"),
        ("alert_repeat_s", 0, "POAS_ALERT_REPEAT_S must be seconds above 0"),
        ("alert_check_every_s", -1, "POAS_ALERT_CHECK_EVERY_S must be seconds above 0"),
    ],
)
def test_alert_settings_are_validated_with_the_variable_named(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        Settings(**{field: value})
    assert "secret-path" not in str(info.value)  # the URL may hold a credential: never repeated
