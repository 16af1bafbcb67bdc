"""The FX table is built once per database and reused until a stored rate changes, in any process."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from poas.domain.fx import FxRate
from poas.store import costs
from poas.store.costs import load_fx_table, save_fx_rates
from poas.store.db import make_engine

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_reused_while_unchanged_and_rebuilt_after_another_process_writes(engine: Engine, db_url: str) -> None:
    with engine.begin() as conn:
        save_fx_rates(conn, [FxRate.of("XAF", "NOK", "0.0175", DAY)], now=NOW)
    with engine.connect() as conn:
        first = load_fx_table(conn)
        assert load_fx_table(conn) is first  # nothing changed: the cached table
    other = make_engine(db_url)  # another process: its own engine, its own cache
    try:
        with other.begin() as conn:
            conn.execute(  # a plain write, as another process's save would be (a later stamp)
                text("UPDATE fx_rates SET rate = '0.0190', created_at = :t"),
                {"t": NOW + timedelta(seconds=1)},
            )
    finally:
        other.dispose()
    with engine.connect() as conn:
        table = load_fx_table(conn)
        assert table is not first
        assert table.rate("XAF", "NOK", DAY).rate == Decimal("0.0190")


def test_a_write_the_stamp_misses_is_caught_by_the_full_recheck(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.begin() as conn:
        save_fx_rates(conn, [FxRate.of("XAF", "NOK", "0.0175", DAY)], now=NOW)
    with engine.connect() as conn:
        first = load_fx_table(conn)
    with engine.begin() as conn:  # same row count, same stamp: what two racing writers can leave
        conn.execute(text("UPDATE fx_rates SET rate = '0.0200'"))
    with engine.connect() as conn:
        assert load_fx_table(conn) is first  # the one-row check cannot see it...
        monkeypatch.setattr(costs, "FX_RECHECK_S", 0.0)
        assert load_fx_table(conn).rate("XAF", "NOK", DAY).rate == Decimal("0.0200")  # ...the recheck does
