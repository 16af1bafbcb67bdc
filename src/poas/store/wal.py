"""SQLite's write-ahead log, emptied after deletes so nothing deleted stays readable in it.

With `secure_delete` (set on every SQLite connection, `store.db`) a deleted row or a cleared body is
zeroed in the database file's pages, but the WAL still holds the frames written before, until a
checkpoint copies the newest pages back and the log starts over. `checkpoint` runs
`PRAGMA wal_checkpoint(TRUNCATE)`: every frame goes into the database file and the `-wal` file is
cut to zero bytes. The worker runs it on a timer (`services.housekeeping`, every
`WAL_CHECKPOINT_EVERY_S`), so an inbox body cleared by `finish` (or a row deleted) leaves the WAL
within a minute. It waits at most `wait_s` for the writer and for readers of older snapshots; when
they hold on longer, it says so (`busy`) and the next run tries again. PostgreSQL has nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

WAL_CHECKPOINT_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    busy: bool  # a writer or an old reader held on: not every frame could be copied; try again later
    log_frames: int  # frames in the WAL before (-1 when the database is not in WAL mode)
    checkpointed: int  # frames copied into the database file


def checkpoint(engine: Engine, *, wait_s: float = 0.1) -> Checkpoint | None:
    """Copy the WAL into the database file and truncate it (SQLite); None on PostgreSQL.

    While a TRUNCATE checkpoint waits it holds the write lock, so webhooks wait with it: the wait is
    kept short (0.1 s) and a busy checkpoint is simply tried again at the next run."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        (before,) = raw.execute("PRAGMA busy_timeout").fetchone()
        raw.execute(f"PRAGMA busy_timeout={max(int(wait_s * 1000), 0)}")
        try:
            busy, frames, done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(before)}")
    return Checkpoint(bool(busy), int(frames), int(done))
