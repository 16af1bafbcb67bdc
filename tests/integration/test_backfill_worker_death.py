"""A Shopify bulk backfill whose worker process is killed mid-file (as the out-of-memory killer does):
it stops with `BackfillWorkerDied` after writing the batches already read and placing their
customers, says how many orders were committed, and running it again completes it without doubling
anything; the CLI says it on one line."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from test_backfill_pool import COPIES, bulk_file

from poas.services import backfill as backfill_mod
from poas.services.backfill import BackfillWorkerDied, backfill
from poas.settings import ShopConfig
from poas.store.tables.customers import customer_orders, customers
from poas.store.tables.foundation import orders, profit_snapshots

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
KILL_GID = b"gid://shopify/Order/730000456"  # the 301st order: in the chunk of orders 201-300 (+ 1)
_real = backfill_mod.prepare_bulk_chunk


def _kill_at_marker(items: list[Any]) -> list[Any]:
    """In a pool worker: the real work, except that the chunk holding the marked order kills it."""
    if any(not isinstance(it, backfill_mod.BulkError) and it[1].encode() == KILL_GID for it in items):
        os.kill(os.getpid(), signal.SIGKILL)
    return _real(items)


@pytest.fixture
def killer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(backfill_mod, "prepare_bulk_chunk", _kill_at_marker)
    yield


def _shop() -> ShopConfig:
    return ShopConfig(
        id="s1", platform="shopify", currency="NOK", prices_include_vat=True, default_margin=0.5
    )


def _run(engine: Engine, path: Path) -> Any:
    with path.open("rb") as stream:
        return backfill(
            engine,
            _shop(),
            stream,
            "bulk",
            now=NOW,
            batch_size=100,
            send_events=False,
            max_errors=5,
            workers=1,
        )


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (orders, profit_snapshots, customer_orders)
        )


def test_a_killed_worker_stops_the_backfill_with_the_committed_count_and_a_rerun_completes(
    engine: Engine, tmp_path: Path, killer: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, good = bulk_file(tmp_path / "bulk.jsonl")
    assert len(good) == COPIES and KILL_GID.decode().rsplit("/", 1)[1] in good
    with pytest.raises(BackfillWorkerDied) as died:
        _run(engine, path)
    committed = died.value.report.committed
    assert 0 < committed < len(good)
    assert committed % 100 == 0  # whole batches only
    assert _counts(engine) == (committed, committed, committed)  # written, priced and placed
    with engine.connect() as conn:
        placed = conn.execute(
            select(func.count()).select_from(customer_orders).where(customer_orders.c.seq.is_not(None))
        ).scalar_one()
        people = conn.execute(select(func.count()).select_from(customers)).scalar_one()
    assert placed > 0 and people > 0  # numbered at the end, although the backfill stopped

    monkeypatch.setattr(backfill_mod, "prepare_bulk_chunk", _real)
    report = _run(engine, path)
    assert report.accepted == len(good) + 1  # the changed copy of the first order counts too
    assert _counts(engine)[0] == len(good) and _counts(engine)[2] == len(good)


def test_the_cli_says_it_on_one_line(
    db_url: str, engine: Engine, tmp_path: Path, killer: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from typer.testing import CliRunner

    import poas.cli  # noqa: F401  (registers every command)

    appmod = importlib.import_module("poas.cli.app")

    config = tmp_path / "poas.toml"
    config.write_text('[[shops]]\nid = "s1"\nplatform = "shopify"\ncurrency = "NOK"\n')
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "80")  # narrow: the message must still be one line
    monkeypatch.setattr(backfill_mod, "POOL_MIN_BYTES", 0)
    path, _ = bulk_file(tmp_path / "bulk.jsonl")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    try:
        result = CliRunner().invoke(appmod.app, ["import", "shopify-bulk", str(path), "--batch-size", "100"])
    finally:
        if appmod.store.cache_info().currsize:
            appmod.store().dispose()
        appmod.store.cache_clear()
        appmod.settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not BrokenProcessPool's traceback
    died = [ln for ln in result.output.splitlines() if "a worker process died" in ln]
    assert len(died) == 1, result.output
    assert "orders were committed; running it again is safe" in died[0]
    assert "Traceback" not in result.output
