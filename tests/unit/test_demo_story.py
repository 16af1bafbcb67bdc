"""The demo's story: the example correction it names and how it words the amounts."""

from __future__ import annotations

from decimal import Decimal

from poas.cli.demo_story import amount, example_line
from poas.services.correction_log import CorrectionSummary, SentCorrection

D = Decimal


def _c(order: str, told: str, final: str, delivery: str = "sent", trigger: str = "refund") -> SentCorrection:
    appended = max(D(final), D(0))
    return SentCorrection(order, trigger, "NOK", D("1000"), D(told), D(final), appended, delivery)


def test_the_example_is_the_sent_correction_that_moved_the_profit_most() -> None:
    corrections = (
        _c("1", "300", "250"),
        _c("2", "300", "-40", delivery="pending"),  # moved most, but not sent (yet)
        _c("3", "400", "0", trigger="cancelled"),
        _c("4", "100", "-300"),  # the same move as 3: the lower order id wins
    )
    summary = CorrectionSummary(4, 3, 0, 0, corrections)
    example = summary.example()
    assert example is not None and example.order_id == "3"
    assert CorrectionSummary(1, 0, 0, 0, (_c("9", "1", "0", delivery="retry"),)).example() is None


def test_amounts_read_as_kroner_with_a_minus_sign() -> None:
    assert amount(D("1234.5"), "NOK") == "1 234.50 NOK"
    assert amount(D("-43.93"), "NOK") == "−43.93 NOK"
    assert amount(None, "NOK") == "-"


def test_the_example_line_says_what_meta_was_told_and_what_was_appended() -> None:
    line = example_line(_c("6100000003357", "849.14", "-43.93", trigger="cancelled"))
    assert line == (
        "example: order 6100000003357 (cancelled): at purchase Meta was told value 1 000.00 NOK, "
        "profit 849.14 NOK; final profit −43.93 NOK; AppendValue sent with net_revenue 0.00 NOK "
        "(a negative profit is sent as 0)"
    )
    assert example_line(_c("7", "300", "250")).endswith("net_revenue 250.00 NOK")
