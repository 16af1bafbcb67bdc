"""`poas doctor` says what is wrong and how to fix it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from poas.meta.sandbox import run_sandbox
from poas.services.doctor import Level, check_graph, check_sessions, run_checks
from poas.settings import Settings, ShopConfig
from poas.store.db import make_engine, upgrade


def _levels(checks: list) -> dict[str, list[tuple[Level, str]]]:
    out: dict[str, list[tuple[Level, str]]] = {}
    for c in checks:
        out.setdefault(c.name, []).append((c.level, c.detail))
    return out


def test_a_healthy_installation(db_url: str) -> None:
    shop = ShopConfig(
        id="nordlys",
        platform="shopify",
        webhook_secrets=[SecretStr("whsec-123")],
        pixel_id="123456789012345",
        access_token=SecretStr("EAAB" + "x" * 40),
        ad_account_id="act_1234567890",
    )
    with run_sandbox() as sb:
        settings = Settings(
            database_url=db_url,
            graph_base_url=sb.url,
            session_secret=SecretStr("a-shared-session-secret-0123456789"),
            shops=[shop],
        )
        checks = run_checks(settings)
    assert {c.level for c in checks} == {Level.OK}, checks
    names = {c.name for c in checks}
    assert names == {"database", "migrations", "sessions", "login", "shop nordlys", "graph"}


def test_problems_are_named_with_a_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    shop = ShopConfig(
        id="kaffe", platform="woocommerce", pixel_id="12ab", access_token=None, ad_account_id="x1"
    )
    checks = run_checks(Settings(database_url=url, graph_base_url="http://127.0.0.1:9", shops=[shop]))
    by = _levels(checks)
    assert by["migrations"][0][0] is Level.FAIL  # nothing applied yet
    fails = [c for c in checks if c.level is Level.FAIL]
    details = " | ".join(c.detail for c in fails)
    assert "without a webhook secret" in details
    assert "not a numeric dataset id" in details
    assert "without an access token" in details
    assert "not act_<digits>" in details
    assert "unreachable" in details
    assert all(c.fix for c in fails), "every failure says how to fix it"
    # once migrated, the migration check passes
    upgrade(make_engine(url))
    assert _levels(run_checks(Settings(database_url=url), graph=False))["migrations"][0][0] is Level.OK


def test_graph_reachable_answers_ok() -> None:
    with run_sandbox() as sb:
        assert check_graph(Settings(graph_base_url=sb.url)).level is Level.OK


def test_cli_exit_code_and_no_secret_in_output(tmp_path: Path) -> None:
    (tmp_path / "poas.toml").write_text(
        '[[shops]]\nid = "s"\npixel_id = "123456789"\naccess_token = "short"\n'
    )
    env = {**os.environ, "POAS_HOME": str(tmp_path)}
    poas = str(Path(sys.executable).parent / "poas")
    result = subprocess.run(
        [poas, "doctor", "--no-graph"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "malformed" in result.stdout
    assert "short" not in result.stdout.replace("too short", "")


def test_postgres_without_a_session_secret_warns(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several web processes on PostgreSQL each sign sessions with their own key unless one is set."""
    monkeypatch.delenv("POAS_SESSION_SECRET", raising=False)
    check = check_sessions(Settings(database_url=db_url))
    if db_url.startswith("postgresql"):
        assert check.level is Level.WARN and "PostgreSQL" in check.detail
        assert "POAS_SESSION_SECRET" in check.fix
    else:
        assert check.level is Level.OK  # SQLite: one process, its own key is fine
    secret = "a-shared-session-secret-0123456789"
    shared = check_sessions(Settings(database_url=db_url, session_secret=SecretStr(secret)))
    assert shared.level is Level.OK and secret not in shared.detail + shared.fix


@pytest.mark.postgres
def test_cli_warns_about_the_session_secret_on_postgres(pg_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "POAS_SESSION_SECRET"}
    env.update(POAS_HOME=str(tmp_path), POAS_DATABASE_URL=pg_url, COLUMNS="250")
    poas = str(Path(sys.executable).parent / "poas")
    result = subprocess.run(
        [poas, "doctor", "--no-graph"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not a failure
    # the check named "sessions" (the migrations line may name 0011_admin_sessions too)
    line = next(line for line in result.stdout.splitlines() if line.startswith("│ sessions "))
    assert "warn" in line and "POAS_SESSION_SECRET" in line
