"""Google Ads UI report exports: title and date-range lines, totals rows, English and Norwegian."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from poas.sources.ads_manager_csv import SpendFileError
from poas.sources.google_ads_csv import parse_google_ads_csv, read_google_ads_csv

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "google_ads"
D = Decimal


@pytest.mark.parametrize("name", ["ad_group_report_en.csv", "ad_group_report_no.csv"])
def test_ad_group_report_in_both_languages(name: str) -> None:
    rows = read_google_ads_csv(FIXTURES / name, account="1234567890")
    got = [(r.day, r.campaign_name, r.adset_name, r.spend, r.currency) for r in rows]
    assert got == [
        (date(2026, 11, 3), "Søk – merkevare", "Merkevare eksakt", D("1234.50"), "NOK"),
        (date(2026, 11, 3), "Søk – generisk", "Sko", D("250.00"), "NOK"),
        (date(2026, 11, 4), "Søk – merkevare", "Merkevare eksakt", D("1000.25"), "NOK"),
        (date(2026, 11, 4), "Søk – generisk", "Sko", D("0"), "NOK"),  # "--": no cost that day
    ]
    assert all(r.channel == "google" and r.account_id == "1234567890" for r in rows)
    assert len({r.row_key for r in rows}) == 2  # keyed by names within (account, day): re-imports upsert


def test_both_languages_give_the_same_row_keys() -> None:
    en = read_google_ads_csv(FIXTURES / "ad_group_report_en.csv", account="1234567890")
    no = read_google_ads_csv(FIXTURES / "ad_group_report_no.csv", account="1234567890")
    assert [r.row_key for r in en] == [r.row_key for r in no]


def test_a_bad_cost_is_named_by_file_line_and_column() -> None:
    with pytest.raises(SpendFileError) as err:
        read_google_ads_csv(FIXTURES / "campaign_report_no_bad.csv", account="1234567890")
    assert str(err.value) == "campaign_report_no_bad.csv line 5, column 'Kostnad': '12,3x' is not a number"


def test_semicolons_decimal_commas_and_dotted_dates() -> None:
    text = 'Kampanjerapport\n"1.–30. november 2026"\nDag;Kampanje;Valutakode;Kostnad\n'
    text += "03.11.2026;Sommer;NOK;1.234,50\n"
    [row] = parse_google_ads_csv(text, account="1234567890")
    assert (row.day, row.campaign_name, row.adset_name, row.spend) == (
        date(2026, 11, 3),
        "Sommer",
        None,
        D("1234.50"),
    )


def test_utf16_tab_separated_excel_export(tmp_path: Path) -> None:
    text = "Campaign report\nNovember 1, 2026 - November 30, 2026\nDay\tCampaign\tCost\tCurrency code\n"
    text += "Nov 3, 2026\tSummer\t1,234.50\tEUR\nTotal: Account\t--\t1,234.50\tEUR\n"
    path = tmp_path / "report.csv"
    path.write_bytes(text.encode("utf-16"))
    [row] = read_google_ads_csv(path, account="1234567890")
    assert (row.day, row.spend, row.currency) == (date(2026, 11, 3), D("1234.50"), "EUR")


def test_no_currency_column_takes_the_shops() -> None:
    text = "Day,Campaign,Cost\n2026-11-03,Summer,10.00\n"
    [row] = parse_google_ads_csv(text, account="1234567890", default_currency="NOK")
    assert row.currency == "NOK"


def test_a_file_without_the_header_says_what_it_expected() -> None:
    with pytest.raises(SpendFileError, match="no header with a day, a campaign and a cost column"):
        parse_google_ads_csv("Campaign report\nCampaign,Clicks\nSummer,3\n", account="1234567890")


def test_a_negative_cost_and_a_bad_date_are_refused_by_line() -> None:
    head = "Campaign report\nx\nDay,Campaign,Cost,Currency code\n"
    with pytest.raises(SpendFileError, match=r"x.csv line 4, column 'Cost': cost cannot be negative"):
        parse_google_ads_csv(head + "2026-11-03,A,-1.00,NOK\n", name="x.csv", account="1234567890")
    with pytest.raises(SpendFileError, match=r"x.csv line 5, column 'Day': '2026-13-40' is not a date"):
        parse_google_ads_csv(
            head + "2026-11-03,A,1.00,NOK\n2026-13-40,A,1.00,NOK\n", name="x.csv", account="1234567890"
        )
