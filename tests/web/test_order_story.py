"""The order page's truthful parts on both engines: what Meta was told (queued / sent / not sent and
why), expected before realized until the profit is realized, the note after a cost change, and the
breakdown in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from browser_kit import seed_order
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.domain.costs import CostRow
from poas.services import views
from poas.services.ingest import recompute_profits
from poas.settings import ShopConfig
from poas.store import outbox as ob
from poas.store.costs import import_costs

RAW = ("shipping_included", "gift_cards:", "rule=", "per=", "count=", "row csv:", "{'", "True")


def _shop(pixel: str | None = "1234567890") -> ShopConfig:
    return ShopConfig(
        id="nordic",
        platform="shopify",
        domain="nordic.example",
        currency="NOK",
        pixel_id=pixel,
        access_token=SecretStr("EAAB-test-token"),
        consent_policy="always",
    )


def _send_all(engine: Engine, now: datetime) -> None:
    claim = ob.claim(engine, "t", "1234567890", limit=10, lease_s=60, now=now)
    assert claim is not None
    with engine.begin() as conn:
        ob.mark_sent(
            conn, claim.owner, [e.id for e in claim.events], now=now, meta_response={"events_received": 1}
        )


def test_a_queued_purchase_is_queued_not_sent_and_expected_comes_first(engine: Engine) -> None:
    now = datetime.now(UTC)
    shop = _shop()
    seed_order(engine, shop, now)
    o = views.order_detail(engine, "nordic", "5001", shop=shop, now=now)
    assert o is not None and o.meta is not None
    assert o.meta.kind == "queued" and o.meta.purchase is not None
    assert o.meta.purchase.net_revenue == o.expected_profit and o.meta.purchase.value is not None
    assert not o.realized_first and not o.profit_final  # a fresh open order: expected first
    assert o.correction is None  # Meta holds nothing yet
    assert [e.delivery for e in o.events] == ["queued"] and o.events[0].net_revenue == o.expected_profit
    sources = " ".join(s.source for s in o.waterfall)
    assert "Shipping rule parcel-5kg" in sources and "pick-pack (once per order)" in sources
    assert "gift cards are not revenue" in sources
    assert not [r for r in RAW if r in sources], sources
    line = next(ln for ln in o.lines if ln.key == "v-wool")
    assert line.cost is not None and line.cost.kind == "cost_book" and line.cost.unit_cost == Decimal("180")
    assert line.cost.valid_from is not None and line.cost.valid_from.tzinfo is not None


def test_after_a_cost_change_the_page_says_what_meta_was_told_and_what_follows(engine: Engine) -> None:
    now = datetime.now(UTC)
    shop = _shop()
    seed_order(engine, shop, now)
    _send_all(engine, now)
    with engine.begin() as conn:
        import_costs(
            conn,
            "nordic",
            [CostRow("v-wool", Decimal("260"), "NOK", now - timedelta(days=30), source="fix")],
            now=now,
        )
        assert recompute_profits(conn, shop, now=now, reason="cost change").changed == 1
    o = views.order_detail(engine, "nordic", "5001", shop=shop, now=now)
    assert o is not None and o.meta is not None and o.meta.kind == "sent"
    note = o.correction
    assert note is not None and note.differs and note.profit_basis == "expected"
    assert note.profit_now == o.expected_profit and note.told > note.profit_now  # the dearer sweater
    assert note.append == "will" and "a cost change alone sends nothing" in note.because
    later = views.order_detail(engine, "nordic", "5001", shop=shop, now=now + timedelta(days=8))
    assert later is not None and later.correction is not None
    assert later.correction.append == "wont" and "append window" in later.correction.because


def test_no_event_says_why_nothing_was_sent(engine: Engine) -> None:
    now = datetime.now(UTC)
    shop = _shop(pixel=None)
    seed_order(engine, shop, now)
    o = views.order_detail(engine, "nordic", "5001", shop=shop, now=now)
    assert o is not None and o.meta is not None and not o.events
    assert o.meta.kind == "not_sent" and o.meta.reason == "shop nordic has no pixel_id configured"
    declined = views.order_detail(engine, "nordic", "5001", shop=None, now=now)
    assert declined is not None and declined.meta is not None
    assert declined.meta.reason == "the order's shop is not in the configuration"
