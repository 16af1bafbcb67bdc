"""Ads Manager CSV exports: English and Norwegian headers, separators, currencies, row errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from poas.sources.ads_manager_csv import (
    SpendFileError,
    parse_ads_manager_csv,
    parse_amount,
    read_ads_manager_csv,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ads_manager"


def test_english_and_norwegian_exports_parse_to_the_same_rows() -> None:
    en = read_ads_manager_csv(FIXTURES / "daily_en.csv")
    no = read_ads_manager_csv(FIXTURES / "daily_no.csv")
    assert en == no
    assert len(en) == 4  # the total row (no campaign/ad set/ad) is skipped
    first = en[0]
    assert first.day == date(2026, 3, 1)
    assert first.account_id == "1234567890"
    assert first.campaign_name == "Vinter – Ullgensere"
    assert first.ad_id == "120210000000001001"
    assert first.currency == "NOK"
    assert first.spend == Decimal("1234.56")
    assert first.impressions == 11400
    assert first.clicks == 402
    assert first.meta_purchases == 22
    assert first.meta_purchase_value == Decimal("9876.50")
    assert sum(r.spend for r in en) == Decimal("3902.45")


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("1,234.56", False, "1234.56"),
        ("1 234,56", True, "1234.56"),
        ("1\u00a0234,56", True, "1234.56"),
        ("1.234,56", False, "1234.56"),  # both separators: the last one is the decimal point
        ("1,234.56", True, "1234.56"),
        ("1234,5", True, "1234.5"),
        ("12", False, "12"),
        ("", False, "0"),
    ],
)
def test_amounts(text: str, decimal_comma: bool, expected: str) -> None:
    assert parse_amount(text, decimal_comma=decimal_comma, where="x") == Decimal(expected)


def test_currency_comes_from_the_spend_header_and_must_agree_with_a_currency_column() -> None:
    text = "Day,Campaign name,Currency,Amount spent (EUR)\n2026-03-01,Spring,EUR,12.50\n"
    rows = parse_ads_manager_csv(text, default_account="act1")
    assert rows[0].currency == "EUR" and rows[0].spend == Decimal("12.50")
    bad = "Day,Campaign name,Currency,Amount spent (EUR)\n2026-03-01,Spring,NOK,12.50\n"
    with pytest.raises(SpendFileError, match=r"x\.csv row 2: currency NOK differs"):
        parse_ads_manager_csv(bad, name="x.csv", default_account="act1")


def test_plain_spend_header_uses_the_currency_column_or_the_default() -> None:
    text = "Dag;Kampanjenavn;Beløp brukt\n01.03.2026;Vår;1 000,50\n"
    rows = parse_ads_manager_csv(text, default_account="act1", default_currency="NOK")
    assert rows[0].currency == "NOK" and rows[0].spend == Decimal("1000.50")
    assert rows[0].day == date(2026, 3, 1)
    assert rows[0].row_key.startswith("names:")  # no ad id: the key is built from the names
    with pytest.raises(SpendFileError, match="no currency"):
        parse_ads_manager_csv(text, default_account="act1")


def test_bad_number_names_file_row_and_column() -> None:
    text = "Day,Campaign name,Amount spent (NOK)\n2026-03-01,A,10\n2026-03-02,A,12x\n"
    with pytest.raises(SpendFileError, match=r"f\.csv row 3, column 'Amount spent \(NOK\)': '12x'"):
        parse_ads_manager_csv(text, name="f.csv", default_account="act1")


def test_bad_date_and_multi_day_rows_are_refused() -> None:
    bad_date = "Day,Campaign name,Amount spent (NOK)\n03/01/2026,A,10\n"
    with pytest.raises(SpendFileError, match=r"row 2, column 'Day': '03/01/2026' is not a date"):
        parse_ads_manager_csv(bad_date, default_account="act1")
    ranged = "Reporting starts,Reporting ends,Campaign name,Amount spent (NOK)\n2026-03-01,2026-03-07,A,10\n"
    with pytest.raises(SpendFileError, match="not one day"):
        parse_ads_manager_csv(ranged, default_account="act1")


def test_missing_spend_column_and_missing_account() -> None:
    with pytest.raises(SpendFileError, match="no spend column"):
        parse_ads_manager_csv("Day,Campaign name,Reach\n2026-03-01,A,1\n")
    with pytest.raises(SpendFileError, match="Account ID"):
        parse_ads_manager_csv("Day,Campaign name,Amount spent (NOK)\n2026-03-01,A,1\n")


def test_negative_spend_and_fractional_counts_are_refused() -> None:
    with pytest.raises(SpendFileError, match="negative"):
        parse_ads_manager_csv("Day,Campaign name,Amount spent (NOK)\n2026-03-01,A,-1\n", default_account="a")
    with pytest.raises(SpendFileError, match="whole number"):
        parse_ads_manager_csv(
            "Day,Campaign name,Amount spent (NOK),Impressions\n2026-03-01,A,1,2.5\n", default_account="a"
        )
