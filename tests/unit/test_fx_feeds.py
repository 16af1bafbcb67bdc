"""The ECB and Norges Bank feed parsers on recorded-format payloads: rates, UNIT_MULT, bad rows, bad files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from poas.domain.fx import ECB_FEED as ECB
from poas.domain.fx import NORGES_BANK_FEED as NORGES_BANK
from poas.domain.fx import ecb_history
from poas.sources.fx_feeds import FxFeedError, parse_ecb_xml, parse_norges_bank_csv

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
D = Decimal
NB_HEADER = (
    "FREQ;Frequency;BASE_CUR;Base Currency;QUOTE_CUR;Quote Currency;TENOR;Tenor;DECIMALS;CALCULATED;"
    "UNIT_MULT;Unit Multiplier;COLLECTION;Collection Indicator;TIME_PERIOD;OBS_VALUE"
)


def nb_row(cur: str, day: str, value: str, mult: str = "0", calculated: str = "false") -> str:
    unit = "Hundreds" if mult == "2" else "Units"
    labels = f"B;Business;{cur};{cur} name;NOK;Norwegian krone;SP;Spot;4;{calculated}"
    return f"{labels};{mult};{unit};C;ECB;{day};{value}"


def ecb_doc(*cubes: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        "<gesmes:subject>Reference rates</gesmes:subject><Cube>"
        + "".join(cubes)
        + "</Cube></gesmes:Envelope>"
    ).encode()


def test_ecb_daily_file_gives_one_day_of_euro_rates() -> None:
    got = parse_ecb_xml((FIXTURES / "eurofxref-daily.xml").read_bytes())
    assert got.errors == []
    assert len(got.rates) == 29
    assert {(r.base, r.rate_date, r.source) for r in got.rates} == {("EUR", date(2026, 11, 27), ECB)}
    nok = next(r for r in got.rates if r.quote == "NOK")
    assert nok.rate == D("10.266")


def test_ecb_90_day_file_matches_the_ecbs_published_history() -> None:
    got = parse_ecb_xml((FIXTURES / "eurofxref-hist-90d.xml").read_bytes(), name="eurofxref-hist-90d.xml")
    days = {r.rate_date for r in got.rates}
    assert min(days) == date(2026, 8, 31) and max(days) == date(2026, 11, 27)
    assert len(got.rates) == 29 * len(days) and got.errors == []
    # the days the bundled ECB history covers carry exactly its rates
    for r in got.rates:
        if r.rate_date <= date(2026, 10, 30):
            quote = ecb_history()[r.quote].at(r.rate_date)
            assert quote is not None and quote.rate == r.rate and quote.rate_date == r.rate_date


def test_ecb_bad_rows_are_named_and_the_good_ones_kept() -> None:
    payload = ecb_doc(
        "<Cube time='2026-11-27'>"
        "<Cube currency='USD' rate='1.1216'/>"
        "<Cube currency='NOK' rate='abc'/>"
        "<Cube currency='XYZ' rate='2.5'/>"
        "<Cube currency='SEK' rate='-11.0'/>"
        "<Cube currency='DKK' rate='7.4491'/>"
        "</Cube>",
        "<Cube time='2026-13-01'><Cube currency='USD' rate='1.1'/><Cube currency='NOK' rate='10.1'/></Cube>",
    )
    got = parse_ecb_xml(payload)
    assert [(r.quote, r.rate) for r in got.rates] == [("USD", D("1.1216")), ("DKK", D("7.4491"))]
    text = [f"{e.where}: {e.message}" for e in got.errors]
    assert len(text) == 4
    assert "ECB eurofxref-daily.xml 2026-11-27 currency='NOK'" in text[0] and "not a number" in text[0]
    assert "currency='XYZ'" in text[1] and "unknown currency" in text[1]
    assert "currency='SEK'" in text[2] and "positive" in text[2]
    assert "Cube time='2026-13-01'" in text[3] and "its 2 rates skipped" in text[3]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", r"root element is <html>, expected <gesmes:Envelope>"),
        (b"Service unavailable", "not well-formed XML"),
        (b"", "not well-formed XML"),
        (ecb_doc(), r"no <Cube time='…'> element holds any rates"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "DOCTYPE or ENTITY declaration is not part of the ECB's format",
        ),
    ],
)
def test_a_file_that_is_not_the_ecbs_is_refused_with_the_reason(payload: bytes, message: str) -> None:
    with pytest.raises(FxFeedError, match=f"^ECB eurofxref-hist.xml: .*{message}"):
        parse_ecb_xml(payload, name="eurofxref-hist.xml")


def test_norges_bank_rates_are_per_unit_after_unit_mult() -> None:
    got = parse_norges_bank_csv((FIXTURES / "norges-bank-exr.csv").read_bytes())
    assert got.errors == [] and got.ignored == 0
    on = {(r.base, r.quote): r for r in got.rates if r.rate_date == date(2026, 11, 20)}
    assert {k[0] for k in on} == {"DKK", "EUR", "JPY", "SEK", "USD"}
    assert all(r.source == NORGES_BANK and r.quote == "NOK" for r in on.values())
    assert on["EUR", "NOK"].rate == D("10.2800")  # UNIT_MULT 0: NOK per 1 EUR as written
    assert on["SEK", "NOK"].rate == D("0.9328")  # 93.28 NOK per 100 SEK (UNIT_MULT 2)
    assert on["JPY", "NOK"].rate == D("0.058525")  # 5.8525 NOK per 100 JPY


def test_norges_bank_norwegian_locale_and_thousands_separators() -> None:
    payload = "\n".join(
        [
            NB_HEADER,
            "B;Virkedag;EUR;Euro;NOK;Norske kroner;SP;Spot;4;false;0;Enheter;C;ECB;2026-11-20;11,4567",
            nb_row("ISK", "2026-11-20", "1,145.56", mult="2"),
        ]
    ).encode("utf-8-sig")  # with a byte-order mark, as `bom=include` sends
    got = parse_norges_bank_csv(payload)
    assert got.errors == []
    assert [(r.base, r.rate) for r in got.rates] == [("EUR", D("11.4567")), ("ISK", D("11.4556"))]


def test_norges_bank_bad_rows_are_named_and_the_good_ones_kept() -> None:
    payload = "\n".join(
        [
            NB_HEADER,
            nb_row("EUR", "2026-11-20", "10.2800"),
            nb_row("USD", "2026-11-20", "NaN"),
            nb_row("SEK", "2026-11-20", "93.28", mult="x"),
            nb_row("ZZZ", "2026-11-20", "1.5"),
            nb_row("DKK", "2026-11-31", "137.85", mult="2"),
            nb_row("GBP", "2026-11-20", ""),
            "B;Business;CHF;Swiss franc;NOK",
            nb_row("I44", "2026-11-20", "118.5", calculated="true"),
            "",
            nb_row("JPY", "2026-11-20", "5.8525", mult="2"),
        ]
    ).encode()
    got = parse_norges_bank_csv(payload, name="EXR B..NOK.SP")
    assert [(r.base, r.rate) for r in got.rates] == [("EUR", D("10.2800")), ("JPY", D("0.058525"))]
    assert got.ignored == 1  # the synthetic import-weighted index I44
    text = [f"{e.where}: {e.message}" for e in got.errors]
    assert text == [
        "Norges Bank EXR B..NOK.SP line 3 USD: OBS_VALUE 'NaN' is not a number",
        "Norges Bank EXR B..NOK.SP line 4 SEK: UNIT_MULT 'x' is not a whole number",
        "Norges Bank EXR B..NOK.SP line 5 ZZZ: unknown currency 'ZZZ' (expected an ISO 4217 code such as NOK)",  # noqa: E501
        "Norges Bank EXR B..NOK.SP line 6 DKK: TIME_PERIOD '2026-11-31' is not a YYYY-MM-DD date",
        "Norges Bank EXR B..NOK.SP line 7 GBP: OBS_VALUE '' is not a number",
        "Norges Bank EXR B..NOK.SP line 8: 5 fields, the header has 16",
    ]


def test_norges_bank_header_only_means_no_rates() -> None:
    got = parse_norges_bank_csv((NB_HEADER + "\n").encode())
    assert got.rates == [] and got.errors == [] and got.ignored == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty answer, expected a CSV header"),
        (b"<html><body>Service Unavailable</body></html>", "missing column"),
        (b"BASE_CUR;QUOTE_CUR;UNIT_MULT;TIME_PERIOD\nEUR;NOK;0;2026-11-20\n", "missing column.s. OBS_VALUE"),
        (b"\xff\xfeB\x00A\x00", "not UTF-8 text"),
    ],
)
def test_a_payload_that_is_not_norges_banks_csv_is_refused(payload: bytes, message: str) -> None:
    with pytest.raises(FxFeedError, match=f"^Norges Bank EXR: .*{message}"):
        parse_norges_bank_csv(payload)
