"""The return-rate model on known counts, and its properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poas.domain.order import Order, OrderLine, Refund, RefundLine, RestockType
from poas.domain.returns import FitSettings, UnitCounts, count_units, fit, shrink

D = Decimal


def test_shrink_is_the_beta_posterior_mean() -> None:
    # 3 of 10 returned, parent 0.20 worth 30 pseudo-units: (3 + 6) / 40 = 0.225
    assert shrink(3, 10, D("0.20"), D(30)) == D("0.225")
    # no data: the parent's rate
    assert shrink(0, 0, D("0.2"), D(30)) == D("0.2")


def test_three_levels_on_known_counts() -> None:
    counts = {
        "SHIRT-1": UnitCounts(100, 40),  # fashion, plenty of data
        "SHIRT-2": UnitCounts(10, 10),  # fashion, thin data: below min_sample
        "MUG-1": UnitCounts(190, 10),  # home
    }
    cats: dict[str, str | None] = {"SHIRT-1": "fashion", "SHIRT-2": "fashion", "MUG-1": "home"}
    model = fit(counts, cats, settings=FitSettings(prior_strength=D(30), min_sample=30))
    # shop: (60 + 10·0.10) / (300 + 10) = 61/310
    assert model.shop.rate == D(61) / D(310)
    shop = D(61) / D(310)
    fashion = (D(50) + 30 * shop) / D(140)
    assert model.categories["fashion"].rate == fashion
    assert model.rate("SHIRT-1", "fashion").rate == (D(40) + 30 * fashion) / D(130)
    assert model.rate("SHIRT-1", "fashion").source == "sku"
    # below the minimum sample the SKU inherits its category's rate
    assert model.rate("SHIRT-2", "fashion").rate == fashion
    assert model.rate("SHIRT-2", None).source == "category"  # category remembered from the history
    assert model.rate("NEW", None).source == "shop"


def test_configured_rates_win() -> None:
    counts = {"A": UnitCounts(1000, 500)}
    model = fit(
        counts,
        {"A": "fashion"},
        configured_sku={"A": D("0.05")},
        configured_category={"beauty": D("0.07")},
    )
    assert model.rate("A", "fashion").rate == D("0.05")
    assert model.rate("A", "fashion").source == "configured"
    assert model.rate("X", "beauty").rate == D("0.07")


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="SKU A: 5 units returned but only 2 sold"):
        fit({"A": UnitCounts(2, 5)}, {})
    with pytest.raises(ValueError, match="between 0 and 1"):
        fit({}, {}, configured_sku={"A": D("1.5")})


counts_st = st.dictionaries(
    st.sampled_from([f"S{i}" for i in range(8)]),
    st.integers(0, 500).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
    max_size=8,
)


@given(counts_st, st.integers(0, 200))
def test_rates_stay_in_unit_interval(raw: dict[str, tuple[int, int]], min_sample: int) -> None:
    counts = {k: UnitCounts(n, r) for k, (n, r) in raw.items()}
    cats: dict[str, str | None] = {k: ("a" if i % 2 else "b") for i, k in enumerate(raw)}
    model = fit(counts, cats, settings=FitSettings(min_sample=min_sample))
    for est in [model.shop, *model.categories.values(), *model.skus.values()]:
        assert D(0) <= est.rate <= D(1)


@given(st.integers(0, 5), st.integers(1, 5), st.decimals("0.01", "0.99", places=2))
def test_thin_data_stays_near_the_prior(returned: int, extra: int, parent: Decimal) -> None:
    sold = returned + extra
    thin = shrink(returned, sold, parent, D(1000))
    raw = D(returned) / D(sold)
    # with a strong prior and a handful of units, the estimate is far closer to the parent than the raw rate
    assert abs(thin - parent) <= abs(raw - parent) * D(sold) / D(1000 + sold) + D("1e-20")


def _order(oid: str, at: datetime, qty: int, returned: int, restock: RestockType) -> Order:
    line = OrderLine(line_id="1", quantity=qty, unit_price=D(100), sku="A", category="fashion")
    refunds = (
        (Refund("r", at + timedelta(days=3), (RefundLine("1", returned, restock),)),) if returned else ()
    )
    return Order("s", oid, at, "NOK", (line,), refunds=refunds)


def test_count_units_uses_closed_windows_and_skips_cancels() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    orders = [
        _order("1", now - timedelta(days=60), 2, 1, RestockType.RETURN),
        _order("2", now - timedelta(days=50), 1, 1, RestockType.CANCEL),  # not a return
        _order("3", now - timedelta(days=5), 4, 4, RestockType.RETURN),  # window still open
        _order("4", now - timedelta(days=400), 9, 9, RestockType.RETURN),  # outside look-back
    ]
    counts, cats = count_units(
        orders, now=now, lookback=timedelta(days=365), return_window=timedelta(days=30)
    )
    assert counts["A"].sold == 3
    assert counts["A"].returned == 1
    assert cats["A"] == "fashion"
