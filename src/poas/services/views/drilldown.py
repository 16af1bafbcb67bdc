"""Ads drill-down: the campaigns, one campaign's ad sets, one ad set's ads, each with its report figures.

The rows are the report's own (same rollups, same decision basis); the parents come from the spend
rows' catalogue, so an ad set is listed under the campaign Meta put it in.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from poas.services.report import By
from poas.services.rollups import ad_catalog
from poas.services.views.reports import ReportView, report_view
from poas.settings import ShopConfig


class Crumb(BaseModel):
    level: str
    key: str
    name: str


class Drilldown(BaseModel):
    level: str = Field(description="campaign, adset or ad: what the rows are")
    crumbs: list[Crumb] = Field(default_factory=list, description="the campaign and ad set above the rows")
    report: ReportView = Field(description="the report at this level, its rows only the children shown")
    children: dict[str, int] = Field(
        default_factory=dict, description="row key -> how many ad sets / ads it holds (rows without none)"
    )


def drilldown_view(
    engine: Engine,
    shop: ShopConfig,
    *,
    now: datetime,
    campaign_id: str | None = None,
    adset_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Drilldown:
    """Campaigns; with `campaign_id` its ad sets; with `adset_id` too, that ad set's ads."""
    with engine.connect() as conn:
        catalog = ad_catalog(conn, shop.id)
    if campaign_id and adset_id and catalog.adset_campaign.get(adset_id) != campaign_id:
        adset_id = None  # not an ad set of this campaign: show the campaign's ad sets instead
    level: By = "ad" if (campaign_id and adset_id) else "adset" if campaign_id else "campaign"
    report = report_view(engine, shop, by=level, now=now, date_from=date_from, date_to=date_to)
    crumbs: list[Crumb] = []
    if campaign_id:
        crumbs.append(
            Crumb(
                level="campaign", key=campaign_id, name=catalog.campaign_names.get(campaign_id, campaign_id)
            )
        )
        if level == "adset":
            report.rows = [r for r in report.rows if catalog.adset_campaign.get(r.key) == campaign_id]
    if level == "ad" and adset_id:
        crumbs.append(Crumb(level="adset", key=adset_id, name=catalog.adset_names.get(adset_id, adset_id)))
        report.rows = [r for r in report.rows if catalog.ad_adset.get(r.key) == adset_id]
    parents = {"campaign": catalog.adset_campaign, "adset": catalog.ad_adset}.get(level, {})
    children: dict[str, int] = {}
    for parent in parents.values():
        children[parent] = children.get(parent, 0) + 1
    shown = {r.key for r in report.rows}
    return Drilldown(
        level=level, crumbs=crumbs, report=report, children={k: n for k, n in children.items() if k in shown}
    )
