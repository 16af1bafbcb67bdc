"""`poas admin hash-password`, and the one-time password `poas serve` / `poas web` make."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from poas.cli import app
from poas.settings import Settings
from poas.web.auth import verify_password
from poas.web.server import ensure_admin_password


def test_hash_password_prints_a_hash_that_verifies() -> None:
    result = CliRunner().invoke(
        app, ["admin", "hash-password", "--password-stdin"], input="a long passphrase\n"
    )
    assert result.exit_code == 0, result.output
    encoded = result.stdout.strip().splitlines()[-1]
    assert encoded.startswith("scrypt$")
    assert "a long passphrase" not in result.stdout
    assert verify_password("a long passphrase", encoded)


def test_hash_password_refuses_an_empty_password() -> None:
    result = CliRunner().invoke(app, ["admin", "hash-password", "--password-stdin"], input="\n")
    assert result.exit_code == 1
    assert "must not be empty" in result.output


def test_one_time_password_is_shared_with_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POAS_ADMIN_PASSWORD_HASH", raising=False)
    monkeypatch.delenv("POAS_SESSION_SECRET", raising=False)
    settings = Settings()
    password = ensure_admin_password(settings)
    assert password is not None and len(password) >= 16
    assert settings.admin_password_hash is not None
    assert verify_password(password, settings.admin_password_hash.get_secret_value())
    # uvicorn worker processes load settings from the environment: same hash, same cookie secret
    assert os.environ["POAS_ADMIN_PASSWORD_HASH"] == settings.admin_password_hash.get_secret_value()
    assert Settings().session_secret is not None
    assert ensure_admin_password(settings) is None  # a configured hash is kept, nothing printed
