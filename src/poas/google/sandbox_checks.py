"""What the Google sandbox checks in an events:ingest body, as Google documents it (fast-fail: any
violation fails the whole request with INVALID_ARGUMENT and BadRequest field violations)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

MAX_EVENTS = 2000
MAX_DESTINATIONS = 10
MAX_IDENTIFIERS = 10
CONSENT_VALUES = frozenset({"CONSENT_STATUS_UNSPECIFIED", "CONSENT_GRANTED", "CONSENT_DENIED"})
ENCODINGS = frozenset({"HEX", "BASE64"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CUSTOMER = re.compile(r"^[0-9]{10}$")

Violation = dict[str, str]


def _v(field: str, reason: str, description: str) -> Violation:
    return {"field": field, "reason": reason, "description": description}


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_destinations(body: dict[str, Any]) -> list[Violation]:
    dests = body.get("destinations")
    if not isinstance(dests, list) or not dests:
        return [_v("destinations", "REQUIRED_FIELD_MISSING", "at least one destination is required")]
    if len(dests) > MAX_DESTINATIONS:
        return [_v("destinations", "TOO_MANY_ELEMENTS", f"at most {MAX_DESTINATIONS} destinations")]
    out: list[Violation] = []
    for i, d in enumerate(dests):
        at = f"destinations[{i}]"
        op = d.get("operatingAccount") if isinstance(d, dict) else None
        if not isinstance(op, dict):
            out.append(_v(f"{at}.operatingAccount", "REQUIRED_FIELD_MISSING", "operatingAccount is required"))
            continue
        if op.get("accountType") != "GOOGLE_ADS":
            out.append(
                _v(f"{at}.operatingAccount.accountType", "INVALID_ACCOUNT_TYPE", "expected GOOGLE_ADS")
            )
        if not _CUSTOMER.match(str(op.get("accountId", ""))):
            out.append(_v(f"{at}.operatingAccount.accountId", "INVALID_CUSTOMER_ID", "10 digits, no dashes"))
        if not str(d.get("productDestinationId") or "").isdigit():
            out.append(_v(f"{at}.productDestinationId", "REQUIRED_FIELD_MISSING", "the conversion action id"))
    return out


def check_event(i: int, event: Any, encoding: str | None) -> list[Violation]:
    at = f"events[{i}]"
    if not isinstance(event, dict):
        return [_v(at, "INVALID_ARGUMENT", "an event is an object")]
    out: list[Violation] = []
    if _timestamp(event.get("eventTimestamp")) is None:
        out.append(_v(f"{at}.eventTimestamp", "INVALID_TIMESTAMP", "RFC 3339 with a time zone"))
    if not isinstance(event.get("transactionId"), str) or not event["transactionId"].strip():
        out.append(_v(f"{at}.transactionId", "REQUIRED_FIELD_MISSING", "a transaction id is required"))
    value = event.get("conversionValue")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(_v(f"{at}.conversionValue", "INVALID_ARGUMENT", "a number"))
        elif value < 0:
            out.append(_v(f"{at}.conversionValue", "INVALID_CONVERSION_VALUE", "must not be negative"))
        if not _CURRENCY.match(str(event.get("currency") or "")):
            out.append(_v(f"{at}.currency", "INVALID_CURRENCY_CODE", "ISO 4217 code with the value"))
    ads = event.get("adIdentifiers") or {}
    clicks = [k for k in ("gclid", "gbraid", "wbraid") if isinstance(ads, dict) and ads.get(k)]
    if len(clicks) > 1:
        out.append(_v(f"{at}.adIdentifiers", "INVALID_ARGUMENT", "at most one of gclid, gbraid, wbraid"))
    ids = ((event.get("userData") or {}).get("userIdentifiers")) or []
    if not isinstance(ids, list) or len(ids) > MAX_IDENTIFIERS:
        out.append(_v(f"{at}.userData.userIdentifiers", "TOO_MANY_ELEMENTS", f"at most {MAX_IDENTIFIERS}"))
        ids = []
    if ids and encoding not in ENCODINGS:
        out.append(_v("encoding", "INVALID_ENCODING", "HEX or BASE64 is required with userData"))
    for j, ident in enumerate(ids):
        out.extend(_check_identifier(f"{at}.userData.userIdentifiers[{j}]", ident, encoding))
    if not clicks and not ids:
        out.append(_v(at, "NO_IDENTIFIERS", "an ad identifier (gclid, gbraid, wbraid) or userData is needed"))
    consent = event.get("consent") or {}
    for key in ("adUserData", "adPersonalization"):
        if isinstance(consent, dict) and key in consent and consent[key] not in CONSENT_VALUES:
            out.append(_v(f"{at}.consent.{key}", "INVALID_ARGUMENT", "a ConsentStatus value"))
    return out


def _hashed(value: Any, encoding: str | None) -> bool:
    return isinstance(value, str) and (encoding != "HEX" or bool(_HEX64.match(value)))


def _check_identifier(at: str, ident: Any, encoding: str | None) -> list[Violation]:
    if not isinstance(ident, dict) or len(ident) != 1:
        return [_v(at, "INVALID_ARGUMENT", "one of emailAddress, phoneNumber, address")]
    ((key, value),) = ident.items()
    if key in ("emailAddress", "phoneNumber"):
        ok = _hashed(value, encoding)
        return [] if ok else [_v(f"{at}.{key}", "INVALID_HEX_ENCODING", "SHA-256, 64 lowercase hex")]
    if key == "address" and isinstance(value, dict):
        out = [
            _v(f"{at}.address.{k}", "INVALID_HEX_ENCODING", "SHA-256, 64 lowercase hex")
            for k in ("givenName", "familyName")
            if not _hashed(value.get(k), encoding)
        ]
        if not re.match(r"^[A-Z]{2}$", str(value.get("regionCode") or "")):
            out.append(_v(f"{at}.address.regionCode", "INVALID_ARGUMENT", "ISO 3166-1 alpha-2"))
        if not value.get("postalCode"):
            out.append(_v(f"{at}.address.postalCode", "REQUIRED_FIELD_MISSING", "postal code, not hashed"))
        return out
    return [_v(at, "INVALID_ARGUMENT", "one of emailAddress, phoneNumber, address")]


def check_request(body: Any) -> list[Violation]:
    if not isinstance(body, dict):
        return [_v("", "INVALID_ARGUMENT", "the body is a JSON object")]
    out = check_destinations(body)
    events = body.get("events")
    if not isinstance(events, list) or not events:
        return [*out, _v("events", "REQUIRED_FIELD_MISSING", "at least one event")]
    if len(events) > MAX_EVENTS:
        return [*out, _v("events", "TOO_MANY_ELEMENTS", f"at most {MAX_EVENTS} events per request")]
    encoding = body.get("encoding")
    if encoding is not None and encoding not in ENCODINGS:
        out.append(_v("encoding", "INVALID_ENCODING", "HEX or BASE64"))
    for i, event in enumerate(events):
        out.extend(check_event(i, event, encoding))
    return out
