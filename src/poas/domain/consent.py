"""Ads-measurement consent: may an order's events go to Meta, and with Limited Data Use?

Sources, in order: an explicit signal on the order (`Consent.ads_tracking`, read by the source
parsers from a consent banner's cart/note attribute, a WooCommerce order meta key or the canonical
`consent.ads_tracking` field), then the shop's default for the order's region
(`consent_default_by_region`, most specific key first: `US-CA`, then `NO`, then `EEA`/`EU`), then
`consent_default`. E-mail marketing consent (`Consent.marketing`) is not consent to ads measurement
and is never read here; it is kept for reports only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from poas.domain.regions import ALPHA2, STATE_CODES, STATE_NAMES

if TYPE_CHECKING:
    from poas.domain.order import Order
    from poas.settings import ShopConfig

GRANTED = "granted"
DENIED = "denied"

# Attribute / meta keys read by default: `_consent_ads` is what the demo's banner script (and the
# docs' example snippet) writes; the others are common spellings. A merchant adds their own.
DEFAULT_SIGNAL_KEYS: tuple[str, ...] = ("_consent_ads", "consent_ads", "_ads_consent", "ads_consent")

_YES = frozenset(
    {"granted", "true", "yes", "y", "1", "on", "allow", "allowed", "accept", "accepted", "opt-in"}
)
_NO = frozenset(
    {"denied", "false", "no", "n", "0", "off", "deny", "reject", "rejected", "refused", "declined", "opt-out"}
)

EU = frozenset(
    {"at", "be", "bg", "cy", "cz", "de", "dk", "ee", "es", "fi", "fr", "gr", "hr", "hu"}
    | {"ie", "it", "lt", "lu", "lv", "mt", "nl", "pl", "pt", "ro", "se", "si", "sk"}
)
REGION_GROUPS: Mapping[str, frozenset[str]] = {
    "EU": EU,
    "EEA": EU | {"is", "li", "no"},
}
# Meta's Limited Data Use applies to US states only; California has its own state code.
LDU_COUNTRY_US = 1
LDU_STATE_CALIFORNIA = 1000


def signal_value(raw: object) -> bool | None:
    """granted/denied, true/false, yes/no, 1/0, on/off … as True/False; anything else is no signal."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if not isinstance(raw, str):
        return None
    word = raw.strip().lower().replace("_", "-")
    if word in _YES:
        return True
    if word in _NO:
        return False
    return None


def find_signal(values: Mapping[str, object], keys: Iterable[str]) -> bool | None:
    """The first readable signal among `keys` (compared case-insensitively) in `values`."""
    lowered = {k.lower(): v for k, v in values.items()}
    for key in keys:
        said = signal_value(lowered.get(key.lower()))
        if said is not None:
            return said
    return None


def normalize_region(key: str) -> str | None:
    """`EEA`, `EU`, an ISO country (`NO`) or a US/Canadian state (`US-CA`), upper-cased; None if unknown."""
    k = key.strip().upper()
    if k in REGION_GROUPS:
        return k
    country, _, state = k.partition("-")
    if country.lower() not in ALPHA2:
        return None
    if not state:
        return country
    if country in ("US", "CA") and state.lower() in STATE_CODES:
        return f"{country}-{state}"
    return None


def order_region(order: Order) -> tuple[str | None, str | None]:
    """(country, state) of the order, upper-case ISO codes, from the shipping address or customer."""
    country = (order.shipping_country or order.customer.country or "").strip().upper() or None
    raw = (order.customer.state or "").strip().lower()
    state = raw if raw in STATE_CODES else STATE_NAMES.get(raw)
    return country, (state.upper() if state else None)


def region_keys(country: str | None, state: str | None) -> list[str]:
    """The region keys an order matches, most specific first (`US-CA`, `US`; `NO`, `EEA`)."""
    if country is None:
        return []
    keys = [f"{country}-{state}"] if state else []
    keys.append(country)
    keys.extend(name for name, members in REGION_GROUPS.items() if country.lower() in members)
    return keys


@dataclass(frozen=True, slots=True)
class ConsentVerdict:
    """Whether events may be sent, what the order said (None = no signal) and why, in plain words."""

    allowed: bool
    signal: bool | None
    reason: str


def default_for(shop: ShopConfig, country: str | None, state: str | None) -> tuple[str, str | None]:
    """(granted|denied, the region key that decided or None for the shop-wide default)."""
    by_region = {k.upper(): str(v) for k, v in shop.consent_default_by_region.items()}
    for key in region_keys(country, state):
        if key in by_region:
            return by_region[key], key
    return effective_default(shop), None


def effective_default(shop: ShopConfig) -> str:
    """`consent_default`, or what the legacy `consent_policy` means when it is not set."""
    if shop.consent_default is not None:
        return str(shop.consent_default)
    return DENIED if shop.consent_policy == "require_explicit" else GRANTED


def ads_consent(shop: ShopConfig, order: Order) -> ConsentVerdict:
    """The verdict for one order. `consent_policy = "always"` sends whatever the order says."""
    signal = order.consent.ads_tracking
    if shop.consent_policy == "always":
        return ConsentVerdict(True, signal, "policy always: consent is collected outside poas")
    if signal is True:
        return ConsentVerdict(True, True, "the order's consent signal says granted")
    if signal is False:
        return ConsentVerdict(False, False, "the order's consent signal says denied")
    country, state = order_region(order)
    default, key = default_for(shop, country, state)
    where = (country if key in (None, country) else f"{country} (region {key})") if country else None
    said = f"shop default {default}" + (f" for {where}" if where else " (the order has no country)")
    return ConsentVerdict(default == GRANTED, None, f"{said}, no consent signal on the order")


def ldu_options(shop: ShopConfig, order: Order) -> tuple[int, int] | None:
    """(data_processing_options_country, _state) when Limited Data Use applies to the order, else None.

    `events.ldu` applies it to every event with the configured codes; `events.ldu_regions` (US or
    US-XX keys) to orders from those regions, with the US code and California's code (Meta geolocates
    the other states from state 0).
    """
    events = shop.events
    if events.ldu:
        return events.ldu_country, events.ldu_state
    if not events.ldu_regions:
        return None
    country, state = order_region(order)
    wanted = {r.upper() for r in events.ldu_regions}
    if not wanted.intersection(region_keys(country, state)):
        return None
    return LDU_COUNTRY_US, LDU_STATE_CALIFORNIA if state == "CA" and country == "US" else 0


def describe_source(shop: ShopConfig) -> str:
    """Where the shop's ads consent comes from, in one line (doctor, Settings page)."""
    if shop.consent_policy == "always":
        return "consent_policy always: every order is sent, consent is gated outside poas"
    if shop.platform == "woocommerce":
        signal = "order meta " + ", ".join(shop.consent_meta_keys) if shop.consent_meta_keys else ""
    elif shop.platform == "shopify":
        keys = shop.consent_attribute_keys
        signal = "note/cart attribute " + ", ".join(keys) if keys else ""
    else:
        signal = "consent.ads_tracking"
    parts = [f"signal: {signal}" if signal else "no signal keys"]
    regions = ", ".join(f"{k} {v}" for k, v in sorted(shop.consent_default_by_region.items()))
    parts.append(f"else default {effective_default(shop)}" + (f" ({regions})" if regions else ""))
    return "; ".join(parts)
