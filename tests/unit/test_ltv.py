"""BG/NBD + Gamma-Gamma: parameters recovered from simulated customers, held-out predictions calibrated."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from poas.domain.ltv import (
    BgNbd,
    GammaGamma,
    LtvError,
    LtvModel,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_model,
    summarize,
)
from poas.domain.ltv_simulation import simulate

TRUE_BG = BgNbd(r=0.8, alpha=60.0, a=1.5, b=4.0)
TRUE_GG = GammaGamma(p=6.0, q=4.0, gamma=50.0)


def _rows(orders):  # type: ignore[no-untyped-def]
    return [(o.customer, o.day, o.profit) for o in orders]


@pytest.fixture(scope="module")
def history():  # type: ignore[no-untyped-def]
    return simulate(
        TRUE_BG, TRUE_GG, customers=6000, first_day_from=0, first_day_to=360, until_day=1200, seed=11
    )


def test_summarize_hand_case() -> None:
    rows = [("a", 10.0, 100.0), ("a", 20.0, 30.0), ("a", 40.0, 50.0), ("a", 90.0, 999.0), ("b", 50.0, 7.0)]
    s = summarize(rows, cutoff_day=60.0)
    order = np.argsort(s.x)[::-1]
    assert list(s.x[order]) == [2.0, 0.0]
    assert list(s.t_x[order]) == [30.0, 0.0]
    assert list(s.T[order]) == [50.0, 10.0]
    assert list(s.m[order]) == [40.0, 0.0]  # the first order's 100 is not repeat value; day 90 is after
    assert list(s.repeat_profit[order]) == [80.0, 0.0]


def test_parameters_recovered(history) -> None:  # type: ignore[no-untyped-def]
    s = summarize(_rows(history), cutoff_day=540.0)
    bg, fit = fit_bgnbd(s)
    assert fit.converged
    for got, want in ((bg.r, TRUE_BG.r), (bg.alpha, TRUE_BG.alpha), (bg.a, TRUE_BG.a), (bg.b, TRUE_BG.b)):
        assert got == pytest.approx(want, rel=0.2)
    gg, _, excluded = fit_gamma_gamma(s)
    assert excluded == 0
    assert gg.mean_value == pytest.approx(TRUE_GG.mean_value, rel=0.1)
    # the fitted parameters explain the data better than a clearly wrong set
    wrong = BgNbd(r=TRUE_BG.r * 2, alpha=TRUE_BG.alpha, a=TRUE_BG.a, b=TRUE_BG.b / 2)
    assert bg.log_likelihood(s.x, s.t_x, s.T).sum() > wrong.log_likelihood(s.x, s.t_x, s.T).sum()


def test_new_customer_365_days_within_ten_percent_on_held_out_cohort(history) -> None:  # type: ignore[no-untyped-def]
    model = fit_model(summarize(_rows(history), cutoff_day=540.0))
    cohort = simulate(
        TRUE_BG, TRUE_GG, customers=5000, first_day_from=600, first_day_to=630, until_day=1100, seed=12
    )
    first = {o.customer: o.day for o in cohort if o.first}
    realized: dict[str, float] = defaultdict(float)
    for o in cohort:
        if not o.first and o.day - first[o.customer] <= 365:
            realized[o.customer] += o.profit
    realized_mean = sum(realized.values()) / len(first)
    predicted = model.predict_new(365)
    assert abs(predicted - realized_mean) / realized_mean < 0.10
    assert model.weight > 0.99


def test_existing_customers_next_365_days_within_ten_percent(history) -> None:  # type: ignore[no-untyped-def]
    cut = 540.0
    s = summarize(_rows(history), cutoff_day=cut)
    model = fit_model(s)
    keys = sorted({o.customer for o in history if o.day <= cut})
    realized: dict[str, float] = defaultdict(float)
    for o in history:
        if cut < o.day <= cut + 365:
            realized[o.customer] += o.profit
    predicted_total = float(model.predict(365, s).sum())
    realized_total = sum(realized[k] for k in keys)
    assert abs(predicted_total - realized_total) / realized_total < 0.10
    # the conditional model ranks: the top predicted quarter buys more than the bottom quarter
    pred = model.predict(365, s)
    order_keys = list(dict.fromkeys(o.customer for o in history if o.day <= cut))  # summarize's order
    real = np.array([realized[k] for k in order_keys])
    rank = np.argsort(pred)
    quarter = len(rank) // 4
    assert real[rank[-quarter:]].mean() > 3 * real[rank[:quarter]].mean()
    assert pred.min() >= 0


def test_thin_data_shrinks_toward_shop_average() -> None:
    orders = simulate(
        TRUE_BG, TRUE_GG, customers=25, first_day_from=0, first_day_to=200, until_day=400, seed=3
    )
    s = summarize(_rows(orders), cutoff_day=400.0)
    model = fit_model(s, credibility=30.0)
    assert 0 < model.weight < 0.6
    pure = model.bg.expected_new(365) * model.gg.mean_value
    blended = model.predict_new(365)
    average = model.shop_average(365)
    assert min(pure, average) <= blended <= max(pure, average)
    assert blended == pytest.approx(model.weight * pure + (1 - model.weight) * average)


def test_stored_form_round_trips(history) -> None:  # type: ignore[no-untyped-def]
    model = fit_model(summarize(_rows(history[:3000]), cutoff_day=540.0))
    again = LtvModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again == model
    with pytest.raises(LtvError):
        LtvModel.from_dict({"bg": {}})


def test_gamma_gamma_weights_and_domain() -> None:
    gg = GammaGamma(p=6.0, q=4.0, gamma=50.0)
    assert gg.mean_value == pytest.approx(100.0)
    x = np.array([0.0, 1.0, 50.0])
    m = np.array([0.0, 300.0, 300.0])
    v = gg.expected_value(x, m)
    assert v[0] == pytest.approx(100.0)  # no repeat orders: the population mean
    assert 100.0 < v[1] < v[2] < 300.0  # more orders pull toward the customer's own mean
    with pytest.raises(LtvError):
        _ = GammaGamma(p=1.0, q=0.9, gamma=1.0).mean_value


def test_p_alive_falls_with_silence() -> None:
    x = np.array([3.0, 3.0])
    t_x = np.array([300.0, 30.0])
    T = np.array([310.0, 310.0])
    alive = TRUE_BG.p_alive(x, t_x, T)
    assert alive[0] > alive[1]
    assert TRUE_BG.p_alive(np.zeros(1), np.zeros(1), np.array([500.0]))[0] == 1.0
