"""Store: orders upsert idempotently and round-trip; stale updates are ignored; costs, rules, snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select, text

from poas.domain.order import (
    Attribution,
    Consent,
    Customer,
    Order,
    OrderLine,
    Refund,
    RefundLine,
    RestockType,
    ShippingLine,
)
from poas.store.orders import (
    ensure_shop,
    load_order,
    load_user_data,
    stored_form,
    upsert_order,
    upsert_orders,
)
from poas.store.tables.foundation import order_lines, orders, refund_lines, refunds

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_order(order_id: str = "1001", *, updated: datetime | None = T0, qty: int = 2, **kw: object) -> Order:
    base = Order(
        shop_id="s1",
        order_id=order_id,
        name=f"#{order_id}",
        created_at=T0,
        processed_at=T0 + timedelta(seconds=5),
        updated_at=updated,
        currency="NOK",
        lines=(
            OrderLine(
                line_id="l1",
                quantity=qty,
                unit_price=Decimal("499.00"),
                sku="TEE-1",
                variant_id="v1",
                product_id="p1",
                title="Tee",
                category="fashion",
                discount=Decimal("49.90"),
                tax=Decimal("189.62"),
                tax_rate=Decimal("0.25"),
                grams=200,
            ),
            OrderLine(line_id="l2", quantity=1, unit_price=Decimal("100"), sku="GC", gift_card=True),
        ),
        shipping_lines=(
            ShippingLine(price=Decimal("79"), method="bring", title="Bring", tax=Decimal("15.80")),
        ),
        gateway="vipps",
        shipping_country="NO",
        customer=Customer(email="kari@example.com", first_name="Kari"),
        attribution=Attribution(utm_source="facebook", utm_campaign="123", fbclid="AbC", fbp="fb.1.2.3"),
        consent=Consent(marketing=True, ads_tracking=None),
        refunds=(
            Refund(
                refund_id="r1",
                processed_at=T0 + timedelta(days=3),
                lines=(RefundLine("l1", 1, RestockType.RETURN, Decimal("224.55"), Decimal("44.91")),),
                shipping=Decimal("0"),
                adjustment=Decimal("-10.00"),
                note="size",
            ),
        ),
        actual_payment_fee=Decimal("12.34"),
        source="csv",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _shop(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_shop(conn, "s1", "NOK", True, NOW)


def test_order_round_trips_without_contact_data(engine: Engine) -> None:
    _shop(engine)
    order = make_order()
    with engine.begin() as conn:
        assert upsert_order(conn, order, now=NOW, user_data={"em": ["ab" * 32]}) == "inserted"
    with engine.connect() as conn:
        loaded = load_order(conn, "s1", "1001")
        assert load_user_data(conn, "s1", "1001") == {"em": ["ab" * 32]}
        assert load_order(conn, "s1", "nope") is None
    assert loaded == stored_form(order)
    assert loaded.customer == Customer()
    assert loaded.created_at.tzinfo is not None and loaded.created_at == T0
    with engine.connect() as conn:
        dumped = " ".join(str(r) for t in (orders, order_lines) for r in conn.execute(select(t)))
    assert "kari" not in dumped.lower()


def test_amounts_round_half_even_to_minor_units(engine: Engine) -> None:
    _shop(engine)
    order = make_order(lines=(OrderLine("l1", 1, Decimal("10.125")), OrderLine("l2", 1, Decimal("10.135"))))
    with engine.begin() as conn:
        upsert_order(conn, order, now=NOW)
    with engine.connect() as conn:
        loaded = load_order(conn, "s1", "1001")
    assert loaded is not None
    assert [ln.unit_price for ln in loaded.lines] == [Decimal("10.12"), Decimal("10.14")]


def test_reupsert_is_idempotent(engine: Engine) -> None:
    _shop(engine)
    with engine.begin() as conn:
        upsert_order(conn, make_order(), now=NOW)
    with engine.begin() as conn:
        assert upsert_order(conn, make_order(), now=NOW) == "updated"
    assert (_count(engine, orders), _count(engine, order_lines), _count(engine, refunds)) == (1, 2, 1)
    assert _count(engine, refund_lines) == 1


def test_out_of_order_update_changes_nothing(engine: Engine) -> None:
    _shop(engine)
    newer = make_order(updated=T0 + timedelta(hours=2), qty=5, refunds=())
    older = make_order(updated=T0 + timedelta(hours=1), qty=1)
    with engine.begin() as conn:
        assert upsert_order(conn, newer, now=NOW) == "inserted"
        assert upsert_order(conn, older, now=NOW) == "stale"
    with engine.connect() as conn:
        loaded = load_order(conn, "s1", "1001")
    assert loaded is not None
    assert loaded.lines[0].quantity == 5 and loaded.refunds == ()
    assert loaded.updated_at == T0 + timedelta(hours=2)
    # a later version still wins
    with engine.begin() as conn:
        assert upsert_order(conn, make_order(updated=T0 + timedelta(hours=3), qty=7), now=NOW) == "updated"
        loaded = load_order(conn, "s1", "1001")
    assert loaded is not None and loaded.lines[0].quantity == 7 and len(loaded.refunds) == 1


def test_bulk_upsert_twice_keeps_counts_and_newest_in_batch_wins(engine: Engine) -> None:
    _shop(engine)
    batch = [make_order(str(i)) for i in range(300)]
    batch.append(make_order("7", updated=T0 + timedelta(minutes=1), qty=9))  # newer copy inside the batch
    batch.append(make_order("8", updated=T0 - timedelta(minutes=1), qty=9))  # older copy inside the batch
    with engine.begin() as conn:
        first = upsert_orders(conn, batch, now=NOW)
    assert len(first.inserted) == 300 and not first.updated
    counts = (_count(engine, orders), _count(engine, order_lines), _count(engine, refund_lines))
    assert counts == (300, 600, 300)
    with engine.begin() as conn:
        second = upsert_orders(conn, batch, now=NOW)
    assert len(second.updated) == 300 and not second.inserted
    assert (_count(engine, orders), _count(engine, order_lines), _count(engine, refund_lines)) == counts
    with engine.connect() as conn:
        seven, eight = load_order(conn, "s1", "7"), load_order(conn, "s1", "8")
    assert seven is not None and seven.lines[0].quantity == 9
    assert eight is not None and eight.lines[0].quantity == 2


def test_timestamps_are_stored_in_utc(engine: Engine) -> None:
    _shop(engine)
    from zoneinfo import ZoneInfo

    oslo = T0.astimezone(ZoneInfo("Europe/Oslo"))
    with engine.begin() as conn:
        upsert_order(conn, make_order(created_at=oslo), now=NOW)
        raw = conn.execute(text("select created_at from orders")).scalar_one()
        loaded = load_order(conn, "s1", "1001")
    assert loaded is not None and loaded.created_at == T0 and loaded.created_at.utcoffset() == timedelta(0)
    assert "12:00" in str(raw)
