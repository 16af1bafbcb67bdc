"""The seed story across two channels (#18): Meta and Google each have a campaign; `report --by
channel` gives each channel's spend, revenue, profit, ROAS and POAS, a spend-only row for a channel
entered by month, the unattributed orders apart, and a blended total = all profit / all channels'
spend. Both engines; the CLI and the JSON API give the same figures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from test_reports import configured, runner
from test_seed_story import DAY, NOW, SHOP, _load, _order

from poas.cli import app as cli_app
from poas.cli.app import store
from poas.domain.order import Attribution
from poas.domain.report_rows import SpendRow
from poas.services.channel_spend import MonthlySpend, save_monthly
from poas.services.ingest import ingest_order
from poas.services.report import build_report, report_json
from poas.services.spend import upsert_spend

__all__ = ["configured"]
D = Decimal
GOOGLE_CAMPAIGN = "21500000001"
GCLID = "Cj0KCQiA2KitBhCIARIsAPPMEhJ5_BwE"


def _google_spend() -> SpendRow:
    return SpendRow(
        account_id="1234567890",
        day=DAY,
        currency="NOK",
        spend=D("500.00"),
        campaign_id=GOOGLE_CAMPAIGN,
        campaign_name="Søk – Produkt B",
        adset_id="16000000001",
        adset_name="Ullgenser",
        channel="google",
    )


def _load_two_channels(engine: Engine) -> None:
    """The seed (Meta: A 10 × 500, B 2 × 1 750, 2 000 kr spend; one utm_source=google order with no
    campaign) plus a Google campaign: 500 kr spend, one B order by gclid; an organic Google visit
    (no channel); TikTok 3 100 kr for March (100 kr a day); a Google monthly figure for March that the
    synced rows replace."""
    _load(engine)
    landing = f"https://shop.example/b?gclid={GCLID}&gad_source=1&gad_campaignid={GOOGLE_CAMPAIGN}"
    with engine.begin() as conn:
        paid = replace(_order(40, "B", "1750", ""), attribution=Attribution(landing_url=landing, gclid=GCLID))
        organic = replace(
            _order(41, "A", "500", ""), attribution=Attribution(utm_source="google", utm_medium="organic")
        )
        for o in (paid, organic):
            ingest_order(conn, o, SHOP, now=NOW, trigger_purchase=False)
        upsert_spend(conn, "seed", [_google_spend()], source="test", now=NOW)
    march = date(2026, 3, 1)
    months = [MonthlySpend("TikTok", march, D("3100")), MonthlySpend("Google Ads", march, D("9300"))]
    save_monthly(engine, SHOP, months, now=NOW, source="test")


def test_channels_side_by_side_and_blended_poas(engine: Engine) -> None:
    _load_two_channels(engine)
    report = build_report(engine, SHOP, by="channel", now=NOW, date_from=DAY, date_to=DAY)
    rows = {r.key: r for r in report.rows}
    assert list(rows) == ["meta", "google", "other:TikTok", ""]  # by spend, unattributed last
    meta, google, tiktok, none = rows["meta"], rows["google"], rows["other:TikTok"], rows[""]
    assert (meta.name, google.name, tiktok.name, none.name) == ("Meta", "Google", "TikTok", "(unattributed)")
    assert (meta.figures.spend, meta.figures.orders, meta.figures.revenue) == (D("2000.00"), 12, D("8500.00"))
    assert meta.figures.gross_profit == D("3100.00") and meta.poas == D("1.55")
    # Google: the gclid order (B, 1 050 profit) and the seed's utm_source=google order (A, 100 profit)
    assert (google.figures.spend, google.figures.orders) == (D("500.00"), 2)  # the 9 300 figure left out
    assert (google.figures.revenue, google.figures.gross_profit) == (D("2250.00"), D("1150.00"))
    assert google.roas == D("4.5") and google.poas == D("2.3")
    assert (tiktok.figures.spend, tiktok.figures.orders, tiktok.figures.revenue) == (D("100.00"), 0, D(0))
    assert (none.figures.spend, none.figures.orders, none.figures.gross_profit) == (D(0), 1, D("100.00"))
    total = report.total
    assert total.figures.spend == D("2600.00")  # Meta + Google rows + TikTok's day
    assert total.figures.gross_profit == D("4350.00")  # every order's profit, unattributed included
    assert total.poas == D("4350") / D("2600")

    doc = report_json(report)
    by_id = {r["channel_id"]: r for r in doc["rows"]}
    assert by_id["google"]["poas"] == 2.3 and by_id[None]["channel"] == "(unattributed)"
    assert doc["total"]["spend"] == 2600.0


def test_campaign_lines_name_their_channel(engine: Engine) -> None:
    _load_two_channels(engine)
    report = build_report(engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    rows = {r.key: r for r in report.rows}
    assert rows[GOOGLE_CAMPAIGN].name == "Søk – Produkt B"
    assert rows[GOOGLE_CAMPAIGN].figures.orders == 1 and rows[GOOGLE_CAMPAIGN].poas == D("2.1")
    doc = report_json(report)
    channels = {r["campaign_id"]: r["channel"] for r in doc["rows"]}
    assert channels[GOOGLE_CAMPAIGN] == "google" and channels["120200000000000001"] == "meta"
    assert channels[None] is None  # the unattributed line belongs to no channel


def test_cli_report_by_channel(configured: Path) -> None:
    shop = SHOP.model_copy(update={"id": "demo"})
    engine = store()
    # the CLI's shop is "demo": the same story under that id
    _load_two_channels_for(engine, shop.id)
    out = runner.invoke(
        cli_app,
        ["report", "--by", "channel", "--from", "2026-03-10", "--to", "2026-03-10", "--format", "json"],
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    rows = {r["channel"]: r for r in doc["rows"]}
    assert list(rows) == ["Google", "Meta"]  # Google has the spend here
    assert (rows["Google"]["spend"], rows["Google"]["orders"], rows["Meta"]["orders"]) == (500.0, 1, 1)
    table = runner.invoke(
        cli_app, ["report", "--by", "channel", "--from", "2026-03-10", "--to", "2026-03-10"]
    )
    assert table.exit_code == 0, table.output
    assert "Google" in table.output and "(unattributed)" in table.output


def _load_two_channels_for(engine: Engine, shop_id: str) -> None:
    from poas.services.ingest import ingest_order as ingest
    from poas.store.orders import ensure_shop

    shop = SHOP.model_copy(update={"id": shop_id})
    with engine.begin() as conn:
        ensure_shop(conn, shop_id, "NOK", True, NOW)
        meta = replace(_order(1, "A", "500", "120200000000000001"), shop_id=shop_id)
        gclid = Attribution(
            landing_url=f"https://shop.example/?gclid={GCLID}&gad_campaignid={GOOGLE_CAMPAIGN}"
        )
        google = replace(_order(2, "B", "1750", ""), shop_id=shop_id, attribution=gclid)
        for o in (meta, google):
            ingest(conn, o, shop, now=datetime(2026, 3, 12, tzinfo=UTC), trigger_purchase=False)
        upsert_spend(conn, shop_id, [_google_spend()], source="test", now=NOW)


def test_the_overview_names_google_spend_apart_from_metas(engine: Engine) -> None:
    from poas.services.views.overview import overview_view
    from poas.services.views.reports import report_view

    _load_two_channels(engine)
    view = report_view(engine, SHOP, by="campaign", now=NOW, date_from=DAY, date_to=DAY)
    pnl = overview_view(engine, SHOP, view)
    assert (pnl.meta_spend, pnl.google_spend) == (D("2000.00"), D("500.00"))
    assert pnl.other_spend == {"TikTok": D("100.00")}  # the Google Ads figure: March has Google rows
    assert pnl.total_spend == D("2600.00")
    assert pnl.by_key()["poas"].value == (D("4350") / D("2600")).quantize(D("0.0001"))
