"""Migrations: upgrade from an empty database, and no drift between the migrations and the tables."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from poas.store.db import HEAD, alembic_config, at_head, make_engine, upgrade
from poas.store.tables import foundation, metadata

PG_ADMIN_URL = os.environ.get("POAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FOUNDATION = {t.name for t in metadata.tables.values() if getattr(foundation, t.name, None) is t}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield eng
        eng.dispose()
        return
    name = f"poas_mig_{uuid.uuid4().hex[:10]}"
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any connection problem means "no PostgreSQL here"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not reachable ({str(exc).splitlines()[0]})")
    eng = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(engine: Engine, tables: set[str] | None) -> list[Any]:
    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if tables is None:
            return True
        if type_ == "table":
            return name in tables
        table = getattr(obj, "table", None)
        return table is None or table.name in tables

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include, "target_metadata": metadata}
        )
        return list(compare_metadata(ctx, metadata))


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_foundation_upgrades_from_empty(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0001_foundation")
    assert _revision(empty_engine) == "0001_foundation"
    assert set(inspect(empty_engine).get_table_names()) >= FOUNDATION
    assert "orders" in FOUNDATION and "profit_snapshots" in FOUNDATION


# Columns later migrations add to foundation tables (table, column, migration).
CLICK_COLUMNS = ("gclid", "gbraid", "wbraid")
LATER_COLUMNS = {
    ("profit_snapshots", "missing_cost_lines", "0008_missing_costs"),
    *(("orders", c, "0019_google_click_ids") for c in CLICK_COLUMNS),
}
# Indexes later migrations add to / drop from foundation tables (change, index, migration).
LATER_INDEXES = {
    ("add_index", "ix_orders_shop_created_id", "0012_orders_list_index"),
    ("remove_index", "ix_orders_shop_created", "0012_orders_list_index"),
}


def test_foundation_migration_matches_tables(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0001_foundation")
    later = {(t, c) for t, c, _ in LATER_COLUMNS}
    diff = _diff(empty_engine, FOUNDATION)
    added = {(d[2], d[3].name) for d in diff if d[0] == "add_column"}
    assert added == later
    indexes = {(d[0], d[1].name) for d in diff if d[0] in ("add_index", "remove_index")}
    assert indexes == {(change, name) for change, name, _ in LATER_INDEXES}
    assert [d for d in diff if d[0] not in ("add_column", "add_index", "remove_index")] == []


def test_0012_orders_list_reads_newest_first_from_the_index(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0012_orders_list_index")
    names = {i["name"] for i in inspect(empty_engine).get_indexes("orders")}
    assert "ix_orders_shop_created_id" in names and "ix_orders_shop_created" not in names
    if empty_engine.dialect.name == "sqlite":
        with empty_engine.connect() as conn:
            plan = " ".join(
                str(r[-1])
                for r in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT order_id FROM orders WHERE shop_id = 's' "
                    "ORDER BY created_at DESC, order_id DESC LIMIT 50"
                )
            )
        assert "ix_orders_shop_created_id" in plan and "TEMP B-TREE" not in plan, plan
    upgrade(empty_engine, "head")
    command.downgrade(alembic_config(empty_engine), "0011_admin_sessions")
    names = {i["name"] for i in inspect(empty_engine).get_indexes("orders")}
    assert "ix_orders_shop_created" in names and "ix_orders_shop_created_id" not in names


def test_missing_cost_columns_arrive_with_0008(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0007_alerts")
    assert "missing_cost_lines" not in {
        c["name"] for c in inspect(empty_engine).get_columns("profit_snapshots")
    }
    upgrade(empty_engine, "0008_missing_costs")
    assert "missing_cost_lines" in {c["name"] for c in inspect(empty_engine).get_columns("profit_snapshots")}
    rollup = {c["name"] for c in inspect(empty_engine).get_columns("rollup_daily")}
    assert {"orders_without_cost", "revenue_without_cost_minor"} <= rollup


def test_0008_marks_existing_unknown_profit_and_drops_the_rollup_watermark(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0007_alerts")
    shop = {"id": "s", "cur": "NOK", "at": "2026-11-20 13:05:11+00:00"}
    unknown = "no unit cost for 44021137588424 (policy fallback_margin)"
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO shops (id, currency, prices_include_vat, created_at) "
                "VALUES (:id, :cur, true, :at)"
            ),
            shop,
        )
        for oid, sendable, reason in (("1001", True, None), ("1002", False, unknown)):
            conn.execute(
                text(
                    "INSERT INTO orders (shop_id, order_id, name, currency, prices_include_vat, created_at, "
                    "financial_status, test, source, ingested_at) "
                    "VALUES (:id, :oid, :oid, :cur, true, :at, 'paid', false, 'shopify', :at)"
                ),
                {**shop, "oid": oid},
            )
            conn.execute(
                text(
                    "INSERT INTO profit_snapshots (shop_id, order_id, version, created_at, reason, currency, "
                    "revenue_ex_vat, vat, cogs, shipping_cost, payment_fee, handling_cost, gross_profit, "
                    "expected_return_cost, expected_profit, realized_profit, sendable, sendable_reason, "
                    "breakdown) VALUES (:id, :oid, 1, :at, 'order created', :cur, 20000, 5000, 0, 0, 0, 0, "
                    "20000, 0, 20000, 20000, :sendable, :reason, '{}')"
                ),
                {**shop, "oid": oid, "sendable": sendable, "reason": reason},
            )
        conn.execute(text("INSERT INTO rollup_marks (shop_id, watermark) VALUES (:id, :at)"), shop)
    upgrade(empty_engine, "0008_missing_costs")
    with empty_engine.connect() as conn:
        lines = dict(conn.execute(text("SELECT order_id, missing_cost_lines FROM profit_snapshots")).all())
        marks = conn.execute(text("SELECT count(*) FROM rollup_marks")).scalar_one()
    assert lines == {"1001": 0, "1002": 1}
    assert marks == 0  # the next report rebuilds every day, filling the new rollup columns


def test_head_upgrades_from_empty_without_drift(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)  # a second run is a no-op
    assert set(metadata.tables) <= set(inspect(empty_engine).get_table_names())
    assert _diff(empty_engine, None) == []


def test_foundation_downgrade_leaves_nothing(empty_engine: Engine) -> None:
    from alembic import command

    from poas.store.db import alembic_config

    upgrade(empty_engine, "0001_foundation")
    command.downgrade(alembic_config(empty_engine), "base")
    assert not FOUNDATION & set(inspect(empty_engine).get_table_names())


def test_0009_puts_back_order_clocks_a_refund_moved(empty_engine: Engine, tmp_path: Path) -> None:
    """0.x moved `orders.updated_at` to a separately delivered refund's time; 0009 puts the order's
    own clock back, and leaves a clock that no refund explains alone."""
    from datetime import UTC, datetime

    from sqlalchemy import select, update

    from poas.services.intake import process_delivery
    from poas.settings import ShopConfig
    from poas.store.tables.catalog import product_catalog
    from poas.store.tables.customers import customer_orders, customers
    from poas.store.tables.foundation import orders

    upgrade(empty_engine, "0008_missing_costs")
    shop = ShopConfig(id="nordlys", platform="shopify")
    fixtures = Path(__file__).parents[1] / "fixtures" / "shopify"
    order = (fixtures / "order_paid.json").read_bytes()
    refund = (fixtures / "refund_create.json").read_bytes()
    now = datetime(2026, 11, 25, tzinfo=UTC)
    later = datetime(2026, 11, 26, 9, tzinfo=UTC)
    with empty_engine.begin() as conn:
        product_catalog.create(conn)  # today's ingest reads it (0014); dropped before the chain goes on
        customer_orders.create(conn)  # and places orders in customers' histories (0017); dropped likewise
        customers.create(conn)
        for column in CLICK_COLUMNS:  # and writes these (0019); dropped likewise
            conn.exec_driver_sql(f"ALTER TABLE orders ADD COLUMN {column} VARCHAR(255)")
        for shop_id in ("moved", "imported"):
            s = shop.model_copy(update={"id": shop_id})
            process_delivery(conn, "shopify", "orders/paid", order, s, now=now)
            process_delivery(conn, "shopify", "refunds/create", refund, s, now=now)
        product_catalog.drop(conn)
        customers.drop(conn)
        customer_orders.drop(conn)
        for column in CLICK_COLUMNS:
            conn.exec_driver_sql(f"ALTER TABLE orders DROP COLUMN {column}")
        # What 0.x stored: the refund's processed_at (2026-11-24 09:00 UTC) as the order's clock;
        # and a newer version written by an import, whose clock no refund explains.
        for shop_id, clock in (("moved", datetime(2026, 11, 24, 9, tzinfo=UTC)), ("imported", later)):
            conn.execute(update(orders).where(orders.c.shop_id == shop_id).values(updated_at=clock))
    upgrade(empty_engine, "0009_order_edit_clock")
    with empty_engine.connect() as conn:
        rows = conn.execute(select(orders.c.shop_id, orders.c.updated_at))
        clocks = {r.shop_id: r.updated_at for r in rows}
    assert clocks == {
        "moved": datetime(2026, 11, 20, 13, 3, 15, tzinfo=UTC),  # order_paid.json's own updated_at
        "imported": later,
    }


def test_0010_adds_the_sync_status_table_and_takes_it_back(empty_engine: Engine) -> None:
    from alembic import command

    from poas.store.db import alembic_config

    upgrade(empty_engine, "0009_order_edit_clock")
    assert "sync_status" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine, "0010_sync_status")
    assert "sync_status" in inspect(empty_engine).get_table_names()
    added = {d[3].name for d in _diff(empty_engine, {"sync_status"}) if d[0] == "add_column"}
    assert added == RECONCILE_COLUMNS  # 0013 adds them
    assert [d for d in _diff(empty_engine, {"sync_status"}) if d[0] != "add_column"] == []
    command.downgrade(alembic_config(empty_engine), "0009_order_edit_clock")
    assert "sync_status" not in inspect(empty_engine).get_table_names()


RECONCILE_COLUMNS = {"last_checked", "last_missed", "missed_total"}


def test_0013_adds_the_reconcile_counts_and_takes_them_back(empty_engine: Engine) -> None:
    from alembic import command

    from poas.store.db import alembic_config

    upgrade(empty_engine, "0013_reconcile_counts")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("sync_status")}
    assert columns >= RECONCILE_COLUMNS
    assert _diff(empty_engine, {"sync_status"}) == []
    command.downgrade(alembic_config(empty_engine), "0012_orders_list_index")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("sync_status")}
    assert not columns & RECONCILE_COLUMNS


def test_0014_adds_the_product_catalog_table_and_takes_it_back(empty_engine: Engine) -> None:
    from alembic import command

    from poas.store.db import alembic_config

    upgrade(empty_engine, "0013_reconcile_counts")
    assert "product_catalog" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine, "0014_product_catalog")
    assert "product_catalog" in inspect(empty_engine).get_table_names()
    assert _diff(empty_engine, {"product_catalog"}) == []
    command.downgrade(alembic_config(empty_engine), "0013_reconcile_counts")
    assert "product_catalog" not in inspect(empty_engine).get_table_names()


def test_0011_adds_the_admin_sessions_table_and_takes_it_back(empty_engine: Engine) -> None:
    from alembic import command

    from poas.store.db import alembic_config

    upgrade(empty_engine, "0010_sync_status")
    assert "admin_sessions" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine, "0011_admin_sessions")
    assert "admin_sessions" in inspect(empty_engine).get_table_names()
    assert _diff(empty_engine, {"admin_sessions"}) == []
    command.downgrade(alembic_config(empty_engine), "0010_sync_status")
    assert "admin_sessions" not in inspect(empty_engine).get_table_names()


def test_head_is_the_newest_migration() -> None:
    """`HEAD` lets a store at head open without alembic; a new migration must move it too."""
    from alembic.script import ScriptDirectory

    eng = make_engine("sqlite://")
    assert ScriptDirectory.from_config(alembic_config(eng)).get_current_head() == HEAD
    eng.dispose()


def test_a_store_behind_head_is_still_upgraded(empty_engine: Engine) -> None:
    assert not at_head(empty_engine)  # no version table yet
    upgrade(empty_engine, "0019_google_click_ids")
    assert not at_head(empty_engine)
    upgrade(empty_engine)
    assert at_head(empty_engine)
    assert "customer_models" in inspect(empty_engine).get_table_names()
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
