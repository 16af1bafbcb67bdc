"""Contact data → Meta's `user_data`: normalization per Meta's rules, then SHA-256 (lowercase hex).

Nothing here logs a raw value or puts one in an error or a drop reason. Values that are already SHA-256
hashes pass through unchanged.

Hashes of the low-identifying fields (first and last name, gender, city, state, postal code,
country) are memoized in process memory, bounded per field: these values repeat from order to order
(a shop sees the same few thousand cities and first names again and again), and their hashes are as
easy to reverse as the values themselves (a dictionary of names is a rainbow table). Email, phone,
external id and date of birth identify a person, so they are never memoized: their raw values live
only inside one call.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime
from functools import partial
from hashlib import sha256
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

import phonenumbers

from poas.domain.order import Attribution, Customer
from poas.domain.regions import ALPHA2, ALPHA3_TO_2, COUNTRY_NAMES, STATE_CODES, STATE_NAMES

HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")
FIELD_NAMES = frozenset((*HASHED, "fbc", "fbp", "client_ip_address", "client_user_agent"))


class PiiError(ValueError):
    """A value that cannot be normalized; the message is a reason without the value itself."""


_FBCLID = re.compile(r"[?&]fbclid=([^&#]+)").search
_HEX64 = re.compile(r"[0-9a-f]{64}").fullmatch
_EMAIL = re.compile(r"[^\s@]+@[^\s@.][^\s@]*\.[^\s@.]{2,}").fullmatch
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
).fullmatch
_NON_DIGIT = re.compile(r"\D+")
_DIGIT_GROUPS = re.compile(r"\d+").findall
_NON_LETTER_ASCII = re.compile(r"[^a-z]+")
_ASCII_LETTERS_DIGITS = re.compile(r"[^a-z0-9]+")
_PUNCT_ASCII = str.maketrans("", "", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\r\n\f\v")
_FEMALE = "f female woman women girl w k kvinne kvinna kone frau weiblich femme femenino mujer"
_MALE = "m male man men boy mann mand herr männlich homme masculino hombre"
_GENDER = {**dict.fromkeys(_FEMALE.split(), "f"), **dict.fromkeys(_MALE.split(), "m")}


def _strip_name(value: str) -> str:
    """Lowercase, NFC, punctuation and spaces removed, letters of any script kept."""
    low = value.lower().translate(_PUNCT_ASCII)
    if low.isascii() or low.isalnum():
        return low if low.isascii() else unicodedata.normalize("NFC", low)
    low = unicodedata.normalize("NFC", low)
    return "".join(ch for ch in low if unicodedata.category(ch)[0] not in "PZCS")


def _unaccented(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def norm_email(value: str) -> str:
    v = value.strip().lower()
    if not _EMAIL(v):
        raise PiiError("not a valid email address")
    return v


def norm_phone(value: str, country: str | None = None) -> str:
    """Digits with the country code; national numbers are completed from `country`."""
    raw = value.strip().replace("(0)", "")  # "+47 (0)912…": a trunk zero written inside the number
    digits = _NON_DIGIT.sub("", raw)
    if not digits:
        raise PiiError("no digits in the phone number")
    if raw.startswith("+") or digits.startswith("00"):
        number = digits.lstrip("0")
        if not 7 <= len(number) <= 15 or not _possible_international(number):
            raise PiiError("not a possible international phone number")
        return number
    if country is None:
        raise PiiError("national phone number and no country to complete it")
    region = _region(country.upper())
    if region is not None:  # fast path: a plain national number, no doubt about a country code inside
        cc, prefix, lengths, idd = region
        national = digits[len(prefix) :] if prefix and digits.startswith(prefix) else digits
        ambiguous = digits.startswith(cc) and len(digits) - len(cc) in lengths
        if len(national) in lengths and not ambiguous and not digits.startswith(idd):
            return cc + national
    try:
        parsed = phonenumbers.parse(raw, country.upper())
    except phonenumbers.NumberParseException:
        raise PiiError("not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise PiiError(f"not a possible phone number for {country.upper()}")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))[1:]


_CALLING: dict[int, frozenset[int]] = {}


def _possible_international(number: str) -> bool:
    """A known country calling code followed by a national number of a possible length."""
    for n in (1, 2, 3):
        code = int(number[:n])
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if not regions:
            continue
        lengths = _CALLING.get(code)
        if lengths is None:
            found: set[int] = set()
            for region in regions:
                meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
                if meta is not None and meta.general_desc is not None:
                    found.update(meta.general_desc.possible_length)
                    found.update(meta.general_desc.possible_length_local_only)  # libphonenumber: possible
            lengths = _CALLING[code] = frozenset(found)
        return len(number) - n in lengths
    return False


_REGIONS: dict[str, tuple[str, str, frozenset[int], str] | None] = {}


def _region(code: str) -> tuple[str, str, frozenset[int], str] | None:
    """(calling code, trunk prefix, possible national lengths, IDD prefix) when the simple rule is safe.

    Phone-numbering metadata only (no personal data), so it is kept between calls.
    """
    if code in _REGIONS:
        return _REGIONS[code]
    meta = phonenumbers.PhoneMetadata.metadata_for_region(code)
    info = None
    if meta is not None:
        prefix = meta.national_prefix or ""
        parse_prefix = meta.national_prefix_for_parsing
        desc = meta.general_desc
        idd = meta.international_prefix or ""
        if (
            desc is not None
            and (prefix.isdigit() or not prefix)
            and parse_prefix in (None, prefix)
            and idd.isdigit()  # a pattern (e.g. Finland's 99x carrier codes) needs the full parser
        ):
            info = (str(meta.country_code), prefix, frozenset(desc.possible_length), idd)
    _REGIONS[code] = info
    return info


def norm_name(value: str) -> str:
    v = _strip_name(value)
    if not v:
        raise PiiError("no letters in the name")
    return v


def norm_city(value: str) -> str:
    v = _strip_name(value)
    v = "".join(ch for ch in v if not ch.isdigit())
    if not v:
        raise PiiError("no letters in the city")
    return v


def norm_state(value: str, country: str | None = None) -> str:
    """US/CA: the 2-letter code (names mapped); elsewhere lowercase letters only."""
    low = value.strip().lower()
    if country in (None, "us", "ca"):
        key = " ".join(low.replace(".", " ").split())
        code = STATE_NAMES.get(key) or STATE_NAMES.get(_unaccented(key))
        if code:
            return code
        letters = _NON_LETTER_ASCII.sub("", low)
        if letters in STATE_CODES:
            return letters
    v = _strip_name(low)
    if not v:
        raise PiiError("no letters in the state")
    return v


def norm_zip(value: str, country: str | None = None) -> str:
    """Lowercase without spaces and dashes; US: the first 5 digits (the part before '-')."""
    low = value.strip().lower()
    if country == "us" or (country is None and "-" in low and low.split("-", 1)[0].strip().isdigit()):
        low = low.split("-", 1)[0]
    v = "".join(low.split()).replace("-", "")
    if country == "us":
        v = v[:5]
    if len(v) < 2:
        raise PiiError("postal code too short")
    return v


def norm_country(value: str) -> str:
    low = value.strip().lower()
    if len(low) == 2 and low in ALPHA2:
        return low
    code = ALPHA3_TO_2.get(low) if len(low) == 3 else None
    code = code or COUNTRY_NAMES.get(" ".join(low.split()))
    if code is None:
        raise PiiError("unknown country")
    return code


def norm_gender(value: str) -> str:
    g = _GENDER.get(value.strip().lower())
    if g is None:
        raise PiiError("gender not recognised (expected f/m or a synonym)")
    return g


def norm_birthdate(value: str | date, country: str | None = None, *, max_year: int | None = None) -> str:
    """YYYYMMDD from ISO, D.M.Y, M/D/Y (US, or when the day comes second), YYYYMMDD or a date."""
    if isinstance(value, date):
        d = value.date() if isinstance(value, datetime) else value
    else:
        groups = _DIGIT_GROUPS(value)
        if len(groups) == 1 and len(groups[0]) == 8:
            g = groups[0]
            groups = [g[:4], g[4:6], g[6:]]
        if len(groups) != 3:
            raise PiiError("date of birth not in a known format")
        a, b, c = (int(x) for x in groups)
        if len(groups[0]) == 4:
            y, m, dd = a, b, c
        elif len(groups[2]) == 4:
            y = c
            if a > 12 or (b <= 12 and country != "us"):
                dd, m = a, b
            else:
                m, dd = a, b
        else:
            raise PiiError("date of birth needs a 4-digit year")
        try:
            d = date(y, m, dd)
        except ValueError:
            raise PiiError("date of birth is not a real date") from None
    if d.year < 1900 or (max_year is not None and d.year > max_year):
        raise PiiError("date of birth year out of range")
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def norm_external_id(value: str) -> str:
    v = "".join(value.split()).lower()
    if not v:
        raise PiiError("empty external id")
    return v


def normalize(field: str, value: str, country: str | None = None, *, max_year: int | None = None) -> str:
    """The normalized form of one value (not hashed). Raises PiiError with a reason."""
    if field == "db":
        return norm_birthdate(value, country, max_year=max_year)
    fn = _NORMALIZERS.get(field)
    if fn is None:
        raise PiiError(f"unknown field {field!r} (one of {', '.join(HASHED)})")
    return fn(value, country)


_NORMALIZERS: dict[str, Callable[[str, str | None], str]] = {
    "em": lambda v, c: norm_email(v),
    "ph": norm_phone,
    "fn": lambda v, c: norm_name(v),
    "ln": lambda v, c: norm_name(v),
    "ct": lambda v, c: norm_city(v),
    "st": norm_state,
    "zp": norm_zip,
    "country": lambda v, c: norm_country(v),
    "ge": lambda v, c: norm_gender(v),
    "external_id": lambda v, c: norm_external_id(v),
}


def hash_field(field: str, value: str, country: str | None = None, *, max_year: int | None = None) -> str:
    """SHA-256 of the normalized value; a value that already is a SHA-256 hash is returned as is."""
    return _hash_one(partial(_normalize_in, field, max_year=max_year), value, country)


def _normalize_in(field: str, value: str, country: str | None, *, max_year: int | None) -> str:
    return normalize(field, value, country, max_year=max_year)


class UserDataResult(NamedTuple):
    """CAPI `user_data` (hashed where Meta requires it) and the fields dropped, with a reason each."""

    user_data: dict[str, Any]
    dropped: dict[str, str]


def _values(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [v for v in value if isinstance(v, str) and v.strip()]


def _country_code(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return norm_country(value)
    except PiiError:
        return None


def fbclid_from_url(url: str | None) -> str | None:
    """The `fbclid` query parameter of a landing URL (case kept)."""
    if not url or "fbclid=" not in url:
        return None
    m = _FBCLID(url)
    if m is None:
        return None
    value = m.group(1)
    return unquote_plus(value) if "%" in value or "+" in value else value


def fbc_from_fbclid(fbclid: str, created_at: datetime) -> str:
    """fb.1.<creation time ms>.<fbclid> (Meta: never change the fbclid's case)."""
    return f"fb.1.{int(created_at.timestamp() * 1000)}.{fbclid}"


MEMO_MAX = 50_000  # values per memoized field (and country); the memo is cleared when full
_Memo = dict[str | None, dict[str, str]]  # country context -> raw value -> hash


def _memo() -> _Memo:
    return {}


# (user_data key, Customer attribute, normalizer, memo or None, normalizer depends on the country)
_PLAN: tuple[tuple[str, str, Callable[[str, str | None], str], _Memo | None, bool], ...] = (
    ("em", "email", _NORMALIZERS["em"], None, False),
    ("ph", "phone", norm_phone, None, True),
    ("fn", "first_name", _NORMALIZERS["fn"], _memo(), False),
    ("ln", "last_name", _NORMALIZERS["ln"], _memo(), False),
    ("ge", "gender", _NORMALIZERS["ge"], _memo(), False),
    ("db", "date_of_birth", norm_birthdate, None, False),
    ("ct", "city", _NORMALIZERS["ct"], _memo(), False),
    ("st", "state", norm_state, _memo(), True),
    ("zp", "zip", norm_zip, _memo(), True),
    ("country", "country", _NORMALIZERS["country"], _memo(), False),
    ("external_id", "external_id", _NORMALIZERS["external_id"], None, False),
)
_COUNTRY_CODES: dict[str, str | None] = {}


def clear_memos() -> None:
    """Forget every memoized hash (tests; a long-running process never needs to)."""
    for entry in _PLAN:
        if entry[3] is not None:
            entry[3].clear()
    _COUNTRY_CODES.clear()


def _hash_one(fn: Callable[[str, str | None], str], value: str, ctx: str | None) -> str:
    if len(value) >= 64:
        stripped = value.strip().lower()
        if _HEX64(stripped):
            return stripped
    return sha256(fn(value, ctx).encode()).hexdigest()


def _hash_memoized(memo: _Memo, fn: Callable[[str, str | None], str], value: str, ctx: str | None) -> str:
    bucket = memo.get(ctx)
    if bucket is None:
        bucket = memo[ctx] = {}
    h = bucket.get(value)
    if h is None:
        h = _hash_one(fn, value, ctx)  # a PiiError is not memoized: it is rare and says why each time
        if len(bucket) >= MEMO_MAX:
            bucket.clear()
        bucket[value] = h
    return h


def _order_country(value: str | None) -> str | None:
    """ISO alpha-2 (lowercase) of an order's country field, or None; country names are not personal."""
    if not value:
        return None
    code = _COUNTRY_CODES.get(value, "")
    if code == "":
        code = _country_code(value)
        if len(_COUNTRY_CODES) >= MEMO_MAX:
            _COUNTRY_CODES.clear()
        _COUNTRY_CODES[value] = code
    return code


def hash_user_data(
    customer: Customer,
    attribution: Attribution,
    default_country: str | None,
    *,
    event_time: datetime | None = None,
) -> UserDataResult:
    """Build CAPI user_data from an order's contact data; `event_time` dates an fbc built from fbclid."""
    user_data: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    country = _order_country(customer.country)
    phone_country = country or _order_country(default_country)
    for key, attr, fn, memo, by_country in _PLAN:
        raw = getattr(customer, attr)
        if not raw:
            continue
        ctx = (phone_country if key == "ph" else country) if by_country else None
        if key == "db":
            fn = partial(norm_birthdate, max_year=event_time.year if event_time is not None else None)
        if raw.__class__ is str:  # the common case, kept short: one value
            try:
                h = _hash_one(fn, raw, ctx) if memo is None else _hash_memoized(memo, fn, raw, ctx)
            except PiiError as exc:
                dropped[key] = str(exc)
                continue
            user_data[key] = [h]
            continue
        hashes: list[str] = []
        for value in _values(raw):
            try:
                h = _hash_one(fn, value, ctx) if memo is None else _hash_memoized(memo, fn, value, ctx)
            except PiiError as exc:
                dropped[key] = str(exc)
                continue
            if h not in hashes:
                hashes.append(h)
        if hashes:
            user_data[key] = hashes
    _add_browser_fields(attribution, event_time, user_data, dropped)
    return UserDataResult(user_data, dropped)


def _add_browser_fields(
    attribution: Attribution, event_time: datetime | None, user_data: dict[str, Any], dropped: dict[str, str]
) -> None:
    """fbc, fbp, IP and user agent: sent raw, as Meta requires."""
    fbc = attribution.fbc
    if fbc:
        fbc = fbc.strip()
    if not fbc:
        fbclid = attribution.fbclid or fbclid_from_url(attribution.landing_url)
        if fbclid and event_time is not None:
            fbc = fbc_from_fbclid(fbclid.strip(), event_time)
        elif fbclid:
            dropped["fbc"] = "fbclid without an order time to date it"
    if fbc:
        user_data["fbc"] = fbc
    fbp = attribution.fbp
    if fbp and (fbp := fbp.strip()):
        user_data["fbp"] = fbp
    ip = attribution.client_ip
    if ip and (ip := ip.strip()):
        if _IPV4(ip):
            user_data["client_ip_address"] = ip
        else:
            try:
                user_data["client_ip_address"] = str(ipaddress.ip_address(ip))
            except ValueError:
                dropped["client_ip_address"] = "not a valid IPv4 or IPv6 address"
    ua = attribution.user_agent
    if ua and (ua := ua.strip()):
        user_data["client_user_agent"] = ua
