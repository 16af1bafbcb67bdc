"""Engines and migrations: SQLite (WAL, one writer) by default, PostgreSQL through a URL.

Transactions (the rule for every caller, docs/contracts.md "Transactions"):

- A write is `engine.begin()` (or an explicit `conn.begin()`): on SQLite it starts with
  `BEGIN IMMEDIATE`, so it holds the one write lock from its first statement and never fails half-way
  upgrading a read snapshot (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out).
- A read is `engine.connect()` without `begin()`: its first statement autobegins a deferred `BEGIN`,
  which in WAL mode reads a snapshot beside the writer and never waits for it. A read never writes: a
  statement that writes on such a connection is rolled back at close anyway (nothing commits it).

PostgreSQL keeps its default transactions (READ COMMITTED); reads never wait for row locks there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

if TYPE_CHECKING:  # alembic (a third of a second to import) is imported only to migrate
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration: a store already there is opened without importing alembic at all. A test
# holds it equal to alembic's head, so a new migration cannot be forgotten here.
HEAD = "0020_customer_models"
BUSY_TIMEOUT_MS = 30000  # how long a SQLite write waits for the write lock before "database is locked"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA secure_delete=ON")  # freed space is zeroed: deleted data stays unreadable
    cur.close()


class _SqliteConnection(Connection):
    """Tells `_sqlite_begin` whether its transaction is an autobegun read or an explicit write."""

    _reading = False

    def _autobegin(self) -> None:  # SQLAlchemy's hook for "the first statement begins a transaction"
        self._reading = True
        try:
            super()._autobegin()
        finally:
            self._reading = False


def _sqlite_begin(conn: Any) -> None:
    # A write takes the write lock up front (no deadlock between two upgrading readers); a read
    # (autobegun on engine.connect()) is deferred and reads its WAL snapshot beside the writer.
    conn.exec_driver_sql("BEGIN" if getattr(conn, "_reading", False) else "BEGIN IMMEDIATE")


@contextlib.contextmanager
def write_if_free(engine: Engine, wait_s: float) -> Iterator[Connection | None]:
    """A write transaction, or None when SQLite's write lock is not free within `wait_s` seconds.

    For writes a reader may skip (refreshing a read model before reading it): they wait that long
    for the writer ahead of them instead of the busy timeout. On PostgreSQL it is `engine.begin()`.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"PRAGMA busy_timeout={max(int(wait_s * 1000), 0)}")
        try:
            try:
                trans = conn.begin()
            except OperationalError as exc:
                if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                    raise
                busy = True
            else:
                busy = False
            if busy:
                yield None
                return
            with trans:
                yield conn
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        engine._connection_cls = _SqliteConnection
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (idempotent). A store at `HEAD` is left alone without alembic."""
    if revision == "head" and at_head(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def at_head(engine: Engine) -> bool:
    """True when the store's recorded revision is `HEAD` (false without a store or a version table)."""
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return False
    return list(versions) == [HEAD]


def sessions(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)
