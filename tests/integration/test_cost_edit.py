"""The Costs page's services on both engines: a cost entered from a date in the shop's time zone adds
a row (history kept) and prices stored orders again; the CSV template re-imports unchanged; the cost
list is paged and searchable by product name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.services.cost_edit import CostEditError, add_cost, cost_template, local_day
from poas.services.cost_import import read_cost_file, save_costs
from poas.services.ingest import ingest_order
from poas.services.views.costs import costs_view
from poas.settings import MissingCostPolicy, ShopConfig
from poas.sources.shopify import parse_order
from poas.store import costs as cost_store
from poas.store.orders import ensure_shop
from poas.store.snapshots import latest_snapshot

FIXTURE = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_paid_not_subscribed.json"
SWEATER, HAT = "44021137555656", "44021137588424"
SHOP = ShopConfig(id="nordic", missing_cost=MissingCostPolicy.SKIP)  # Europe/Oslo
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _order(engine: Engine, created: datetime) -> str:
    payload = json.loads(FIXTURE.read_text())
    payload["created_at"] = payload["processed_at"] = payload["updated_at"] = created.isoformat()
    order = parse_order(payload, SHOP.id)
    with engine.begin() as conn:
        ensure_shop(conn, SHOP.id, SHOP.currency, True, NOW)
        ingest_order(conn, order, SHOP, now=NOW, trigger_purchase=False)
    return order.order_id


def _rows(engine: Engine, key: str) -> list[CostRow]:
    with engine.connect() as conn:
        return sorted(cost_store.load_cost_rows(conn, SHOP.id, [key]), key=lambda r: r.valid_from)


def test_a_cost_from_an_oslo_date_starts_at_oslo_midnight_and_keeps_history(engine: Engine) -> None:
    first = CostRow.of(SWEATER, Decimal("250"), "NOK", datetime(2026, 1, 1, tzinfo=UTC))
    save_costs(engine, SHOP, [first], now=NOW, recompute_reason=None)
    edit = add_cost(engine, SHOP, SWEATER, "300,50", "2026-09-05", now=NOW)
    assert edit.row.valid_from == datetime(2026, 9, 4, 22, 0, tzinfo=UTC)  # Oslo midnight (CEST) in UTC
    assert local_day(edit.row.valid_from, SHOP.timezone) == "2026-09-05"
    rows = _rows(engine, SWEATER)
    assert [(r.unit_cost, r.valid_from) for r in rows] == [
        (Decimal("250"), datetime(2026, 1, 1, tzinfo=UTC)),
        (Decimal("300.50"), datetime(2026, 9, 4, 22, 0, tzinfo=UTC)),
    ]
    assert rows[1].source == "dashboard"
    # A winter date is CET: midnight is 23:00 UTC the day before.
    winter = add_cost(engine, SHOP, SWEATER, "310", "2026-12-01", now=NOW)
    assert winter.row.valid_from == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert len(_rows(engine, SWEATER)) == 3


def test_the_same_start_is_refused_and_bad_values_are_named(engine: Engine) -> None:
    add_cost(engine, SHOP, "SKU-1", "10", "2026-09-05", now=NOW)
    with pytest.raises(CostEditError, match="already has a cost from 2026-09-05") as exc:
        add_cost(engine, SHOP, "SKU-1", "12", "2026-09-05", now=NOW)
    assert exc.value.field == "valid_from"
    assert _rows(engine, "SKU-1")[0].unit_cost == Decimal("10")  # never rewritten
    for key, cost, day, field in [
        ("SKU-1", "ten", "2026-09-06", "unit_cost"),
        ("SKU-1", "-1", "2026-09-06", "unit_cost"),
        ("SKU-1", "10.123", "2026-09-06", "unit_cost"),
        ("SKU-1", "10", "05.09.2026", "valid_from"),
        ("SKU-1", "10", "1900-01-01", "valid_from"),
        ("  ", "10", "2026-09-06", "key"),
    ]:
        with pytest.raises(CostEditError) as bad:
            add_cost(engine, SHOP, key, cost, day, now=NOW)
        assert bad.value.field == field, (cost, day)
    assert len(_rows(engine, "SKU-1")) == 1


def test_an_entered_cost_prices_the_stored_orders_after_its_date_again(engine: Engine) -> None:
    order_id = _order(engine, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    with engine.connect() as conn:
        before = latest_snapshot(conn, SHOP.id, order_id)
    assert before is not None and before.missing_cost_lines == 2
    edit = add_cost(engine, SHOP, SWEATER, "300", "2026-11-01", now=NOW)
    assert edit.recomputed == 1 and edit.changed == 1
    with engine.connect() as conn:
        after = latest_snapshot(conn, SHOP.id, order_id)
    assert after is not None and after.version == before.version + 1 and after.missing_cost_lines == 1
    # A cost from a date after the order leaves its profit as it was.
    later = add_cost(engine, SHOP, HAT, "50", "2026-11-25", now=NOW)
    assert later.changed == 0


def test_the_template_reimports_unchanged(engine: Engine, tmp_path: Path) -> None:
    add_cost(engine, SHOP, SWEATER, "300", "2026-09-05", now=NOW)
    add_cost(engine, SHOP, SWEATER, "320", "2026-11-01", now=NOW)
    add_cost(engine, SHOP, "ULL-SOKK", "45.5", "2026-10-10", now=NOW)
    always = CostRow.of("ALWAYS-1", Decimal("7"), "NOK", datetime(1970, 1, 1, tzinfo=UTC))
    save_costs(engine, SHOP, [always], now=NOW, recompute_reason=None)
    text = cost_template(engine, SHOP, now=NOW)
    assert text.splitlines() == [
        "variant_id,sku,unit_cost,currency,valid_from",
        f"{SWEATER},,320.00,NOK,2026-11-01",
        ",ALWAYS-1,7.00,NOK,",
        ",ULL-SOKK,45.50,NOK,2026-10-10",
    ]
    path = tmp_path / "template.csv"
    path.write_text(text)
    read = read_cost_file(engine, SHOP, path, now=NOW, max_errors=10)
    assert read.rejected == 0 and read.lines == 3
    with engine.connect() as conn:
        stored = {(r.key, r.unit_cost, r.valid_from) for r in cost_store.load_cost_rows(conn, SHOP.id)}
    assert {(r.key, r.unit_cost, r.valid_from) for r in read.rows} <= stored
    saved = save_costs(engine, SHOP, read.rows, now=NOW, recompute_reason=None)
    with engine.connect() as conn:
        again = {(r.key, r.unit_cost, r.valid_from) for r in cost_store.load_cost_rows(conn, SHOP.id)}
    assert saved.imported == 3 and again == stored  # nothing new, nothing changed


def test_the_missing_template_lists_keys_sold_without_a_cost(engine: Engine, tmp_path: Path) -> None:
    _order(engine, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    lines = cost_template(engine, SHOP, now=NOW, missing=True).splitlines()
    assert lines[0] == "variant_id,sku,unit_cost,currency,valid_from"
    assert sorted(lines[1:]) == sorted([f"{SWEATER},,,NOK,2026-12-02", f"{HAT},,,NOK,2026-12-02"])
    path = tmp_path / "filled.csv"
    path.write_text("\n".join([lines[0], *(ln.replace(",,,NOK", ",,99,NOK") for ln in lines[1:])]) + "\n")
    read = read_cost_file(engine, SHOP, path, now=NOW, max_errors=10)
    assert read.rejected == 0 and {r.key for r in read.rows} == {SWEATER, HAT}


def test_the_cost_list_is_paged_named_and_searchable(engine: Engine) -> None:
    _order(engine, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    rows = [
        CostRow.of(f"SKU-{i:03d}", Decimal(i + 1), "NOK", datetime(2026, 1, 1, tzinfo=UTC))
        for i in range(120)
    ]
    rows.append(CostRow.of(SWEATER, Decimal("300"), "NOK", datetime(2026, 1, 1, tzinfo=UTC)))
    save_costs(engine, SHOP, rows, now=NOW, recompute_reason=None)
    first = costs_view(engine, SHOP, now=NOW, query=None, limit=50)
    assert first.total == 121 and len(first.costs) == 50 and first.costs[0].key == "44021137555656"
    assert first.costs[0].title and "Ullgenser" in first.costs[0].title
    third = costs_view(engine, SHOP, now=NOW, query=None, limit=50, offset=100)
    assert [c.key for c in third.costs] == [f"SKU-{i:03d}" for i in range(99, 120)]
    by_name = costs_view(engine, SHOP, now=NOW, query="ullGENSER", limit=50)
    assert [c.key for c in by_name.costs] == [SWEATER] and by_name.total == 1
    by_key = costs_view(engine, SHOP, now=NOW, query="sku-11", limit=50)
    assert by_key.total == 10
    assert costs_view(engine, SHOP, now=NOW, query="100%", limit=50).total == 0  # LIKE wildcards are text


def test_products_on_the_fallback_margin_are_listed_until_costed(engine: Engine) -> None:
    from poas.services.missing_costs import fallback_costs, missing_costs
    from poas.services.views.costs import missing_costs_view

    shop = SHOP.model_copy(
        update={"missing_cost": MissingCostPolicy.FALLBACK_MARGIN, "default_margin": Decimal("0.4")}
    )
    add_cost(engine, shop, SWEATER, "300", "2026-01-01", now=NOW)
    payload = json.loads(FIXTURE.read_text())
    created = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    payload["created_at"] = payload["processed_at"] = payload["updated_at"] = created.isoformat()
    with engine.begin() as conn:
        ingest_order(conn, parse_order(payload, shop.id), shop, now=NOW, trigger_purchase=False)
    assert missing_costs(engine, shop, now=NOW) == []  # the profit is known ...
    found = fallback_costs(engine, shop, now=NOW)  # ... but the hat's cost is a guess
    assert [(m.key, m.orders, m.units) for m in found] == [(HAT, 1, 1)]
    assert found[0].title and found[0].revenue_ex_vat > 0
    view = missing_costs_view(engine, shop, now=NOW)
    assert [m.key for m in view.fallback] == [HAT] and view.missing == []
    lines = cost_template(engine, shop, now=NOW, missing=True).splitlines()
    assert lines[1:] == [f"{HAT},,,NOK,2026-12-02"]
    add_cost(engine, shop, HAT, "50", "2026-01-01", now=NOW)  # priced again with the real cost
    assert fallback_costs(engine, shop, now=NOW) == []
