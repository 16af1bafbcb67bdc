"""Ad spend outside Meta: stored per channel and month, spread over the period's days, and counted in
the overview's blended POAS and profit after ad spend (both engines)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_reports import configured, runner
from test_seed_story import DAY, NOW, SHOP, _load

from poas.cli import app as cli_app
from poas.cli.app import settings, store
from poas.services.channel_spend import (
    ChannelSpendError,
    MonthlySpend,
    list_monthly,
    parse_csv,
    prorate,
    save_monthly,
    spend_between,
)
from poas.services.views.overview import overview_view
from poas.services.views.reports import report_view

__all__ = ["configured"]  # the CLI test's fixture (a configured shop on either engine)
D = Decimal
MARCH = date(2026, 3, 1)


def test_other_channels_spend_is_in_blended_poas_and_profit_after_ads(engine: Engine) -> None:
    _load(engine)  # Meta: 2 000 kr on 2026-03-10; profit 3 200 kr incl. an unattributed order
    before = overview_view(
        engine, SHOP, report_view(engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    )
    k0 = before.by_key()
    assert before.other_spend == {} and k0["spend"].value == D("2000.00")
    assert k0["poas"].value == D("1.6000") and k0["profit_after_ads"].value == D("1200.00")
    assert before.unattributed_orders == 1 and before.unattributed_revenue == D("500.00")

    n = save_monthly(
        engine,
        SHOP,
        [MonthlySpend("Google Ads", MARCH, D("3100")), MonthlySpend("TikTok", date(2026, 2, 1), D("999"))],
        now=NOW,
        source="test",
    )
    assert n == 2
    view = report_view(engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    after = overview_view(engine, SHOP, view)
    k = after.by_key()
    assert after.other_spend == {"Google Ads": D("100.00")}  # 3 100 over March's 31 days, one day of it
    assert after.meta_spend == D("2000.00") and after.total_spend == D("2100.00")
    assert k["spend"].value == D("2100.00")
    assert k["profit_after_ads"].value == D("3200.00") - D("2100.00")
    assert k["poas"].value == (D("3200") / D("2100")).quantize(D("0.0001"))
    assert view.total.poas_basis == D("1.6000")  # the report's own total stays Meta-only
    # The day before has no figures: the change is the whole value, with no percentage.
    assert (
        k["revenue"].previous == 0
        and k["revenue"].change == k["revenue"].value
        and k["revenue"].change_pct is None
    )
    assert {m.channel for m in list_monthly(engine, SHOP)} == {"Google Ads", "TikTok"}

    # A whole month is the whole figure; 0 removes a month.
    assert spend_between(engine, SHOP, MARCH, date(2026, 3, 31)) == {"Google Ads": D("3100.00")}
    save_monthly(engine, SHOP, [MonthlySpend("Google Ads", MARCH, D(0))], now=NOW, source="test")
    assert spend_between(engine, SHOP, MARCH, date(2026, 3, 31)) == {}


def test_a_period_across_months_takes_each_months_share() -> None:
    monthly = [
        MonthlySpend("Google", date(2026, 1, 1), D("3100")),
        MonthlySpend("Google", date(2026, 2, 1), D("2800")),
    ]
    # 2026-01-30 .. 2026-02-02: 2 of January's 31 days and 2 of February's 28
    assert prorate(monthly, date(2026, 1, 30), date(2026, 2, 2), 2) == {"Google": D("400.00")}
    assert prorate(monthly, date(2026, 3, 1), date(2026, 3, 31), 2) == {}


def test_imported_rows_are_checked_and_named_by_line() -> None:
    # a decimal comma in a comma-separated file makes four fields: refused, naming the line
    with pytest.raises(ChannelSpendError, match="line 2: expected channel,month,amount"):
        parse_csv("channel,month,amount\nGoogle Ads,2026-09,12 000,50\n")
    ok = parse_csv("channel;month;amount\nGoogle Ads;2026-09;12 000,50\nTikTok;2026-08-15;300\n")
    assert ok == [
        MonthlySpend("Google Ads", date(2026, 9, 1), D("12000.50")),
        MonthlySpend("TikTok", date(2026, 8, 1), D("300")),
    ]
    with pytest.raises(ChannelSpendError, match="line 1: 'Meta': Meta's spend is read from Meta"):
        parse_csv("Meta,2026-09,10")
    with pytest.raises(ChannelSpendError, match="line 1: month 'sept' is not a month"):
        parse_csv("Google,sept,10")
    with pytest.raises(ChannelSpendError, match="line 1: amount '-5' must be 0 or more"):
        parse_csv("Google,2026-09,-5")


def test_the_cli_stores_and_imports_other_channels_spend(configured: Path, tmp_path: Path) -> None:
    ok = runner.invoke(cli_app, ["spend", "channel", "Google Ads", "2026-09", "12 000,50"])
    assert ok.exit_code == 0, ok.output
    assert "Google Ads 2026-09: 12000.50 NOK" in ok.output
    meta = runner.invoke(cli_app, ["spend", "channel", "Meta", "2026-09", "5"])
    assert meta.exit_code == 1 and "read from Meta" in meta.output
    rows = tmp_path / "channels.csv"
    rows.write_text("channel,month,amount\nTikTok,2026-08,300\nGoogle Ads,2026-09,0\n")
    imported = runner.invoke(cli_app, ["import", "channel-spend", str(rows)])
    assert imported.exit_code == 0, imported.output
    shop = settings().shops[0]
    assert [(m.channel, m.amount) for m in list_monthly(store(), shop)] == [("TikTok", D("300.00"))]
    report = runner.invoke(cli_app, ["report"], env={"COLUMNS": "250"})
    assert report.exit_code == 0, report.output
    assert "Decisions on profit after expected returns: grow at or above target POAS 1.5" in report.output
    assert "pause below 0.5" in report.output
