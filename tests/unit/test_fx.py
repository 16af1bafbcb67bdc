"""FxTable: the bundled ECB history, previous-business-day lookups, EUR crosses, user overrides."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from poas.domain.fx import ECB_SOURCE, FxError, FxRate, FxTable, ecb_history, ecb_last_date
from poas.domain.money import CurrencyError, Money

D = Decimal


def test_bundled_ecb_history_is_read() -> None:
    hist = ecb_history()
    assert {"USD", "NOK", "SEK", "JPY"} <= set(hist)
    # ECB reference rates of Friday 15 March 2024 (eurofxref-hist): USD 1.0892, NOK 11.5205
    usd = hist["USD"].at(date(2024, 3, 15))
    nok = hist["NOK"].at(date(2024, 3, 15))
    assert usd is not None and usd.rate == D("1.0892") and usd.rate_date == date(2024, 3, 15)
    assert nok is not None and nok.rate == D("11.5205")
    assert ecb_last_date() >= date(2024, 12, 31)


def test_weekend_uses_the_previous_business_day() -> None:
    fx = FxTable()
    use = fx.rate("EUR", "NOK", date(2024, 3, 17))  # a Sunday
    assert use.rate == D("11.5205") and use.rate_date == date(2024, 3, 15) and use.source == ECB_SOURCE


def test_cross_rate_via_eur() -> None:
    fx = FxTable()
    money, use = fx.convert(Money.of("100.00", "USD"), "NOK", date(2024, 3, 15))
    assert use.rate == D("11.5205") / D("1.0892")
    assert money.rounded() == Money(D("1057.70"), "NOK")  # 100 × 11.5205 / 1.0892 = 1057.7029…
    assert "via EUR" in use.source
    back = fx.rate("NOK", "USD", date(2024, 3, 15))
    assert back.rate == D("1.0892") / D("11.5205")


def test_same_currency_is_identity() -> None:
    money, use = FxTable(use_ecb=False).convert(Money.of("5", "NOK"), "NOK", date(2030, 1, 1))
    assert money == Money.of("5", "NOK") and use.rate == 1 and use.source == "identity"


def test_user_rates_override_on_the_same_day_and_invert() -> None:
    fx = FxTable([FxRate.of("USD", "NOK", "10.9", date(2024, 3, 15), source="Norges Bank")])
    use = fx.rate("USD", "NOK", date(2024, 3, 15))
    assert (use.rate, use.source) == (D("10.9"), "Norges Bank")
    inv = fx.rate("NOK", "USD", date(2024, 3, 16))
    assert inv.rate == 1 / D("10.9") and inv.rate_date == date(2024, 3, 15)
    # a newer ECB day beats an older user rate
    newer = fx.rate("USD", "NOK", date(2024, 3, 18))
    assert newer.rate_date == date(2024, 3, 18) and "ECB" in newer.source


def test_user_eur_leg_is_used_in_crosses() -> None:
    fx = FxTable([FxRate.of("EUR", "NOK", "12", date(2024, 3, 15))])
    use = fx.rate("USD", "NOK", date(2024, 3, 15))
    assert use.rate == D(12) / D("1.0892")
    assert "user" in use.source and "ECB" in use.source


def test_missing_rate_is_a_clear_error() -> None:
    fx = FxTable([FxRate.of("EUR", "NOK", "11.5", date(2024, 1, 2))], use_ecb=False, max_gap_days=7)
    assert fx.rate("EUR", "NOK", date(2024, 1, 9)).rate == D("11.5")
    with pytest.raises(FxError, match=r"no EUR→NOK exchange rate on 2024-01-10 or in the 7 days before"):
        fx.rate("EUR", "NOK", date(2024, 1, 10))
    with pytest.raises(FxError, match="USD→NOK"):
        fx.rate("USD", "NOK", date(2024, 1, 2))
    with pytest.raises(FxError, match="bundled ECB rates end on"):
        FxTable().rate("USD", "NOK", date(1998, 1, 1))
    with pytest.raises(CurrencyError):
        FxTable().rate("USD", "XXQ", date(2024, 1, 2))


@pytest.mark.parametrize("bad", ["0", "-1", "abc", 1.5])
def test_bad_user_rates_are_refused(bad: object) -> None:
    with pytest.raises(FxError, match="USD/NOK"):
        FxRate.of("USD", "NOK", bad, date(2024, 1, 2))


def test_an_imported_rate_beats_a_synced_one_of_the_same_day_in_either_direction() -> None:
    day = date(2026, 11, 20)
    synced = FxRate.of("EUR", "NOK", "11.70", day, source="ECB")
    imported_inverse = FxRate.of("NOK", "EUR", "0.08", day)  # the user's: 1 EUR = 12.5 NOK
    for rates in ([synced, imported_inverse], [imported_inverse, synced]):
        use = FxTable(rates).rate("EUR", "NOK", day)
        assert (use.rate, use.source) == (Decimal("12.5"), "user")
    # Without the user's rate the synced one is used; a newer synced day still wins over an older import.
    assert FxTable([synced]).rate("EUR", "NOK", day).rate == Decimal("11.70")
    later = FxRate.of("EUR", "NOK", "11.80", date(2026, 11, 23), source="ECB")
    use = FxTable([synced, imported_inverse, later]).rate("EUR", "NOK", date(2026, 11, 23))
    assert (use.rate, use.source) == (Decimal("11.80"), "ECB")
