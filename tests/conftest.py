"""Shared fixtures: a migrated store on SQLite and on PostgreSQL.

`engine` runs each test on both engines. PostgreSQL comes from POAS_TEST_PG_URL (default the local
server); when it is unreachable the PostgreSQL half is skipped with the reason, except under CI=true,
where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text

from poas.store.db import make_engine, upgrade
from poas.store.tables import metadata

PG_ADMIN_URL = os.environ.get("POAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Tests never reach the real ECB or Norges Bank: workers and `poas serve` started by a test (and the
# processes they start) keep exchange rates as they are. The FX tests pass their own settings, with
# a local feed server's address.
os.environ["POAS_FX_SYNC_SOURCE"] = "off"

# Property and fuzz tests: under CI=true they draw the same examples every run (a commit lands on a
# reproducible result); elsewhere each run draws new ones, so running the suite locally keeps
# searching. HYPOTHESIS_PROFILE=ci reproduces CI's draw anywhere.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.register_profile("dev")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))


def _pg_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(f"PostgreSQL not reachable ({reason}); set POAS_TEST_PG_URL or start the server")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped afterwards)."""
    name = f"poas_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any connection problem means "no PostgreSQL here"
        _pg_unavailable(str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "poas.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()
    return path


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    if names:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, migrated store; each test runs once per engine."""
    if request.param == "sqlite":
        path = tmp_path / "poas.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    _truncate_all(eng)
    eng.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _poas_environment() -> Iterator[None]:
    before = {k: v for k, v in os.environ.items() if k.startswith("POAS_")}
    yield
    for key in [k for k in os.environ if k.startswith("POAS_")]:
        if key not in before:
            del os.environ[key]
    os.environ.update(before)


# Code under test may export POAS_* variables for its worker processes (the one-time admin password,
# the session secret); neither a test nor a module-scoped fixture may leak them into the next one.
_restore_poas_environment = pytest.fixture(autouse=True)(_poas_environment)
_restore_poas_environment_per_module = pytest.fixture(autouse=True, scope="module")(_poas_environment)
