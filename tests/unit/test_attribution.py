"""Attribution: Meta ids in UTM parameters, a configured mapping, names as a fallback, unattributed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from poas.domain.attribution import (
    AdCatalog,
    AttributionConfig,
    Method,
    Touch,
    attribute,
    entity_ids,
)
from poas.domain.report_rows import SpendRow


def _row(cid: str | None, cname: str, sid: str | None, sname: str, aid: str | None, aname: str) -> SpendRow:
    return SpendRow(
        account_id="1",
        day=date(2026, 3, 1),
        currency="NOK",
        spend=Decimal(100),
        campaign_id=cid,
        campaign_name=cname,
        adset_id=sid,
        adset_name=sname,
        ad_id=aid,
        ad_name=aname,
    )


CATALOG = AdCatalog.from_rows(
    [
        _row("1201", "Vinter – Ullgensere", "2201", "Kvinner 25–45", "3201", "Karusell A"),
        _row("1201", "Vinter – Ullgensere", "2201", "Kvinner 25–45", "3202", "Video 15s"),
        _row("1202", "Høst – Regnjakker", "2202", "Bredt NO", "3203", "Video 15s"),
    ]
)


def test_ad_id_in_utm_content_gives_campaign_and_adset_from_the_spend_rows() -> None:
    got = attribute(Touch(utm_source="facebook", utm_campaign="wrong", utm_content="3203"), CATALOG)
    assert (got.campaign_id, got.adset_id, got.ad_id, got.method) == ("1202", "2202", "3203", Method.AD_ID)


def test_adset_id_in_utm_term() -> None:
    got = attribute(Touch(utm_source="fb", utm_term="2201"), CATALOG)
    assert (got.campaign_id, got.adset_id, got.ad_id, got.method) == ("1201", "2201", "", Method.ADSET_ID)


def test_campaign_id_in_utm_campaign_or_utm_id_from_the_landing_url() -> None:
    got = attribute(Touch(utm_source="facebook", utm_campaign="1202"), CATALOG)
    assert (got.campaign_id, got.method) == ("1202", Method.CAMPAIGN_ID)
    url = "https://shop.no/p?utm_source=facebook&utm_campaign=Spring+sale&utm_id=120299999999"
    got = attribute(Touch(landing_url=url), CATALOG)
    # an id-shaped value is kept even before any spend row for it arrives
    assert (got.campaign_id, got.method) == ("120299999999", Method.CAMPAIGN_ID)


def test_configured_mapping_then_names_as_fallback() -> None:
    config = AttributionConfig(mapping={"spring_sale": "1201"})
    got = attribute(Touch(utm_source="facebook", utm_campaign="spring_sale"), CATALOG, config)
    assert (got.campaign_id, got.method) == ("1201", Method.MAPPING)
    got = attribute(Touch(utm_source="facebook", utm_campaign="høst –  regnjakker"), CATALOG)
    assert (got.campaign_id, got.method) == ("1202", Method.NAME)
    got = attribute(Touch(utm_source="facebook", utm_content="Karusell+A"), CATALOG)
    assert (got.campaign_id, got.ad_id, got.method) == ("1201", "3201", Method.NAME)


def test_ambiguous_names_and_other_sources_stay_unattributed() -> None:
    # "Video 15s" is the name of two ads: no guess
    got = attribute(Touch(utm_source="facebook", utm_content="Video 15s"), CATALOG)
    assert got.method is Method.UNATTRIBUTED and got.campaign_id == ""
    # a Google click that happens to reuse a Meta campaign id is not Meta's
    got = attribute(Touch(utm_source="google", utm_campaign="1201"), CATALOG)
    assert not got.attributed
    # an fbclid marks a Meta click even without utm_source
    got = attribute(Touch(fbclid="IwAR0abc", utm_campaign="1201"), CATALOG)
    assert got.campaign_id == "1201"
    assert not attribute(Touch(), CATALOG).attributed


def test_rows_without_ids_are_keyed_by_name_and_attribution_finds_them() -> None:
    row = _row(None, "Vår", None, "Alle", None, "Bilde 1")
    catalog = AdCatalog.from_rows([row])
    cid, sid, aid = entity_ids(row)
    assert cid == "name:Vår"
    got = attribute(Touch(utm_source="facebook", utm_campaign="vår"), catalog)
    assert got.campaign_id == cid
    got = attribute(Touch(utm_source="facebook", utm_content="bilde 1"), catalog)
    assert (got.campaign_id, got.adset_id, got.ad_id) == (cid, sid, aid)
