"""`poas import orders` when a worker process is killed mid-file (as the out-of-memory killer does): one
line says so and how many orders were committed, and running the same import again completes it
without doubling anything."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from poas.services import order_import
from poas.store.db import make_engine
from poas.store.tables.customers import customer_orders
from poas.store.tables.foundation import orders, profit_snapshots

ORDERS = 1200
KILLED_AT = 800  # in the fourth chunk of 250 records (order_import.CHUNK_RECORDS)
MARKER = b'"order_id": "kill-me"'
_real_prepare = order_import.prepare_jsonl_chunk


def _kill_own_process_at_marker(records: list[tuple[int, bytes]]) -> list[Any]:
    """In a pool worker: the real work, except that the chunk holding the marked order kills it."""
    if any(MARKER in data for _, data in records):
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_prepare(records)


def _write_orders(path: Path) -> None:
    docs = []
    for i in range(ORDERS):
        docs.append(
            {
                "order_id": "kill-me" if i == KILLED_AT else f"o{i}",
                "currency": "NOK",
                "created_at": f"2026-03-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
                "customer": {"email": f"c{i % 300}@example.com"},
                "lines": [{"line_id": "1", "quantity": 1, "unit_price": "125.00", "sku": "SKU-1"}],
            }
        )
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import poas.cli  # noqa: F401  (registers every command)

    appmod = importlib.import_module("poas.cli.app")
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "80")  # narrow: the message must still be one line
    monkeypatch.setattr(order_import, "POOL_MIN_BYTES", 0)  # the pool for a small test file
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield appmod
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


def _counts(db_url: str) -> tuple[int, int, int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (orders, profit_snapshots, customer_orders)
            )
    finally:
        engine.dispose()


def test_a_killed_worker_is_one_line_with_the_committed_orders_and_a_rerun_completes(
    cli: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.jsonl"
    _write_orders(path)
    args = ["import", "orders", str(path), "--shop", "s1", "--workers", "1", "--batch-size", "250"]
    monkeypatch.setattr(order_import, "prepare_jsonl_chunk", _kill_own_process_at_marker)

    result = CliRunner().invoke(cli.app, args)

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not BrokenProcessPool's traceback
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    died = [ln for ln in lines if "a worker process died" in ln]
    assert len(died) == 1, result.output
    assert "running it again is safe" in died[0] and "--workers 0" in died[0]
    found = re.search(r"after (\d+) orders were committed", died[0])
    assert found is not None, died[0]
    committed = int(found.group(1))
    # One worker takes the chunks in turn: the three before the killed one came back and were written.
    assert committed == 750
    assert _counts(db_url) == (committed, committed, committed)

    monkeypatch.setattr(order_import, "prepare_jsonl_chunk", _real_prepare)
    cli.settings.cache_clear()
    cli.store.cache_clear()
    again = CliRunner().invoke(cli.app, args)

    assert again.exit_code == 0, again.output
    assert f"{ORDERS} orders accepted" in " ".join(again.output.split())
    # Every order once, one profit snapshot each (the committed ones' figures did not change), each
    # placed once in its customer's history.
    assert _counts(db_url) == (ORDERS, ORDERS, ORDERS)
