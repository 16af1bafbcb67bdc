"""Report lines and budget advice with orders whose profit is unknown (a cost missing, no fallback)."""

from __future__ import annotations

from decimal import Decimal as D

from poas.domain.advice import CampaignFigures, DecisionPolicy, advise
from poas.domain.report_rows import Figures, flag_revenue_trap, report_row


def test_partly_unknown_line_has_margin_on_priced_revenue_and_roas_on_all() -> None:
    # 3 orders, 1 without cost (400 of the 1 000 revenue); 150 profit known on the other 600.
    f = Figures(spend=D(200), orders=3, revenue=D(1000), gross_profit=D(150), expected_profit=D(120),
                orders_without_cost=1, revenue_without_cost=D(400))  # fmt: skip
    row = report_row("c1", "C1", f)
    assert row.roas == D(5) and row.poas == D("0.75") and row.poas_expected == D("0.6")
    assert row.margin == D("0.25") and row.break_even_roas == D(4)


def test_fully_unknown_line_has_no_profit_metrics() -> None:
    f = Figures(spend=D(200), orders=2, revenue=D(800), orders_without_cost=2, revenue_without_cost=D(800))
    row = report_row("c2", "C2", f)
    assert row.roas == D(4)
    assert (row.poas, row.poas_expected, row.margin, row.break_even_roas) == (None, None, None, None)
    assert f.no_profit_known and not Figures(spend=D(10)).no_profit_known  # spend, no orders: profit 0


def test_figures_add_up_the_unknown_counts() -> None:
    a = Figures(orders=1, revenue=D(10), orders_without_cost=1, revenue_without_cost=D(10))
    b = Figures(orders=2, revenue=D(30), gross_profit=D(12))
    total = a + b
    assert (total.orders, total.orders_without_cost, total.revenue_without_cost) == (3, 1, D(10))
    assert total.priced_revenue == D(30)


def test_revenue_trap_is_not_flagged_on_partial_lines() -> None:
    known_loser = report_row("a", "A", Figures(spend=D(100), orders=5, revenue=D(1000), gross_profit=D(50)))
    partial = report_row("b", "B", Figures(spend=D(100), orders=5, revenue=D(1000), gross_profit=D(50),
                                           orders_without_cost=1, revenue_without_cost=D(100)))  # fmt: skip
    low = report_row("c", "C", Figures(spend=D(100), orders=1, revenue=D(100), gross_profit=D(40)))
    low2 = report_row("d", "D", Figures(spend=D(100), orders=1, revenue=D(100), gross_profit=D(40)))
    flagged = {r.key: r.revenue_trap for r in flag_revenue_trap([known_loser, partial, low, low2])}
    assert flagged == {"a": True, "b": False, "c": False, "d": False}  # median ROAS 5.5


def test_advice_holds_a_campaign_with_unknown_profit_and_moves_the_rest() -> None:
    good = CampaignFigures("g", "Good", spend=D(1000), revenue=D(3500), profit=D(2100))
    weak = CampaignFigures("w", "Weak", spend=D(1000), revenue=D(5000), profit=D(1000))
    unknown = CampaignFigures("u", "Unknown", spend=D(1000), revenue=D(4000), profit=D(0),
                              orders_without_cost=4, revenue_without_cost=D(4000))  # fmt: skip
    advice = advise([good, weak, unknown], DecisionPolicy(cap=D("0.2")))
    by = {c.key: c for c in advice.campaigns}
    assert by["u"].proposed_spend == D(1000) and by["u"].change == 0
    assert by["u"].poas is None and by["u"].target_roas is None and "profit unknown for 4" in by["u"].reason
    # Weak (POAS 1.0) is half-way from the target 1.5 to the pause line 0.5: half the 20 % step.
    assert by["g"].proposed_spend == D(1100) and by["w"].proposed_spend == D(900)
