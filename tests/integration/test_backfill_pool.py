"""A bulk backfill parsed in worker processes stores and reports exactly what one in this process does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from test_webhooks import amounts

from poas.services import backfill as backfill_module
from poas.services.backfill import BackfillReport, backfill
from poas.settings import ShopConfig
from poas.store.orders import load_order

FIXTURE = Path(__file__).parents[1] / "fixtures" / "shopify" / "bulk_orders.jsonl"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
COPIES = 400  # of the fixture's six lines: a good order with a refund, a bad one, a test order


def _shop(shop_id: str) -> ShopConfig:
    return ShopConfig(
        id=shop_id, platform="shopify", currency="NOK", prices_include_vat=True, default_margin=0.5
    )


def bulk_file(path: Path) -> tuple[Path, list[str]]:
    """COPIES renumbered copies of the fixture, junk lines among them, and a newer copy of an
    earlier order (its updatedAt later) in a later batch; the good orders' ids."""
    block = FIXTURE.read_text()
    out: list[str] = []
    good: list[str] = []
    for i in range(COPIES):
        text = block.replace("58301208", f"{7000 + i}").replace("136203045", f"{9100 + i}")
        out.append(text.rstrip("\n"))
        good.append(f"{7000 + i}00456")
        if i == 10:
            out.append("not json")
            out.append("[1, 2]")
            out.append('{"id": "gid://shopify/LineItem/5", "__parentId": "gid://shopify/Order/1"}')
            out.append('{"id": "gid://shopify/Order/1", "n": 12345678901234567890123456789012345678901}')
            out.append("")
        if i == 390:  # the first order again, changed, after its group is complete: it is updated
            again = block.replace("58301208", "7000").replace("136203045", "9100").splitlines()[:3]
            again[0] = again[0].replace(
                '"updatedAt": "2026-11-20T13:03:15Z"', '"updatedAt": "2026-11-21T08:00:00Z"'
            )
            again[0] = again[0].replace('"#1042"', '"#1042-B"')
            out.extend(again)
    path.write_text("\n".join(out) + "\n")
    return path, good


def _run(engine: Engine, shop: ShopConfig, path: Path, workers: int) -> tuple[BackfillReport, list[int]]:
    progress: list[int] = []
    with path.open("rb") as stream:
        report = backfill(
            engine,
            shop,
            stream,
            "bulk",
            now=NOW,
            batch_size=50,
            send_events=False,
            max_errors=500,
            on_progress=progress.append,
            workers=workers,
        )
    return report, progress


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    methods: list[str] = []
    real = backfill_module.start_pool

    def spy(*args: Any, **kw: Any) -> Any:
        methods.append(kw["method"])
        return real(*args, **kw)

    monkeypatch.setattr(backfill_module, "start_pool", spy)
    return methods


@pytest.fixture(params=["fork", "forkserver"])
def method(request: pytest.FixtureRequest) -> Iterator[str]:
    """forkserver: another thread runs during the backfill (as a progress bar does)."""
    if request.param == "fork":
        yield "fork"
        return
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield "forkserver"
    stop.set()
    thread.join()


def test_workers_store_and_report_what_one_process_does(
    engine: Engine, tmp_path: Path, started: list[str], method: str
) -> None:
    path, good = bulk_file(tmp_path / "bulk.jsonl")
    one, one_progress = _run(engine, _shop("one"), path, workers=0)
    assert started == []
    pooled, pooled_progress = _run(engine, _shop("pool"), path, workers=2)
    assert started == [method]

    assert (one.accepted, one.rejected, one.skipped) == (COPIES + 1, COPIES + 4, COPIES)
    assert (pooled.accepted, pooled.rejected, pooled.skipped) == (one.accepted, one.rejected, one.skipped)
    assert pooled.errors == one.errors
    assert one.errors[:4] == [  # lines whose bytes tell nothing at once; the rest with their group
        "line 67: not valid JSON",
        "line 68: expected a JSON object",
        "line 69: __parentId: order 1 is not in the recent rows",
        "line 4: order 700000999: line_items[0].price_set.shop_money.amount: expected a decimal number",
    ]
    # line 70 reads as order 1's row from its bytes: its error comes when that group completes
    assert "line 70: n: integer has more than 40 digits" in one.errors[4:]
    assert (pooled.outcome.inserted, pooled.outcome.updated, pooled.outcome.snapshots) == (
        one.outcome.inserted,
        one.outcome.updated,
        one.outcome.snapshots,
    )
    assert one.outcome.inserted == COPIES and one.outcome.updated == 1
    assert pooled_progress == one_progress and one_progress[-1] == path.stat().st_size

    with engine.connect() as conn:
        for order_id in good:
            a, b = load_order(conn, "one", order_id), load_order(conn, "pool", order_id)
            assert a is not None and b is not None
            assert replace(b, shop_id="one") == a
        newest = load_order(conn, "pool", "700000456")
        assert newest is not None and newest.name == "#1042-B"
        assert load_order(conn, "pool", "700001000") is None  # a test order
    for order_id in good[:5]:
        assert amounts(engine, "pool", order_id) == amounts(engine, "one", order_id)
