"""Value-rule suggestions: device classes, shrinkage toward no adjustment, evidence for small segments."""

from __future__ import annotations

from decimal import Decimal

from poas.domain.value_rules import SegmentOrder, device_class, suggest

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
PIXEL = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
TAB = "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
IPAD = "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15"


def test_device_class() -> None:
    assert device_class(IPHONE) == "mobile"
    assert device_class(PIXEL) == "mobile"
    assert device_class(TAB) == "tablet"
    assert device_class(IPAD) == "tablet"
    assert device_class(MAC) == "desktop"
    assert device_class(None) == "unknown" and device_class("curl/8.0") == "unknown"


def test_suggestions_from_profit_per_order() -> None:
    # NO: 100 orders at 300 profit; SE: 100 at 100; DK: 5 at 1000 (too few); 1 of 2 orders via Meta
    orders = (
        [SegmentOrder("NO", "mobile", "new", 300, i % 2 == 0) for i in range(100)]
        + [SegmentOrder("SE", "desktop", "returning", 100, i % 2 == 0) for i in range(100)]
        + [SegmentOrder("DK", "desktop", "new", 1000, True) for _ in range(5)]
    )
    got = {(s.dimension, s.segment): s for s in suggest(orders, spend_minor=10500, min_orders=30)}
    base = Decimal(300 * 100 + 100 * 100 + 5000) / 205
    no = got[("country", "NO")]
    assert no.orders == 100 and no.profit_minor == 30000
    assert no.adjustment == ((Decimal(300) / base - 1) * 100 / 150).quantize(Decimal("0.01"))
    assert no.adjustment is not None and no.adjustment > 0
    se = got[("country", "SE")]
    assert se.adjustment is not None and se.adjustment < 0
    dk = got[("country", "DK")]
    assert dk.adjustment is None and dk.reason == "fewer than 30 orders" and dk.orders == 5
    assert no.spend_minor == Decimal(5000)  # 50 of 105 Meta-attributed orders × 10 500
    assert no.poas == Decimal(30000) / 5000
    # shrinkage: the same raw gap in a segment twice as large is trusted more
    assert got[("customer", "new")].orders == 105
    assert sum(s.orders for s in got.values() if s.dimension == "device") == 205


def test_no_positive_profit_means_no_suggestion() -> None:
    orders = [SegmentOrder("NO", "mobile", "new", -50, True) for _ in range(40)]
    (s, *_rest) = suggest(orders, spend_minor=0)
    assert s.adjustment is None and s.reason is not None and s.poas is None
