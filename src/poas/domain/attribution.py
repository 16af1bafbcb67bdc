"""Attribution of orders to a channel (Meta, Google) and to its campaign / ad set / ad: click ids and
UTM ids first, a mapping, then names.

The channel comes first: a Meta click id (fbclid / _fbc) says Meta, a Google click id (gclid /
gbraid / wbraid, or Google's `gad_source` / `gad_campaignid` parameters) says Google, else
`utm_source` names it (Google's only with a paid `utm_medium`: WooCommerce writes utm_source=google,
utm_medium=organic for a search visit). Meta orders are then matched as before; Google orders by
Google's campaign id (`gad_campaignid`, which Google adds to every ad click's final URL, else
`utm_id` / `utm_campaign` when it is a Google campaign's id), a mapping, or the campaign's name. An
order whose channel is known but whose campaign is not keeps its channel (`Attributed.channel`) with
no campaign; an order with no channel is unattributed at every level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from urllib.parse import parse_qs, unquote_plus, urlsplit

from poas.domain.report_rows import SpendRow

UNATTRIBUTED = ""  # the key of the "unattributed" bucket at every level
UNATTRIBUTED_NAME = "(unattributed)"
META_SOURCES = frozenset({"facebook", "fb", "meta", "instagram", "ig", "facebook.com", "an", "messenger"})
GOOGLE_SOURCES = frozenset({"google", "googleads", "google-ads", "google_ads", "adwords", "youtube"})
NOT_PAID_MEDIUMS = frozenset({"organic", "referral", "email", "e-mail", "(none)", "none", "social", "typein"})
GOOGLE_CLICK_PARAMS = ("gclid", "gbraid", "wbraid", "gad_source", "gad_campaignid")
GOOGLE_CAMPAIGN_PARAM = "gad_campaignid"
META = "meta"
GOOGLE = "google"
CHANNEL_NAMES = {META: "Meta", GOOGLE: "Google", UNATTRIBUTED: UNATTRIBUTED_NAME}
_META_ID = re.compile(r"^\d{6,25}$")
_GOOGLE_ID = re.compile(r"^\d{6,20}$")


class Method(StrEnum):
    AD_ID = "ad_id"  # utm_content (or the configured parameter) is a known ad id
    ADSET_ID = "adset_id"
    CAMPAIGN_ID = "campaign_id"  # utm_campaign / utm_id carries a campaign id
    MAPPING = "mapping"  # a configured utm value -> campaign id
    NAME = "name"  # matched against the spend rows' names
    UNATTRIBUTED = "unattributed"  # no Meta click, or nothing matched


@dataclass(frozen=True, slots=True)
class AttributionConfig:
    """Which UTM parameter carries which Meta id (the recommended URL template is the default)."""

    campaign_param: str = "utm_campaign"  # {{campaign.id}}
    adset_param: str = "utm_term"  # {{adset.id}}
    ad_param: str = "utm_content"  # {{ad.id}}
    id_param: str = "utm_id"  # {{campaign.id}} as well, when utm_campaign carries a name
    mapping: Mapping[str, str] = field(default_factory=dict)  # utm_campaign value -> campaign id
    match_names: bool = True
    meta_sources: frozenset[str] = META_SOURCES
    require_meta_source: bool = True  # utm_source must be Meta's (or fbclid/fbc present)


@dataclass(frozen=True, slots=True)
class Touch:
    """What an order knows about the click that brought it."""

    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    landing_url: str | None = None
    fbclid: str | None = None
    fbc: str | None = None
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None

    def params(self) -> dict[str, str]:
        """UTM values from the order, filled in from the landing URL's query where missing."""
        found: dict[str, str] = {}
        if self.landing_url:
            try:
                query = parse_qs(urlsplit(self.landing_url).query)
            except ValueError:
                query = {}
            for key, values in query.items():
                if values and values[0].strip():
                    found[key.lower()] = values[0].strip()
        for key in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"):
            value = getattr(self, key)
            if value and value.strip():
                found[key] = value.strip()
        return found


# The orders columns a Touch is read from, in the Touch's field order.
TOUCH_COLUMNS = (
    *("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "landing_url"),
    *("fbclid", "fbc", "gclid", "gbraid", "wbraid"),
)


@dataclass(frozen=True, slots=True)
class Attributed:
    campaign_id: str = UNATTRIBUTED
    adset_id: str = UNATTRIBUTED
    ad_id: str = UNATTRIBUTED
    method: Method = Method.UNATTRIBUTED
    channel: str = UNATTRIBUTED  # meta | google | "" (no channel known)

    @property
    def attributed(self) -> bool:
        return self.method is not Method.UNATTRIBUTED


def _name_key(name: str) -> str:
    return " ".join(unquote_plus(name).casefold().split())


@dataclass
class AdCatalog:
    """Ids, names and parents of the campaigns, ad sets and ads seen in spend rows."""

    campaign_names: dict[str, str] = field(default_factory=dict)
    adset_names: dict[str, str] = field(default_factory=dict)
    ad_names: dict[str, str] = field(default_factory=dict)
    adset_campaign: dict[str, str] = field(default_factory=dict)
    ad_adset: dict[str, str] = field(default_factory=dict)
    ad_campaign: dict[str, str] = field(default_factory=dict)
    campaign_channels: dict[str, str] = field(default_factory=dict)  # campaign key -> meta | google

    @classmethod
    def from_rows(cls, rows: Iterable[SpendRow]) -> AdCatalog:
        cat = cls()
        for r in rows:
            channel = getattr(r, "channel", META)
            cat.add(r.campaign_id, r.campaign_name, r.adset_id, r.adset_name, r.ad_id, r.ad_name, channel)
        return cat

    def channel_of(self, campaign_key: str) -> str:
        """The channel of a campaign seen in spend rows ("" for one no spend row names)."""
        return self.campaign_channels.get(campaign_key, UNATTRIBUTED)

    def add(
        self,
        campaign_id: str | None,
        campaign_name: str | None,
        adset_id: str | None,
        adset_name: str | None,
        ad_id: str | None,
        ad_name: str | None,
        channel: str | None = META,
    ) -> None:
        """Register one spend row's entities. Rows without ids (CSV by name) use the name as id."""
        cid = campaign_id or (f"name:{campaign_name}" if campaign_name else None)
        sid = adset_id or (f"name:{cid}/{adset_name}" if adset_name else None)
        aid = ad_id or (f"name:{sid}/{ad_name}" if ad_name else None)
        if cid:
            self.campaign_names[cid] = campaign_name or self.campaign_names.get(cid, cid)
            self.campaign_channels[cid] = channel or META
        if sid:
            self.adset_names[sid] = adset_name or self.adset_names.get(sid, sid)
            if cid:
                self.adset_campaign[sid] = cid
        if aid:
            self.ad_names[aid] = ad_name or self.ad_names.get(aid, aid)
            if sid:
                self.ad_adset[aid] = sid
            if cid:
                self.ad_campaign[aid] = cid

    @staticmethod
    def _by_name(names: dict[str, str], wanted: str) -> str | None:
        key = _name_key(wanted)
        hits = {i for i, n in names.items() if _name_key(n) == key}
        return hits.pop() if len(hits) == 1 else None  # ambiguous names attribute nothing

    def campaign_by_name(self, name: str, channel: str = META) -> str | None:
        """The campaign of that name among the channel's campaigns (Meta: those not Google's)."""
        if channel == GOOGLE:
            names = {k: v for k, v in self.campaign_names.items() if self.campaign_channels.get(k) == GOOGLE}
        elif GOOGLE in self.campaign_channels.values():
            names = {k: v for k, v in self.campaign_names.items() if self.campaign_channels.get(k) != GOOGLE}
        else:
            names = self.campaign_names
        return self._by_name(names, name)

    def adset_by_name(self, name: str) -> str | None:
        return self._by_name(self.adset_names, name)

    def ad_by_name(self, name: str) -> str | None:
        return self._by_name(self.ad_names, name)


def entity_ids(row: SpendRow) -> tuple[str, str, str]:
    """The (campaign, ad set, ad) keys a spend row rolls up under; the same keys attribution yields."""
    cid = row.campaign_id or (f"name:{row.campaign_name}" if row.campaign_name else UNATTRIBUTED)
    sid = row.adset_id or (f"name:{cid}/{row.adset_name}" if row.adset_name else UNATTRIBUTED)
    aid = row.ad_id or (f"name:{sid}/{row.ad_name}" if row.ad_name else UNATTRIBUTED)
    return cid, sid, aid


def channel_of(touch: Touch, params: dict[str, str], config: AttributionConfig | None = None) -> str:
    """meta | google | "" from the click ids, then `utm_source` (see the module docstring)."""
    config = config or AttributionConfig()
    if touch.fbclid or touch.fbc or "fbclid" in params:
        return META
    if touch.gclid or touch.gbraid or touch.wbraid or any(p in params for p in GOOGLE_CLICK_PARAMS):
        return GOOGLE
    source = params.get("utm_source", "").casefold()
    if source in config.meta_sources:
        return META
    if source in GOOGLE_SOURCES and params.get("utm_medium", "").casefold() not in NOT_PAID_MEDIUMS:
        return GOOGLE
    if not config.require_meta_source and source not in GOOGLE_SOURCES:
        return META
    return UNATTRIBUTED


def attribute(touch: Touch, catalog: AdCatalog, config: AttributionConfig | None = None) -> Attributed:
    """The channel, then within it the most precise match: ad id, ad set id, campaign id, mapping,
    then names (Google: campaign id, mapping, name)."""
    config = config or AttributionConfig()
    params = touch.params()
    channel = channel_of(touch, params, config)
    if channel == GOOGLE:
        return _attribute_google(params, catalog, config)
    if channel != META:
        return Attributed()
    return replace(_attribute_meta(params, catalog, config), channel=META)


def _attribute_google(params: dict[str, str], catalog: AdCatalog, config: AttributionConfig) -> Attributed:
    """The campaign, and the ad group when the ad set parameter (`{adgroupid}` in a tracking
    template) names one of that campaign's ad groups seen in Google's spend rows."""
    got = _google_campaign(params, catalog, config)
    adgroup = params.get(config.adset_param, "")
    parent = catalog.adset_campaign.get(adgroup)
    google_group = parent is not None and catalog.campaign_channels.get(parent) == GOOGLE
    if google_group and parent is not None and got.campaign_id in (UNATTRIBUTED, parent):
        method = got.method if got.campaign_id else Method.ADSET_ID
        return Attributed(parent, adgroup, method=method, channel=GOOGLE)
    return got


def _google_campaign(params: dict[str, str], catalog: AdCatalog, config: AttributionConfig) -> Attributed:
    google = {k for k, c in catalog.campaign_channels.items() if c == GOOGLE}
    gad = params.get(GOOGLE_CAMPAIGN_PARAM, "")
    if _GOOGLE_ID.match(gad):
        return Attributed(gad, method=Method.CAMPAIGN_ID, channel=GOOGLE)
    camp_val = params.get(config.campaign_param, "")
    for value in (params.get(config.id_param, ""), camp_val):
        if value in google:
            return Attributed(value, method=Method.CAMPAIGN_ID, channel=GOOGLE)
    if camp_val and camp_val in config.mapping:
        return Attributed(config.mapping[camp_val], method=Method.MAPPING, channel=GOOGLE)
    if config.match_names and camp_val and (cid := catalog.campaign_by_name(camp_val, GOOGLE)):
        return Attributed(cid, method=Method.NAME, channel=GOOGLE)
    return Attributed(channel=GOOGLE)


def _attribute_meta(params: dict[str, str], catalog: AdCatalog, config: AttributionConfig) -> Attributed:
    ad_val = params.get(config.ad_param, "")
    adset_val = params.get(config.adset_param, "")
    camp_val = params.get(config.campaign_param, "")
    id_val = params.get(config.id_param, "")

    if ad_val in catalog.ad_names:
        return _from_ad(ad_val, catalog, Method.AD_ID)
    if adset_val in catalog.adset_names:
        return Attributed(
            catalog.adset_campaign.get(adset_val, UNATTRIBUTED), adset_val, method=Method.ADSET_ID
        )
    for value in (camp_val, id_val):
        if value in catalog.campaign_names or (value and _META_ID.match(value)):
            return _with_children(value, ad_val, adset_val, Method.CAMPAIGN_ID)
    if camp_val and camp_val in config.mapping:
        return _with_children(config.mapping[camp_val], ad_val, adset_val, Method.MAPPING)
    if config.match_names:
        if ad_val and (aid := catalog.ad_by_name(ad_val)):
            return _from_ad(aid, catalog, Method.NAME)
        if adset_val and (sid := catalog.adset_by_name(adset_val)):
            return Attributed(catalog.adset_campaign.get(sid, UNATTRIBUTED), sid, method=Method.NAME)
        if camp_val and (cid := catalog.campaign_by_name(camp_val)):
            return Attributed(cid, method=Method.NAME)
    return Attributed()


def _from_ad(ad_id: str, catalog: AdCatalog, method: Method) -> Attributed:
    return Attributed(
        catalog.ad_campaign.get(ad_id, UNATTRIBUTED), catalog.ad_adset.get(ad_id, UNATTRIBUTED), ad_id, method
    )


def _with_children(campaign_id: str, ad_val: str, adset_val: str, method: Method) -> Attributed:
    """A campaign id from the URL; unknown-but-id-shaped ad set / ad values are kept too."""
    adset = adset_val if _META_ID.match(adset_val) else UNATTRIBUTED
    ad = ad_val if _META_ID.match(ad_val) else UNATTRIBUTED
    return Attributed(campaign_id, adset, ad, method)
