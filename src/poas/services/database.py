"""The store as the faces see it: open it (migrated), ask whether it answers, name it without secrets.

Faces hold an `Engine` only to hand it to services: every service a face calls takes the engine and
opens its own connection or transaction.
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from poas.store.db import make_engine, upgrade


class StoreUnavailable(RuntimeError):
    """The database did not answer (down, unreachable, refused): a face answers 503 or reports it."""


def open_store(url: str) -> Engine:
    """An engine on `url` with every migration applied (idempotent; SQLite files are created)."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


def database_answers(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def database_label(url: str) -> str:
    """The database URL for display: the password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True)
