"""Channel attribution: a Google click (gclid / gbraid / wbraid / gad_*) or a paid utm_source=google
goes to Google and its campaign (gad_campaignid, utm id, mapping, name); Meta's rules are unchanged;
organic Google visits and orders with no click stay unattributed."""

from __future__ import annotations

from poas.domain.attribution import (
    GOOGLE,
    META,
    UNATTRIBUTED,
    AdCatalog,
    AttributionConfig,
    Method,
    Touch,
    attribute,
)

CATALOG = AdCatalog()
CATALOG.add("120210000000000001", "Vinter – Ullgensere", "120210000000000002", "Kvinner", None, None, META)
CATALOG.add("21500000001", "Søk – Ullgensere", "16000000001", "Ull", None, None, GOOGLE)
CATALOG.add("21500000002", "PMax – Alt", None, None, None, None, GOOGLE)
CATALOG.add("21500000003", "Vinter – Ullgensere", None, None, None, None, GOOGLE)  # Meta's name again


def test_gclid_with_gad_campaignid() -> None:
    url = "https://shop.example/p?gclid=Cj0KCQ&gad_source=1&gad_campaignid=21500000002"
    got = attribute(Touch(landing_url=url), CATALOG)
    assert (got.channel, got.campaign_id, got.method) == (GOOGLE, "21500000002", Method.CAMPAIGN_ID)


def test_gclid_column_without_url_and_campaign_by_name() -> None:
    got = attribute(Touch(gclid="Cj0KCQ", utm_campaign="søk – ullgensere"), CATALOG)
    assert (got.channel, got.campaign_id, got.method) == (GOOGLE, "21500000001", Method.NAME)


def test_paid_utm_source_google_and_utm_id() -> None:
    got = attribute(Touch(utm_source="google", utm_medium="cpc", landing_url="/?utm_id=21500000001"), CATALOG)
    assert (got.channel, got.campaign_id) == (GOOGLE, "21500000001")


def test_google_mapping() -> None:
    config = AttributionConfig(mapping={"brand": "21500000002"})
    got = attribute(Touch(utm_source="google", utm_medium="cpc", utm_campaign="brand"), CATALOG, config)
    assert (got.channel, got.campaign_id, got.method) == (GOOGLE, "21500000002", Method.MAPPING)


def test_google_click_without_a_known_campaign_keeps_the_channel() -> None:
    got = attribute(Touch(wbraid="CjkKEQiA", utm_campaign="unknown"), CATALOG)
    assert (got.channel, got.campaign_id, got.attributed) == (GOOGLE, UNATTRIBUTED, False)


def test_organic_google_is_no_channel() -> None:
    got = attribute(Touch(utm_source="google", utm_medium="organic"), CATALOG)
    assert (got.channel, got.campaign_id) == (UNATTRIBUTED, UNATTRIBUTED)
    assert attribute(Touch(landing_url="https://shop.example/"), CATALOG).channel == UNATTRIBUTED


def test_names_match_within_the_channel() -> None:
    """The same campaign name on both channels: each channel's order finds its own campaign."""
    meta = attribute(Touch(utm_source="facebook", utm_campaign="Vinter – Ullgensere"), CATALOG)
    google = attribute(
        Touch(utm_source="google", utm_medium="cpc", utm_campaign="Vinter – Ullgensere"), CATALOG
    )
    assert (meta.channel, meta.campaign_id) == (META, "120210000000000001")
    assert (google.channel, google.campaign_id) == (GOOGLE, "21500000003")


def test_meta_click_wins_and_meta_rules_are_unchanged() -> None:
    got = attribute(
        Touch(fbclid="IwAR", gclid="Cj0", utm_content="x", utm_term="120210000000000002"), CATALOG
    )
    assert (got.channel, got.campaign_id, got.adset_id) == (META, "120210000000000001", "120210000000000002")
    unknown = attribute(Touch(utm_source="facebook", utm_campaign="nothing"), CATALOG)
    assert (unknown.channel, unknown.campaign_id) == (META, UNATTRIBUTED)


def test_google_ad_group_from_the_ad_set_parameter() -> None:
    """utm_term={adgroupid}: the ad group of the campaign (or, alone, its campaign too)."""
    url = "/?gclid=Cj0&gad_campaignid=21500000001&utm_term=16000000001"
    got = attribute(Touch(landing_url=url), CATALOG)
    assert (got.campaign_id, got.adset_id, got.method) == ("21500000001", "16000000001", Method.CAMPAIGN_ID)
    alone = attribute(Touch(gclid="Cj0", utm_term="16000000001"), CATALOG)
    assert (alone.campaign_id, alone.adset_id) == ("21500000001", "16000000001")
    assert alone.method == Method.ADSET_ID
    url = "/?gclid=Cj0&gad_campaignid=21500000002&utm_term=16000000001"
    other = attribute(Touch(landing_url=url), CATALOG)
    assert (other.campaign_id, other.adset_id) == ("21500000002", UNATTRIBUTED)  # not that campaign's group
    meta_set = attribute(Touch(gclid="Cj0", utm_term="120210000000000002"), CATALOG)
    assert meta_set.adset_id == UNATTRIBUTED  # a Meta ad set never becomes a Google ad group
