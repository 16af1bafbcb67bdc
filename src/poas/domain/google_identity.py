"""Google's view of an order's buyer: click ids (gclid / gbraid / wbraid) and user identifiers
normalized and SHA-256 hashed by Google's rules (Data Manager API, "Format user data").

Google's rules differ from Meta's (`poas.domain.pii`) in places, so the same e-mail or phone gives a
different hash and both are computed when an order arrives (the raw values are never kept):

- e-mail: trimmed, every whitespace removed, lowercase; for gmail.com / googlemail.com addresses the
  dots before the @ are removed and a `+tag` is cut off (other domains keep both);
- phone: E.164 *with* the plus sign (Meta hashes the digits without it);
- address: given and family name (lowercase, no punctuation or whitespace, no "Mrs." / "Jr."),
  hashed; region code (ISO 3166-1 alpha-2, upper case) and postal code sent as they are, unhashed.

The result is the Data Manager `userData` object, `{"userIdentifiers": [{"emailAddress": h},
{"phoneNumber": h}]}`, kept beside Meta's hashes in the order's `user_data` under `GOOGLE_KEY`.
The address identifier (`{"address": {"givenName": h, "familyName": h, "regionCode": "NO",
"postalCode": "0150"}}`) is built only on request (`with_address`, `poas hash --google`): Google takes
the postal code unhashed, and poas keeps no contact data in plain text, so orders carry e-mail and
phone for Google, not the address.

Click ids are not personal data, but they come from URLs anyone can type: they are kept only when
they look like one (URL-safe characters, at most `CLICK_ID_MAX` long).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from hashlib import sha256
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from poas.domain.order import Customer
from poas.domain.pii import PiiError, norm_country, norm_phone

GOOGLE_KEY = "google"  # the key of the Google userData inside an order's stored user_data
CLICK_PARAMS = ("gclid", "gbraid", "wbraid")
CLICK_ID_MAX = 255
MAX_IDENTIFIERS = 10  # Data Manager: at most 10 user identifiers per userData
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_CLICK_ID = re.compile(r"[A-Za-z0-9._~-]+").fullmatch
_HEX64 = re.compile(r"[0-9a-f]{64}").fullmatch
_NAME_PREFIXES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "herr", "fru", "frk"})
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "phd", "md", "esq"})


def clean_click_id(value: str | None) -> str | None:
    """The click id trimmed, or None when it is empty, too long or has characters a click id never has."""
    if value is None:
        return None
    v = value.strip()
    if not v or len(v) > CLICK_ID_MAX or not _CLICK_ID(v):
        return None
    return v


def click_ids_from_url(url: str | None) -> dict[str, str]:
    """gclid / gbraid / wbraid from a landing URL's query (a bare path with a query works too)."""
    if not url or not any(p in url for p in CLICK_PARAMS):
        return {}
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    found: dict[str, str] = {}
    for name in CLICK_PARAMS:
        values = query.get(name)
        if values and (v := clean_click_id(values[0])):
            found[name] = v
    return found


def norm_email(value: str) -> str:
    """Google's e-mail form; raises PiiError (without the value) when it is not an address."""
    v = "".join(value.split()).lower()
    user, at, domain = v.rpartition("@")
    if not at or not user or "@" in user or "." not in domain.strip(".") or domain.startswith("."):
        raise PiiError("not a valid email address")
    if domain in GMAIL_DOMAINS:
        user = user.split("+", 1)[0].replace(".", "")
        if not user:
            raise PiiError("not a valid email address")
    return f"{user}@{domain}"


def norm_phone_e164(value: str, country: str | None = None) -> str:
    """E.164 with the plus sign; national numbers are completed from `country` (as for Meta)."""
    return "+" + norm_phone(value, country)


def _letters(value: str) -> list[str]:
    """Lowercase NFC words with punctuation and symbols removed."""
    low = unicodedata.normalize("NFC", value.strip().lower())
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in low)
    return kept.split()


def norm_given_name(value: str) -> str:
    words = _letters(value)
    if len(words) > 1 and words[0] in _NAME_PREFIXES:
        words = words[1:]
    if not words:
        raise PiiError("no letters in the name")
    return "".join(words)


def norm_family_name(value: str) -> str:
    words = _letters(value)
    while len(words) > 1 and words[-1] in _NAME_SUFFIXES:
        words = words[:-1]
    if not words:
        raise PiiError("no letters in the name")
    return "".join(words)


def norm_region(value: str) -> str:
    """ISO 3166-1 alpha-2 in upper case (names and alpha-3 codes mapped)."""
    return norm_country(value).upper()


def norm_postal_code(value: str) -> str:
    v = value.strip()
    if not v:
        raise PiiError("empty postal code")
    return v


def sha256_hex(normalized: str) -> str:
    """Lowercase hex SHA-256 of a normalized value; a value that already is such a hash is kept."""
    low = normalized.strip().lower()
    if len(low) == 64 and _HEX64(low):
        return low
    return sha256(normalized.encode()).hexdigest()


# `poas hash --google FIELD`: Meta's field names, Google's rules; country and zp are sent unhashed.
GOOGLE_FIELDS = ("em", "ph", "fn", "ln", "country", "zp")
GOOGLE_UNHASHED = frozenset({"country", "zp"})


def normalize_google(field: str, value: str, country: str | None = None) -> str:
    """One value in Google's form (see the module docstring); raises PiiError with a reason."""
    if field == "em":
        return norm_email(value)
    if field == "ph":
        return norm_phone_e164(value, country)
    if field == "fn":
        return norm_given_name(value)
    if field == "ln":
        return norm_family_name(value)
    if field == "country":
        return norm_region(value)
    if field == "zp":
        return norm_postal_code(value)
    raise PiiError(f"unknown field {field!r} (one of {', '.join(GOOGLE_FIELDS)})")


class GoogleUserData(NamedTuple):
    """Data Manager `userData` (None when nothing identifies the buyer) and the fields dropped, with
    a reason each (never the value)."""

    user_data: dict[str, Any] | None
    dropped: dict[str, str]


def google_user_data(
    customer: Customer, default_country: str | None = None, *, with_address: bool = False
) -> GoogleUserData:
    """The buyer's identifiers by Google's rules: e-mail and phone; with `with_address`, also the
    address when given name, family name, country and postal code are all known (Google requires the
    four together, the postal code unhashed). poas stores these on arrival, and it stores no contact
    data in plain text, so ingest leaves the address out (`poas hash --google` can still show it)."""
    ids: list[dict[str, Any]] = []
    dropped: dict[str, str] = {}
    country = _alpha2(customer.country) or _alpha2(default_country)
    if customer.email:
        try:
            ids.append({"emailAddress": sha256_hex(norm_email(customer.email))})
        except PiiError as exc:
            dropped["emailAddress"] = str(exc)
    if customer.phone:
        try:
            ids.append({"phoneNumber": sha256_hex(norm_phone_e164(customer.phone, country))})
        except PiiError as exc:
            dropped["phoneNumber"] = str(exc)
    address = _address(customer, dropped) if with_address else None
    if address is not None:
        ids.append({"address": address})
    return GoogleUserData({"userIdentifiers": ids[:MAX_IDENTIFIERS]} if ids else None, dropped)


def _address(customer: Customer, dropped: dict[str, str]) -> dict[str, str] | None:
    parts = (customer.first_name, customer.last_name, customer.country, customer.zip)
    if not all(parts):
        if any(parts):
            dropped["address"] = "given name, family name, country and postal code are needed together"
        return None
    first, last, country, postal = (p or "" for p in parts)
    try:
        return {
            "givenName": sha256_hex(norm_given_name(first)),
            "familyName": sha256_hex(norm_family_name(last)),
            "regionCode": norm_region(country),
            "postalCode": norm_postal_code(postal),
        }
    except PiiError as exc:
        dropped["address"] = str(exc)
        return None


def _alpha2(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return norm_country(value)
    except PiiError:
        return None


def identifiers(user_data: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The Google userIdentifiers kept in an order's stored user_data ([] when there are none)."""
    google = (user_data or {}).get(GOOGLE_KEY)
    if not isinstance(google, Mapping):
        return []
    ids = google.get("userIdentifiers")
    return [dict(i) for i in ids if isinstance(i, Mapping)] if isinstance(ids, list) else []
