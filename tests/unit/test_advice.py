"""Budget advice: toward higher POAS, capped per step, target ROAS = target POAS / margin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from poas.domain.advice import CampaignFigures, advise, campaign_figures, check_basis
from poas.domain.report_rows import Figures, report_row

D = Decimal
A = CampaignFigures("a", "Product A", spend=D(1000), revenue=D(5000), profit=D(1000))  # 20 %, POAS 1.0
B = CampaignFigures("b", "Product B", spend=D(1000), revenue=D(3500), profit=D(2100))  # 60 %, POAS 2.1


def test_the_seed_story_moves_budget_to_the_high_margin_campaign_within_the_cap() -> None:
    advice = advise([A, B], target_poas=D(2))
    a, b = advice.campaigns
    assert (a.proposed_spend, b.proposed_spend) == (D(800), D(1200))
    assert a.change_pct == D("-0.2") and b.change_pct == D("0.2")
    assert advice.allocated == advice.budget == D(2000) and advice.unallocated == 0
    assert a.roas == D(5) and a.poas == D(1) and b.roas == D("3.5") and b.poas == D("2.1")
    assert a.break_even_roas == D(5) and b.break_even_roas == D(1) / D("0.6")
    assert a.target_roas == D(10) and b.target_roas == D(2) / D("0.6")
    assert "not a promise" in advice.disclaimer


def test_equal_poas_keeps_the_split_and_a_bigger_budget_stops_at_the_caps() -> None:
    c = CampaignFigures("c", "C", spend=D(500), revenue=D(2000), profit=D(1000))  # POAS 2
    d = CampaignFigures("d", "D", spend=D(1500), revenue=D(6000), profit=D(3000))  # POAS 2
    same = advise([c, d])
    assert [x.proposed_spend for x in same.campaigns] == [D(500), D(1500)]
    more = advise([c, d], budget=D(3000))
    assert [x.proposed_spend for x in more.campaigns] == [D(600), D(1800)]
    assert more.unallocated == D(600)


def test_losing_campaigns_are_cut_and_a_smaller_budget_scales_the_floors() -> None:
    loser = CampaignFigures("l", "L", spend=D(1000), revenue=D(1500), profit=D(300))  # POAS 0.3
    advice = advise([loser, B], budget=D(1000))
    by_key = {x.key: x for x in advice.campaigns}
    assert (by_key["l"].proposed_spend, by_key["b"].proposed_spend) == (D(500), D(500))
    assert by_key["l"].reason.startswith("below break-even")
    assert by_key["b"].reason.startswith("above break-even")


def test_zero_margin_has_no_target_roas_and_zero_spend_is_left_out() -> None:
    flat = CampaignFigures("f", "F", spend=D(100), revenue=D(100), profit=D(0))
    idle = CampaignFigures("i", "I", spend=D(0), revenue=D(50), profit=D(10))
    advice = advise([flat, idle])
    assert [x.key for x in advice.campaigns] == ["f"]
    assert advice.campaigns[0].target_roas is None and advice.campaigns[0].break_even_roas is None
    with pytest.raises(ValueError, match="cap"):
        advise([A], cap=D(0))


def test_the_basis_picks_the_profit_and_returns_move_budget_away() -> None:
    # Same revenue and gross profit; fashion loses 900 of its 1 500 to expected returns.
    fashion = report_row(
        "f", "Fashion", Figures(spend=D(1000), revenue=D(4000), gross_profit=D(1500), expected_profit=D(600))
    )
    food = report_row(
        "g", "Food", Figures(spend=D(1000), revenue=D(4000), gross_profit=D(1500), expected_profit=D(1450))
    )
    unattributed = report_row(
        "", "(unattributed)", Figures(revenue=D(99), gross_profit=D(9), expected_profit=D(9))
    )
    rows = [fashion, food, unattributed]
    assert [c.profit for c in campaign_figures(rows)] == [D(600), D(1450)]
    assert [c.profit for c in campaign_figures(rows, "gross")] == [D(1500), D(1500)]
    on_gross = advise(campaign_figures(rows, "gross"), basis="gross")
    assert [c.proposed_spend for c in on_gross.campaigns] == [D(1000), D(1000)]
    expected = advise(campaign_figures(rows))
    by_key = {c.key: c for c in expected.campaigns}
    assert expected.basis == "expected" and on_gross.basis == "gross"
    assert by_key["f"].proposed_spend == D(800) and by_key["g"].proposed_spend == D(1200)
    assert by_key["f"].reason.startswith("below break-even")  # POAS 0.6 after returns
    assert by_key["f"].target_roas == D("1.5") / (D(600) / D(4000))
    with pytest.raises(ValueError, match="profit basis 'net': use one of expected, gross"):
        check_basis("net")
