"""The checks Meta documents for Conversions API events, shared by the sandbox and `poas validate-event`.

Each problem names the event index and the field path (`data[3].user_data.em[0]`). The rules are what
Meta documents (required fields, SHA-256 hashes, the 7-day window, ≤ 1,000 events, ISO currency,
numeric values, AppendValue's original_event_data); error subcodes are not documented by Meta and are
marked as such.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from poas.domain.money import ISO_CURRENCIES


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_EVENTS = 1000
MAX_AGE_S = 7 * 24 * 3600
FUTURE_SKEW_S = 300  # Meta does not document its tolerance for future timestamps (UNCONFIRMED)

ACTION_SOURCES = _names(
    "email website app phone_call chat physical_store system_generated business_messaging other"
)
HASHED_FIELDS = _names("em ph fn ln ge db ct st zp country")
SDK_HASHED_EXTRAS = _names("f5first f5last fi dobd dobm doby")
UNHASHED_FIELDS = frozenset(("fbc", "fbp", "client_ip_address", "client_user_agent"))
OTHER_USER_FIELDS = _names(
    """external_id subscription_id fb_login_id lead_id anon_id madid page_id page_scoped_user_id
    ctwa_clid ig_account_id ig_sid"""
)
USER_FIELDS = HASHED_FIELDS | SDK_HASHED_EXTRAS | UNHASHED_FIELDS | OTHER_USER_FIELDS
EVENT_FIELDS = _names(
    """event_name event_time user_data custom_data event_source_url opt_out event_id action_source
    data_processing_options data_processing_options_country data_processing_options_state app_data
    original_event_data attribution_data referrer_url messaging_channel advanced_measurement_table"""
)
ORIGINAL_EVENT_FIELDS = frozenset(("event_name", "event_time", "order_id", "event_id"))
APPEND_VALUE = "AppendValue"

# Meta's own wording where known; subcodes come from observed answers, not documentation (UNCONFIRMED).
SUBCODE_TOO_OLD = 2804003
SUBCODE_FUTURE = 2804004
SUBCODE_INVALID = 2804019

_HASH = re.compile(r"[0-9a-f]{64}(?:\.[A-Za-z0-9_-]{2,16})?").fullmatch
_LOOKS_HASHED = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{32}").fullmatch
_COOKIE = re.compile(r"fb\.\d\.\d{10,16}\.\S+").fullmatch


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an event (or the request) is invalid."""

    index: int | None  # event index in `data`, None for the request itself
    path: str  # e.g. data[3].user_data.em[0]
    message: str
    subcode: int = SUBCODE_INVALID

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _strings(value: object) -> list[object]:
    """A user_data value as a list (Meta accepts a string or a list of strings)."""
    return value if isinstance(value, list) else [value]


def _check_user_data(ud: object, base: str, i: int, website: bool, out: list[Problem]) -> None:
    if not isinstance(ud, Mapping):
        out.append(Problem(i, base, "user_data must be an object"))
        return
    usable = 0
    for key, value in ud.items():
        path = f"{base}.{key}"
        if key not in USER_FIELDS:
            out.append(Problem(i, path, "unknown user_data parameter"))
            continue
        if value is None or value == "" or value == []:
            continue
        if key in UNHASHED_FIELDS:
            if not isinstance(value, str):
                out.append(Problem(i, path, "must be a string"))
            elif _LOOKS_HASHED(value):
                out.append(Problem(i, path, "must not be hashed (send the raw value)"))
            elif key in ("fbc", "fbp") and not _COOKIE(value):
                out.append(Problem(i, path, "must look like fb.<subdomain index>.<ms timestamp>.<value>"))
            elif key == "client_ip_address":
                try:
                    ipaddress.ip_address(value)
                except ValueError:
                    out.append(Problem(i, path, "is not a valid IPv4 or IPv6 address"))
                else:
                    usable += 1
            else:
                usable += 1
            continue
        for n, item in enumerate(_strings(value)):
            ipath = f"{path}[{n}]" if isinstance(value, list) else path
            if not isinstance(item, str):
                out.append(Problem(i, ipath, "must be a string or a list of strings"))
            elif (key in HASHED_FIELDS or key in SDK_HASHED_EXTRAS) and not _HASH(item):
                out.append(Problem(i, ipath, "must be a SHA-256 hash (64 lowercase hex characters)"))
            else:
                usable += 1
    if usable == 0:
        out.append(Problem(i, base, "needs at least one customer information parameter"))
    if website and not ud.get("client_user_agent"):
        out.append(Problem(i, f"{base}.client_user_agent", "is required for website events"))


def _check_custom_data(cd: object, base: str, i: int, name: object, out: list[Problem]) -> None:
    if not isinstance(cd, Mapping):
        out.append(Problem(i, base, "custom_data must be an object"))
        return
    currency = cd.get("currency")
    if currency is not None and (not isinstance(currency, str) or currency.upper() not in ISO_CURRENCIES):
        out.append(Problem(i, f"{base}.currency", f"{currency!r} is not an ISO 4217 currency code"))
    for key in ("value", "net_revenue", "predicted_ltv"):
        if key in cd and not _is_number(cd[key]):
            out.append(Problem(i, f"{base}.{key}", "must be a number"))
    if name == "Purchase":
        if "value" not in cd:
            out.append(Problem(i, f"{base}.value", "is required for Purchase events"))
        if currency is None:
            out.append(Problem(i, f"{base}.currency", "is required for Purchase events"))
    if ("value" in cd or "net_revenue" in cd) and currency is None and name != "Purchase":
        out.append(Problem(i, f"{base}.currency", "is required when a value is sent"))
    contents = cd.get("contents")
    if contents is not None:
        if not isinstance(contents, list):
            out.append(Problem(i, f"{base}.contents", "must be a list"))
            return
        for n, c in enumerate(contents):
            cpath = f"{base}.contents[{n}]"
            if not isinstance(c, Mapping) or not c.get("id"):
                out.append(Problem(i, cpath, "each content needs an id"))
                continue
            q = c.get("quantity")
            if q is not None and (not isinstance(q, int) or isinstance(q, bool)):
                out.append(Problem(i, f"{cpath}.quantity", "must be an integer"))
            if "item_price" in c and not _is_number(c["item_price"]):
                out.append(Problem(i, f"{cpath}.item_price", "must be a number"))


def _check_time(t: object, path: str, i: int, now_s: int, out: list[Problem]) -> None:
    if not isinstance(t, int) or isinstance(t, bool):
        out.append(Problem(i, path, "must be a Unix timestamp in seconds (integer)"))
    elif t < now_s - MAX_AGE_S:
        out.append(
            Problem(
                i, path, "is more than 7 days in the past (Meta rejects the whole request)", SUBCODE_TOO_OLD
            )
        )
    elif t > now_s + FUTURE_SKEW_S:
        out.append(Problem(i, path, "is in the future", SUBCODE_FUTURE))


def validate_event(event: object, index: int, now_s: int) -> list[Problem]:
    """Every problem in one event; empty when Meta would accept it."""
    out: list[Problem] = []
    base = f"data[{index}]"
    if not isinstance(event, Mapping):
        return [Problem(index, base, "each event must be an object")]
    for key in event:
        if key not in EVENT_FIELDS:
            out.append(Problem(index, f"{base}.{key}", "unknown event parameter"))
    name = event.get("event_name")
    if not isinstance(name, str) or not name:
        out.append(Problem(index, f"{base}.event_name", "is required"))
    if "event_time" not in event:
        out.append(Problem(index, f"{base}.event_time", "is required"))
    else:
        _check_time(event["event_time"], f"{base}.event_time", index, now_s, out)
    source = event.get("action_source")
    if source is None:
        out.append(Problem(index, f"{base}.action_source", "is required"))
    elif source not in ACTION_SOURCES:
        out.append(Problem(index, f"{base}.action_source", f"{source!r} is not a valid action source"))
    website = source == "website"
    if website:
        url = event.get("event_source_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            out.append(Problem(index, f"{base}.event_source_url", "is required for website events"))
    if "user_data" not in event:
        out.append(Problem(index, f"{base}.user_data", "is required"))
    else:
        _check_user_data(event["user_data"], f"{base}.user_data", index, website, out)
    if "custom_data" in event:
        _check_custom_data(event["custom_data"], f"{base}.custom_data", index, name, out)
    elif name == "Purchase":
        out.append(Problem(index, f"{base}.custom_data", "is required for Purchase events (value, currency)"))
    if "event_id" in event and not isinstance(event["event_id"], str | int):
        out.append(Problem(index, f"{base}.event_id", "must be a string"))
    _check_processing_options(event, base, index, out)
    oed = event.get("original_event_data")
    if oed is not None or name == APPEND_VALUE:
        _check_original(oed, f"{base}.original_event_data", index, now_s, out)
    return out


def _check_processing_options(event: Mapping[str, Any], base: str, i: int, out: list[Problem]) -> None:
    dpo = event.get("data_processing_options")
    if dpo is not None and (not isinstance(dpo, list) or any(v != "LDU" for v in dpo)):
        out.append(Problem(i, f"{base}.data_processing_options", 'must be [] or ["LDU"]'))
    for key in ("data_processing_options_country", "data_processing_options_state"):
        v = event.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            out.append(Problem(i, f"{base}.{key}", "must be an integer"))


def _check_original(oed: object, path: str, i: int, now_s: int, out: list[Problem]) -> None:
    if not isinstance(oed, Mapping):
        out.append(Problem(i, path, "AppendValue needs original_event_data {event_name, event_time, …}"))
        return
    for key in oed:
        if key not in ORIGINAL_EVENT_FIELDS:
            out.append(Problem(i, f"{path}.{key}", "unknown original_event_data parameter"))
    if not isinstance(oed.get("event_name"), str) or not oed.get("event_name"):
        out.append(Problem(i, f"{path}.event_name", "is required"))
    t = oed.get("event_time")
    if not isinstance(t, int) or isinstance(t, bool):
        out.append(Problem(i, f"{path}.event_time", "must be a Unix timestamp in seconds (integer)"))
    if not oed.get("event_id") and not oed.get("order_id"):
        out.append(Problem(i, path, "needs event_id or order_id to find the original event"))


def validate_batch(data: object, now_s: int) -> list[Problem]:
    """Every problem in a request's `data` (size limit first, then each event in order)."""
    if not isinstance(data, list):
        return [Problem(None, "data", "must be a JSON array of events")]
    if not data:
        return [Problem(None, "data", "is empty")]
    if len(data) > MAX_EVENTS:
        return [Problem(None, "data", f"has {len(data)} events; the limit is {MAX_EVENTS} per request")]
    out: list[Problem] = []
    for n, event in enumerate(data):
        out.extend(validate_event(event, n, now_s))
    return out


def payload_events(payload: object) -> object:
    """The `data` list of a payload that is one event, a list of events or a `{data: [...]}` body."""
    if isinstance(payload, Mapping):
        return payload.get("data", [payload])
    return payload
