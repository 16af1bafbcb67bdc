"""A webhook's order placed while a bulk placement (a backfill's `place_orders_at_once`, or the
rebuild) runs over the same customer's orders, on both engines: the rows end as a sequential run
leaves them, and neither side deadlocks or fails.

The overlap is forced, not timed: one side holds its transaction open (the bulk between two chunks
or before its commit; the webhook after its placement, before its commit) until the other side is
seen waiting: on PostgreSQL an advisory lock not granted in pg_locks (the shop's customer gate); on
SQLite, whose writers take turns (BEGIN IMMEDIATE), the other side about to begin its write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, text

from poas.domain.costs import CostRow
from poas.domain.order import Customer, Order, OrderLine
from poas.services.ingest import ingest_order
from poas.settings import MissingCostPolicy, ShopConfig
from poas.store.costs import import_costs
from poas.store.customers import order_types, place_orders_at_once, rebuild_customers
from poas.store.orders import ensure_shop
from poas.store.tables.customers import customer_orders, customers

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
SHOP = ShopConfig(id="s1", currency="NOK", missing_cost=MissingCostPolicy.SKIP)
ANNE = Customer(email="anne@example.com")
BJORN = Customer(email="bjorn@example.com")
N = 24  # Anne's stored orders, days 1..N; the webhook's is day 0, her first
WAIT_S = 60  # a guard against a hang, never reached when the code is right


def _order(order_id: str, at: datetime, customer: Customer) -> Order:
    return Order(
        shop_id="s1",
        order_id=order_id,
        created_at=at,
        updated_at=at,
        currency="NOK",
        lines=(
            OrderLine("l1", 1, Decimal("500.00"), sku="TEE", tax=Decimal("100.00"), tax_rate=Decimal("0.25")),
        ),
        customer=customer,
    )


STORED = [_order(f"a{i:02d}", T0 + timedelta(days=i), ANNE) for i in range(1, N + 1)] + [
    _order(f"b{i}", T0 + timedelta(days=i, hours=5), BJORN) for i in range(1, 4)
]
WEBHOOK = _order("w-new", T0, ANNE)


def _ingest(engine: Engine, o: Order) -> None:
    with engine.begin() as conn:
        ingest_order(conn, o, SHOP, now=NOW, trigger_purchase=False)


def _store(engine: Engine) -> None:
    """The stored history, as a backfill leaves it before its placement: orders, no customer rows."""
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)
        import_costs(
            conn, "s1", [CostRow.of("TEE", "150", "NOK", T0 - timedelta(days=30), source="csv")], now=NOW
        )
    for o in STORED:
        _ingest(engine, o)
    with engine.begin() as conn:
        conn.execute(delete(customer_orders))
        conn.execute(delete(customers))


Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def _rows(engine: Engine) -> Rows:
    """customer_orders and customers, without their write times."""
    co, c = customer_orders.c, customers.c
    with engine.connect() as conn:
        placed = conn.execute(
            select(*(col for col in customer_orders.c if col.name != "changed_at")).order_by(co.order_id)
        )
        people = conn.execute(
            select(*(col for col in customers.c if col.name != "updated_at")).order_by(c.customer_key)
        )
        return [dict(r._mapping) for r in placed], [dict(r._mapping) for r in people]


def _someone_waits_on_the_gate(engine: Engine) -> Callable[[], bool]:
    def waiting() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                ).scalar()
            )

    return waiting


def _until(seen: Callable[[], bool]) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=WAIT_S)
    while not seen():
        assert datetime.now(UTC) < deadline, "the other side never came to wait"
        threading.Event().wait(0.01)


class Side(threading.Thread):
    """One writer in its own thread; its exception (a deadlock, a busy store) is kept for the test."""

    def __init__(self, work: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.error: BaseException | None = None
        self.started_write = threading.Event()

    def run(self) -> None:
        try:
            self.started_write.set()
            self.work()
        except BaseException as exc:  # reported by the test
            self.error = exc


def _bulk(engine: Engine, kind: str, paused: threading.Event, resume: threading.Event) -> Callable[[], None]:
    """The bulk placement, stopping in its open transaction (holding the gate) until `resume`."""

    def hold() -> None:
        paused.set()
        assert resume.wait(WAIT_S), "never resumed"

    def chunks() -> Iterator[Sequence[str]]:
        ids = sorted(o.order_id for o in STORED)
        yield ids[: len(ids) // 2]
        hold()  # between two chunks: half of Anne's orders placed, unnumbered, not committed
        yield ids[len(ids) // 2 :]

    def run() -> None:
        with engine.begin() as conn:
            if kind == "at_once":
                place_orders_at_once(conn, "s1", chunks(), now=NOW, batch=5)
            else:
                rebuild_customers(conn, "s1", now=NOW, batch=5)
                hold()  # everything placed, not committed

    return run


def _webhook(
    engine: Engine, paused: threading.Event | None, resume: threading.Event | None
) -> Callable[[], None]:
    def run() -> None:
        with engine.begin() as conn:
            ingest_order(conn, WEBHOOK, SHOP, now=NOW, trigger_purchase=False)
            if paused is not None and resume is not None:
                paused.set()  # placed, its customer locked, not committed
                assert resume.wait(WAIT_S), "never resumed"

    return run


def _sequential(engine: Engine) -> Rows:
    """The reference: the same rows placed with nobody else writing."""
    with engine.begin() as conn:
        rebuild_customers(conn, "s1", now=NOW)
    return _rows(engine)


@pytest.mark.parametrize("bulk", ["at_once", "rebuild"])
@pytest.mark.parametrize("first", ["bulk", "webhook"])
def test_a_webhook_order_placed_during_a_bulk_placement(engine: Engine, bulk: str, first: str) -> None:
    pg = engine.dialect.name == "postgresql"
    _store(engine)
    paused, resume = threading.Event(), threading.Event()
    if first == "bulk":
        holder = Side(_bulk(engine, bulk, paused, resume))
        other = Side(_webhook(engine, None, None))
    else:
        through = threading.Event()
        through.set()  # the bulk, second, goes through its own hold at once
        holder = Side(_webhook(engine, paused, resume))
        other = Side(_bulk(engine, bulk, threading.Event(), through))
    holder.start()
    assert paused.wait(WAIT_S), holder.error  # the holder's transaction is open, its locks held
    other.start()
    if pg:
        _until(_someone_waits_on_the_gate(engine))  # the other side blocks on the shop's gate
    else:
        assert other.started_write.wait(WAIT_S)  # SQLite: it waits for the write lock (busy timeout)
    resume.set()
    holder.join(WAIT_S)
    other.join(WAIT_S)
    assert not holder.is_alive() and not other.is_alive(), "a side hangs"
    assert holder.error is None and other.error is None, (holder.error, other.error)

    raced = _rows(engine)
    placed, people = raced
    seqs = {r["order_id"]: r["seq"] for r in placed}
    assert seqs["w-new"] == 1 and all(seqs[f"a{i:02d}"] == i + 1 for i in range(1, N + 1))
    with engine.connect() as conn:
        kinds = order_types(conn, "s1", list(seqs))
    assert kinds == {oid: "new" if oid in ("w-new", "b1") else "returning" for oid in seqs}
    (anne,) = (p for p in people if p["first_order_id"] == "w-new")
    assert (anne["orders"], anne["revenue_minor"]) == (N + 1, (N + 1) * 40000)
    first_at = anne["first_order_at"]
    assert (first_at if first_at.tzinfo else first_at.replace(tzinfo=UTC)) == T0
    assert raced == _sequential(engine)  # every row as a run with nobody else writing leaves it


CAROL = Customer(email="carol@example.com")
DAVE = Customer(email="dave@example.com")


def test_an_order_moved_by_the_bulk_and_by_a_webhook_at_once(engine: Engine) -> None:
    """A backfill wrote a newer version of Anne's order x1 with Carol's e-mail (committed, not placed
    yet); while its placement moves x1 from Anne to Carol, a still newer webhook version names Dave.
    The webhook must renumber the customer the bulk placed x1 with (Carol), not only the one it read
    before the bulk committed (Anne): else Carol keeps an order she no longer has."""
    from poas.services.ingest import hash_contact
    from poas.store.order_rows import order_rows, utc_text
    from poas.store.order_writer import write_orders

    pg = engine.dialect.name == "postgresql"
    _store(engine)
    _sequential(engine)  # the stored history placed
    x1 = _order("x1", T0 + timedelta(days=30), ANNE)
    with engine.begin() as conn:
        ingest_order(conn, x1, SHOP, now=NOW, trigger_purchase=False)  # placed: Anne's
    carol = replace_customer(x1, CAROL, hours=1)
    with engine.begin() as conn:  # the backfill's write: the order stored, its placement left for the end
        user_data, _ = hash_contact(carol)
        write_orders(conn, [order_rows(carol, user_data)], now_text=utc_text(NOW))
    unplaced = ["x1"]
    paused, resume = threading.Event(), threading.Event()

    def chunks() -> Iterator[Sequence[str]]:
        yield unplaced
        paused.set()  # x1 moved to Carol in the bulk's open transaction
        assert resume.wait(WAIT_S), "never resumed"

    def bulk() -> None:
        with engine.begin() as conn:
            place_orders_at_once(conn, "s1", chunks(), now=NOW)

    holder, other = Side(bulk), Side(lambda: _ingest(engine, replace_customer(x1, DAVE, hours=2)))
    holder.start()
    assert paused.wait(WAIT_S), holder.error
    other.start()
    if pg:
        _until(_someone_waits_on_the_gate(engine))
    else:
        assert other.started_write.wait(WAIT_S)
    resume.set()
    holder.join(WAIT_S)
    other.join(WAIT_S)
    assert not holder.is_alive() and not other.is_alive(), "a side hangs"
    assert holder.error is None and other.error is None, (holder.error, other.error)
    raced = _rows(engine)
    firsts = sorted(p["first_order_id"] for p in raced[1])
    assert firsts == ["a01", "b1", "x1"], firsts  # Anne, Bjørn, Dave: nobody is left with Carol
    assert raced == _sequential(engine)


def replace_customer(o: Order, customer: Customer, *, hours: int) -> Order:
    from dataclasses import replace

    return replace(o, customer=customer, updated_at=o.updated_at + timedelta(hours=hours))
