"""Destination kinds and ids: where an outbox event goes (a Meta pixel, a Google Ads conversion action).

The outbox addresses an event by one string id (column `pixel_id`, the destination id): a Meta pixel's
numeric id, or `gads:<customer id>:<conversion action id>` for a Google Ads conversion action. The kind
follows from the id, so the outbox key `(destination id, event_name, event_id)` keeps one row per
event and destination."""

from __future__ import annotations

from typing import Literal

DestinationKind = Literal["meta_pixel", "google_ads_conversion_action"]
META_PIXEL: DestinationKind = "meta_pixel"
GOOGLE_ADS: DestinationKind = "google_ads_conversion_action"
KINDS: tuple[DestinationKind, ...] = (META_PIXEL, GOOGLE_ADS)

_GOOGLE_PREFIX = "gads:"


def destination_kind(destination_id: str) -> DestinationKind:
    return GOOGLE_ADS if destination_id.startswith(_GOOGLE_PREFIX) else META_PIXEL


def google_destination_id(customer_id: str, conversion_action_id: str) -> str:
    """`gads:1234567890:987654321` (the customer id without dashes)."""
    return f"{_GOOGLE_PREFIX}{normalize_customer_id(customer_id)}:{conversion_action_id.strip()}"


def parse_google_destination(destination_id: str) -> tuple[str, str]:
    """(customer id, conversion action id) of a Google destination id."""
    if not destination_id.startswith(_GOOGLE_PREFIX):
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
    return "Google Ads" if destination_kind(destination_id) == GOOGLE_ADS else "Meta"


def describe_destination(destination_id: str) -> str:
    """ "Meta pixel 123" or "Google Ads conversion action 987 (account 1234567890)"."""
    if destination_kind(destination_id) == GOOGLE_ADS:
        customer, action = parse_google_destination(destination_id)
        return f"Google Ads conversion action {action} (account {customer})"
    return f"Meta pixel {destination_id}"
