"""The login throttle's settings: defaults, the environment, refused values, and `poas doctor`'s view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from poas.services.doctor import Level, check_login
from poas.services.login_attempts import LoginPolicy, configured_policy, duration_text
from poas.settings import Settings


def test_defaults_are_ten_failures_in_fifteen_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POAS_LOGIN_MAX_FAILURES", raising=False)
    monkeypatch.delenv("POAS_LOGIN_WINDOW_S", raising=False)
    assert configured_policy(Settings()) == LoginPolicy(limit=10, window=timedelta(minutes=15))


def test_the_environment_sets_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POAS_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("POAS_LOGIN_WINDOW_S", "120.5")
    assert configured_policy(Settings()) == LoginPolicy(limit=3, window=timedelta(seconds=120.5))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("login_max_failures", "0", "POAS_LOGIN_MAX_FAILURES must be at least 1"),
        ("login_max_failures", "-5", "POAS_LOGIN_MAX_FAILURES must be at least 1"),
        ("login_max_failures", "ten", "valid integer"),
        ("login_max_failures", "2.5", "valid integer"),
        ("login_window_s", "0", "POAS_LOGIN_WINDOW_S must be seconds above 0"),
        ("login_window_s", "-1", "POAS_LOGIN_WINDOW_S must be seconds above 0"),
        ("login_window_s", "nan", "POAS_LOGIN_WINDOW_S must be seconds above 0"),
        ("login_window_s", "inf", "POAS_LOGIN_WINDOW_S must be seconds above 0"),
        ("login_window_s", "1e12", "at most 31536000"),  # beyond what a datetime can subtract
        ("login_window_s", "soon", "valid number"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"POAS_{field.upper()}", value)
    with pytest.raises(ValidationError, match=message) as raised:
        Settings()
    assert [e["loc"] for e in raised.value.errors()] == [(field,)]
    assert field in str(raised.value)


def test_bad_values_are_refused_when_given_directly() -> None:
    with pytest.raises(ValidationError, match=r"POAS_LOGIN_MAX_FAILURES must be at least 1 .*got 0"):
        Settings(login_max_failures=0)
    with pytest.raises(ValidationError, match="POAS_LOGIN_WINDOW_S must be seconds above 0"):
        Settings(login_window_s=-900)


def test_the_edges_are_accepted() -> None:
    s = Settings(login_max_failures=1, login_window_s=365 * 86400)
    assert configured_policy(s) == LoginPolicy(limit=1, window=timedelta(days=365))


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (LoginPolicy(), "10 wrong passwords per 15 min per client address"),
        (LoginPolicy(1, timedelta(seconds=90)), "1 wrong password per 90 s per client address"),
        (LoginPolicy(25, timedelta(hours=2)), "25 wrong passwords per 2 h per client address"),
        (LoginPolicy(5, timedelta(days=1)), "5 wrong passwords per 1 d per client address"),
    ],
)
def test_policy_descriptions(policy: LoginPolicy, text: str) -> None:
    assert policy.describe() == text


def test_durations_keep_fractions() -> None:
    assert duration_text(timedelta(seconds=0.5)) == "0.5 s"
    assert duration_text(timedelta(seconds=3660)) == "61 min"
    assert duration_text(timedelta(seconds=1_000_000)) == "1000000 s"


def test_doctor_reports_the_limit_and_warns_when_it_is_too_loose() -> None:
    ok = check_login(Settings(login_max_failures=100, login_window_s=600))
    assert ok.level is Level.OK and "100 wrong passwords per 10 min" in ok.detail
    loose = check_login(Settings(login_max_failures=101))
    assert loose.level is Level.WARN
    assert "effectively off" in loose.detail and "POAS_LOGIN_MAX_FAILURES" in loose.fix
