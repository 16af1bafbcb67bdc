"""The order page's realized-profit status and snapshot reasons are messages the catalogs translate;
their plain English (the API's field) is what the page said before."""

from __future__ import annotations

import pytest

from poas.services.views.order_story import MESSAGES, profit_status, snapshot_reason
from poas.web.i18n import Local, gettext, using

NOT_FINAL = "not final: realized so far, from the refunds recorded until now; returns still possible"
PRICED_BEFORE = "the stored profit was priced before cancellations were: recompute it"


@pytest.mark.parametrize(
    ("trigger", "cancelled", "before", "english"),
    [
        (None, None, False, NOT_FINAL),
        ("fully_refunded", None, False, "final: fully refunded"),
        ("window_closed", None, False, "final: return window closed"),
        ("manual", None, False, "final: manual"),  # a trigger without its own sentence is named
        (None, "cancelled", False, "final: order cancelled; only the costs really incurred are realized"),
        (None, "voided", False, "final: payment voided; only the costs really incurred are realized"),
        (None, "voided", True, f"payment voided; {PRICED_BEFORE}"),
    ],
)  # fmt: skip
def test_profit_status(trigger: str | None, cancelled: str | None, before: bool, english: str) -> None:
    said = profit_status(trigger, cancelled, before)
    assert str(said) == english and said.text in MESSAGES
    with using(Local(lang="nb")):
        assert gettext(said.text) != said.text  # Bokmål has it


@pytest.mark.parametrize(
    ("reason", "english"),
    [
        ("order inserted", "order inserted"),
        ("order updated", "order updated"),
        ("cost rules v3", "cost rules version 3"),
        ("costs uploaded from costs 2026.csv", "costs uploaded from costs 2026.csv"),
        ("costs imported from c.csv", "costs imported from c.csv"),
        ("cost of SKU-1 entered in the dashboard", "cost of SKU-1 entered in the dashboard"),
    ],
)
def test_known_snapshot_reasons_are_sentences(reason: str, english: str) -> None:
    said = snapshot_reason(reason)
    assert said is not None and str(said) == english and said.text in MESSAGES
    with using(Local(lang="nb")):
        assert gettext(said.text) != said.text


def test_an_unknown_snapshot_reason_is_shown_as_stored() -> None:
    assert snapshot_reason("recomputed by a script") is None
    assert snapshot_reason("order inserted twice") is None  # the whole reason must match
