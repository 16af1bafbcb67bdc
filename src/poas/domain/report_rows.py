"""Row values shared by spend sources, rollups and reports: a day's ad spend for one ad."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One ad's spend on one day, in the ad account's currency (as Meta reports it)."""

    account_id: str
    day: date
    currency: str
    spend: Decimal
    campaign_id: str | None = None
    campaign_name: str | None = None
    adset_id: str | None = None
    adset_name: str | None = None
    ad_id: str | None = None
    ad_name: str | None = None
    impressions: int = 0
    clicks: int = 0
    meta_purchases: int = 0
    meta_purchase_value: Decimal = ZERO  # Meta's own reported purchase value (action_values)

    @property
    def row_key(self) -> str:
        """The upsert key inside (shop, account, day): the ad id, else a digest of the names/ids."""
        if self.ad_id:
            return self.ad_id
        parts = (
            self.campaign_id,
            self.campaign_name,
            self.adset_id,
            self.adset_name,
            self.ad_name,
        )
        joined = "\x1f".join(p or "" for p in parts)
        return "names:" + hashlib.sha256(joined.encode()).hexdigest()[:32]
