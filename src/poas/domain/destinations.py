"""Destination kinds and ids: where an outbox event goes (a Meta pixel, a Google Ads conversion action).

The outbox addresses an event by one string id (column `pixel_id`, the destination id): a Meta pixel's
numeric id, `gads:<customer id>:<conversion action id>` for a Google Ads conversion action (Data Manager
API), or `gadj:<customer id>:<conversion action id>` for the same action's adjustments sent through the
older Google Ads API (ConversionAdjustmentUploadService, for allowlisted accounts). The kind
follows from the id, so the outbox key `(destination id, event_name, event_id)` keeps one row per
event and destination."""

from __future__ import annotations

from typing import Literal

DestinationKind = Literal["meta_pixel", "google_ads_conversion_action", "google_ads_adjustment"]
META_PIXEL: DestinationKind = "meta_pixel"
GOOGLE_ADS: DestinationKind = "google_ads_conversion_action"
GOOGLE_ADJUSTMENT: DestinationKind = "google_ads_adjustment"
KINDS: tuple[DestinationKind, ...] = (META_PIXEL, GOOGLE_ADS, GOOGLE_ADJUSTMENT)

_GOOGLE_PREFIX = "gads:"
_ADJUSTMENT_PREFIX = "gadj:"


def destination_kind(destination_id: str) -> DestinationKind:
    if destination_id.startswith(_GOOGLE_PREFIX):
        return GOOGLE_ADS
    if destination_id.startswith(_ADJUSTMENT_PREFIX):
        return GOOGLE_ADJUSTMENT
    return META_PIXEL


def is_google(destination_id: str) -> bool:
    return destination_kind(destination_id) != META_PIXEL


def google_adjustment_id(customer_id: str, conversion_action_id: str) -> str:
    """`gadj:1234567890:987654321`: the action's adjustments through the Google Ads API."""
    return (
        _ADJUSTMENT_PREFIX + google_destination_id(customer_id, conversion_action_id)[len(_GOOGLE_PREFIX) :]
    )


def conversion_destination(destination_id: str) -> str:
    """The Data Manager destination an adjustment destination corrects (others: themselves)."""
    if destination_id.startswith(_ADJUSTMENT_PREFIX):
        return _GOOGLE_PREFIX + destination_id[len(_ADJUSTMENT_PREFIX) :]
    return destination_id


def google_destination_id(customer_id: str, conversion_action_id: str) -> str:
    """`gads:1234567890:987654321` (the customer id without dashes)."""
    return f"{_GOOGLE_PREFIX}{normalize_customer_id(customer_id)}:{conversion_action_id.strip()}"


def parse_google_destination(destination_id: str) -> tuple[str, str]:
    """(customer id, conversion action id) of a Google destination id (`gads:` or `gadj:`)."""
    if not destination_id.startswith((_GOOGLE_PREFIX, _ADJUSTMENT_PREFIX)):
        raise ValueError(f"{destination_id[:40]!r} is not a Google Ads destination id")
    customer, _, action = destination_id[len(_GOOGLE_PREFIX) :].partition(":")
    if not customer or not action:
        raise ValueError(f"{destination_id[:40]!r} is not gads:<customer id>:<conversion action id>")
    return customer, action


def normalize_customer_id(value: str) -> str:
    """A Google Ads customer id as 10 digits (`123-456-7890` → `1234567890`); ValueError otherwise."""
    digits = value.replace("-", "").strip()
    if len(digits) != 10 or not digits.isdigit():
        raise ValueError("a Google Ads customer id is 10 digits (123-456-7890)")
    return digits


def platform_of(destination_id: str) -> str:
    """The platform's name as alerts and views say it: "Meta" or "Google Ads"."""
    return "Google Ads" if is_google(destination_id) else "Meta"


def describe_destination(destination_id: str) -> str:
    """ "Meta pixel 123" or "Google Ads conversion action 987 (account 1234567890)"."""
    if is_google(destination_id):
        customer, action = parse_google_destination(destination_id)
        via = (
            ", adjustments through the Google Ads API"
            if destination_id.startswith(_ADJUSTMENT_PREFIX)
            else ""
        )
        return f"Google Ads conversion action {action} (account {customer}{via})"
    return f"Meta pixel {destination_id}"
