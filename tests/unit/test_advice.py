"""Budget advice on one basis: toward campaigns above the target POAS, away from those below, pause
below the pause line; target ROAS = target POAS / margin; the table colour agrees with the verdict."""

from __future__ import annotations

from decimal import Decimal

import pytest

from poas.domain.advice import (
    CampaignFigures,
    DecisionPolicy,
    advise,
    campaign_figures,
    check_basis,
    cut_share,
    tone,
    verdict,
)
from poas.domain.report_rows import Figures, report_row

D = Decimal
A = CampaignFigures("a", "Product A", spend=D(1000), revenue=D(5000), profit=D(1000))  # 20 %, POAS 1.0
B = CampaignFigures("b", "Product B", spend=D(1000), revenue=D(3500), profit=D(2100))  # 60 %, POAS 2.1
TARGET_2 = DecisionPolicy(target_poas=D(2), pause_below=D("0.5"))


def test_the_seed_story_moves_budget_from_below_target_to_above_target() -> None:
    advice = advise([A, B], TARGET_2)
    a, b = advice.campaigns
    # A (POAS 1.0) is a third of the way from target 2 down to the pause line 0.5 → cut 2/3 × 20 %.
    assert a.proposed_spend == D(1000) * (1 - D("0.2") * (D(1) / D("1.5")))
    assert b.proposed_spend == D(1000) + (D(1000) - a.proposed_spend)  # B takes what A frees (< +20 %)
    assert (a.verdict, b.verdict) == ("cut", "grow")
    assert advice.allocated == advice.budget == D(2000) and advice.unallocated == 0
    assert a.roas == D(5) and a.poas == D(1) and b.roas == D("3.5") and b.poas == D("2.1")
    assert a.break_even_roas == D(5) and b.break_even_roas == D(1) / D("0.6")
    assert a.target_roas == D(10) and b.target_roas == D(2) / D("0.6")
    assert "not a promise" in advice.disclaimer
    assert a.reason.startswith("Earns money, but below your target: 1.00 in profit")
    assert b.reason.startswith("Above your target: it earned 2.10 in profit for every 1 spent")
    for c in advice.campaigns:
        assert "capped" not in c.reason and "budget used up" not in c.reason


def test_a_profitable_campaign_below_target_is_cut_not_grown() -> None:
    # POAS 1.3: above break-even, below the target 1.5 → spend moves away from it.
    mid = CampaignFigures("m", "Mid", spend=D(1000), revenue=D(4000), profit=D(1300))
    winner = CampaignFigures("w", "Winner", spend=D(1000), revenue=D(4000), profit=D(2500))
    advice = advise([mid, winner], DecisionPolicy(target_poas=D("1.5")))
    by = {c.key: c for c in advice.campaigns}
    assert by["m"].change < 0 < by["w"].change
    assert by["m"].verdict == "cut" and by["m"].why == "cut_profitable"
    assert tone(by["m"].poas, DecisionPolicy()) == "warn"  # amber, never green while it is cut
    assert tone(by["w"].poas, DecisionPolicy()) == "good"


def test_below_the_pause_line_the_advice_says_pause_and_spends_nothing() -> None:
    loser = CampaignFigures("l", "Loser", spend=D(1000), revenue=D(1500), profit=D(360))  # POAS 0.36
    policy = DecisionPolicy(target_poas=D("1.5"), pause_below=D("0.5"))
    advice = advise([loser, B], policy)
    by = {c.key: c for c in advice.campaigns}
    assert by["l"].verdict == "pause" and by["l"].proposed_spend == 0 and by["l"].change_pct == -1
    assert by["l"].reason.startswith("Pause it: every 1 spent on ads brought back only 0.36")
    assert by["b"].proposed_spend == D(1200)  # at most +20 % a step
    assert advice.unallocated == D(800) and "kept back" in advice.kept_back
    # A lower pause line: the same campaign is cut instead, by 95 % of the step ((1.5 − 0.36) / (1.5 − 0.3)).
    cut = advise([loser, B], DecisionPolicy(pause_below=D("0.3")))
    lc = {c.key: c for c in cut.campaigns}["l"]
    assert lc.verdict == "cut" and lc.why == "cut_losing" and lc.proposed_spend == D(810)
    assert tone(D("0.36"), policy) == "bad"


def test_verdict_and_tone_at_the_thresholds() -> None:
    p = DecisionPolicy(target_poas=D("1.5"), pause_below=D("0.8"))
    assert [verdict(x, p) for x in (None, D("0.79"), D("0.8"), D("1.49"), D("1.5"), D("1.51"))] == [
        "unknown",
        "pause",
        "cut",
        "cut",
        "keep",
        "grow",
    ]
    assert [tone(x, p) for x in (None, D("0.79"), D("0.99"), D(1), D("1.5"))] == [
        "",
        "bad",
        "bad",
        "warn",
        "good",
    ]
    assert cut_share(D("1.5"), p) == 0 and cut_share(D("0.8"), p) == D("0.2")
    with pytest.raises(ValueError, match=r"pause line 2 must be at least 0 and below the target POAS 1\.5"):
        DecisionPolicy(pause_below=D(2))
    with pytest.raises(ValueError, match="cap"):
        DecisionPolicy(cap=D(0))


def test_on_target_keeps_and_a_bigger_budget_stops_at_the_step() -> None:
    c = CampaignFigures("c", "C", spend=D(500), revenue=D(2000), profit=D(1000))  # POAS 2
    d = CampaignFigures("d", "D", spend=D(1500), revenue=D(6000), profit=D(3000))  # POAS 2
    same = advise([c, d], TARGET_2)
    assert [x.proposed_spend for x in same.campaigns] == [D(500), D(1500)]
    assert {x.verdict for x in same.campaigns} == {"keep"}
    more = advise([c, d], DecisionPolicy(target_poas=D("1.5")), budget=D(3000))
    assert [x.proposed_spend for x in more.campaigns] == [D(600), D(1800)]
    assert more.unallocated == D(600)


def test_a_smaller_budget_scales_what_the_campaigns_keep() -> None:
    advice = advise([A, B], TARGET_2, budget=D(1000))
    total_kept = D(1000) * (1 - D("0.2") * (D(1) / D("1.5"))) + D(1000)
    assert abs(advice.allocated - D(1000)) < D("1e-20")
    by = {c.key: c for c in advice.campaigns}
    assert abs(by["b"].proposed_spend - D(1000) * D(1000) / total_kept) < D("1e-20")


def test_zero_margin_has_no_target_roas_and_zero_spend_is_left_out() -> None:
    flat = CampaignFigures("f", "F", spend=D(100), revenue=D(100), profit=D(0))
    idle = CampaignFigures("i", "I", spend=D(0), revenue=D(50), profit=D(10))
    advice = advise([flat, idle])
    assert [x.key for x in advice.campaigns] == ["f"]
    assert advice.campaigns[0].target_roas is None and advice.campaigns[0].break_even_roas is None
    assert advice.campaigns[0].verdict == "pause"  # POAS 0


def test_the_basis_picks_the_profit_and_returns_move_budget_away() -> None:
    # Same revenue and gross profit; fashion loses 900 of its 1 500 to expected returns.
    fashion = report_row(
        "f", "Fashion", Figures(spend=D(1000), revenue=D(4000), gross_profit=D(1500), expected_profit=D(600))
    )
    food = report_row(
        "g", "Food", Figures(spend=D(1000), revenue=D(4000), gross_profit=D(1500), expected_profit=D(1900))
    )
    unattributed = report_row(
        "", "(unattributed)", Figures(revenue=D(99), gross_profit=D(9), expected_profit=D(9))
    )
    rows = [fashion, food, unattributed]
    assert [c.profit for c in campaign_figures(rows)] == [D(600), D(1900)]
    assert [c.profit for c in campaign_figures(rows, "gross")] == [D(1500), D(1500)]
    on_gross = advise(campaign_figures(rows, "gross"), DecisionPolicy(basis="gross"))
    assert [c.verdict for c in on_gross.campaigns] == ["keep", "keep"]  # both exactly on target 1.5
    expected = advise(campaign_figures(rows))
    by_key = {c.key: c for c in expected.campaigns}
    assert expected.basis == "expected" and on_gross.basis == "gross"
    assert by_key["f"].verdict == "cut" and by_key["f"].proposed_spend < D(1000)  # POAS 0.6 after returns
    assert by_key["g"].verdict == "grow" and by_key["g"].proposed_spend > D(1000)
    assert by_key["f"].reason.startswith("Loses money")
    assert by_key["f"].target_roas == D("1.5") / (D(600) / D(4000))
    with pytest.raises(ValueError, match="profit basis 'net': use one of expected, gross"):
        check_basis("net")
