"""The parse cache of amount texts never lets a blank through where an amount is required.

`money()` remembers texts it accepted, process-wide. A blank optional amount (a discount column left
empty) is read as 0; remembered, it made every later blank *required* amount 0 as well, so a cost CSV
row without a unit_cost was imported at cost 0 once any earlier read in the process had seen a blank
(test_api's cost upload failed with (imported, rejected) == (2, 1) in a full run, never alone).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from poas.sources.canonical import ParsedCost, RowError, read_costs_csv
from poas.sources.canonical_fields import money, opt_money
from poas.sources.payload import PayloadError


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_optional_amount_does_not_make_a_required_one_optional(blank: str) -> None:
    assert money(blank, "discount", "NOK") == Decimal(0)  # optional: the default
    assert opt_money(blank, "shipping", "NOK") is None
    with pytest.raises(PayloadError, match="unit_cost: is required"):
        money(blank, "unit_cost", "NOK", required=True)
    assert money("12.50", "unit_cost", "NOK", required=True) == Decimal("12.50")  # real texts still cached
    assert money("12.50", "unit_cost", "NOK", required=True) == Decimal("12.50")


def test_a_cost_row_without_unit_cost_is_refused_after_any_blank_amount(tmp_path: Path) -> None:
    money("", "discount", "NOK")  # what an earlier import in the same process did
    path = tmp_path / "costs.csv"
    path.write_text("variant_id,unit_cost,currency,valid_from\nv1,200,NOK,\nv2,,NOK,\n")
    items = list(read_costs_csv(path, default_currency="NOK"))
    assert isinstance(items[0], ParsedCost) and items[0].rows[0].unit_cost == Decimal("200")
    assert isinstance(items[1], RowError)
    assert (items[1].line, items[1].field) == (3, "unit_cost")
