"""PII normalization and hashing: Meta's documented vectors, the SDK as an oracle, and our own rules."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime

import pytest
from facebook_business.adobjects.serverside.normalize import Normalize
from hypothesis import assume, given
from hypothesis import strategies as st

from poas.domain.order import Attribution, Customer
from poas.domain.pii import PiiError, hash_field, hash_user_data, normalize

# Meta's customer-information page (reference/meta-capi.md §10)
META_VECTORS = [
    ("em", "John_Smith@gmail.com", "us", "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
    ("ph", "(650)555-1212", "us", "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
    ("fn", "Mary", None, "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
    ("fn", "정", None, "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
    ("fn", "Valéry", None, "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    ("ph", "+1 234 567 8901", None, "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4"),
]


@pytest.mark.parametrize(("field", "value", "country", "expected"), META_VECTORS)
def test_meta_documented_vectors(field: str, value: str, country: str | None, expected: str) -> None:
    assert hash_field(field, value, country) == expected


def test_nfd_input_gives_the_nfc_hash() -> None:
    nfd = unicodedata.normalize("NFD", "Valéry")
    assert nfd != "Valéry"
    assert hash_field("fn", nfd) == META_VECTORS[4][3]


# Where the SDK applies Meta's documented rule, our hash must equal its hash.
SDK_CASES = [
    ("em", "John_Smith@gmail.com"),
    ("em", "  Joe.Bloggs+ads@Example.co.uk "),
    ("fn", "Mary"),
    ("fn", "ÅSE"),
    ("ln", "Valéry"),
    ("ln", "Smith"),
    ("ct", "New York"),
    ("ct", "Tromsø"),
    ("ct", "San Francisco"),
    ("zp", "37221-3312"),
    ("zp", "SW1A 1AA"),
    ("zp", "0150"),
    ("country", "US"),
    ("country", " no "),
    ("st", "CA"),
    ("ph", "+1 (650) 555-1212"),
    ("ph", "0047 912 34 567"),
]


@pytest.mark.parametrize(("field", "value"), SDK_CASES)
def test_same_hash_as_the_sdk(field: str, value: str) -> None:
    assert hash_field(field, value) == Normalize.normalize_field(field, value)


@given(st.emails())
def test_emails_match_the_sdk(email: str) -> None:
    assert hash_field("em", email) == Normalize.normalize_field("em", email)


@pytest.mark.parametrize(
    ("field", "value", "country", "normalized"),
    [
        ("ph", "(650)555-1212", "us", "16505551212"),
        ("ph", "912 34 567", "no", "4791234567"),
        ("ph", "+47 (0)912 34 567", None, "4791234567"),
        ("ph", "0047 91234567", None, "4791234567"),
        ("ph", "4791234567", "no", "4791234567"),
        ("ph", "06 1234 5678", "it", "390612345678"),  # Italy keeps its leading zero
        ("ph", "020 7946 0958", "gb", "442079460958"),
        ("fn", "Anne-Marie", None, "annemarie"),
        ("ln", "O'Brien", None, "obrien"),
        ("ln", "van der Berg", None, "vanderberg"),
        ("ge", "Female", None, "f"),
        ("ge", "Kvinne", None, "f"),
        ("ge", "M", None, "m"),
        ("db", "1997-02-16", None, "19970216"),
        ("db", "16.02.1997", "no", "19970216"),
        ("db", "02/16/1997", "us", "19970216"),
        ("db", "03/04/1997", "us", "19970304"),
        ("db", "03/04/1997", "gb", "19970403"),
        ("db", "19970216", None, "19970216"),
        ("st", "California", "us", "ca"),
        ("st", "Québec", None, "qc"),
        ("st", " N.Y. ", "us", "ny"),
        ("st", "Oslo", "no", "oslo"),
        ("zp", "37221-3312", "us", "37221"),
        ("zp", "00-950", "pl", "00950"),
        ("country", "Norway", None, "no"),
        ("country", "United States of America", None, "us"),
        ("country", "NOR", None, "no"),
        ("country", "Norge", None, "no"),
        ("ct", "Saint-Denis", None, "saintdenis"),
        ("external_id", " Cust-42 ", None, "cust-42"),
    ],
)
def test_normalization_rules(field: str, value: str, country: str | None, normalized: str) -> None:
    assert normalize(field, value, country) == normalized


@pytest.mark.parametrize(
    ("field", "value", "country"),
    [
        ("em", "not-an-email", None),
        ("em", "a@b", None),
        ("ph", "555-1212", None),  # national number, no country to complete it
        ("ph", "12", "no"),
        ("ph", "+12", None),
        ("ge", "unknown", None),
        ("db", "31.02.1990", None),
        ("db", "1990", None),
        ("db", "1850-01-01", None),
        ("country", "Atlantis", None),
        ("fn", "...", None),
    ],
)
def test_invalid_values_raise_without_the_value(field: str, value: str, country: str | None) -> None:
    with pytest.raises(PiiError) as exc:
        normalize(field, value, country)
    assert value.strip() not in str(exc.value) or value.strip() in ("...",)


def test_already_hashed_values_pass_through() -> None:
    h = hashlib.sha256(b"john@example.com").hexdigest()
    assert hash_field("em", h) == h
    assert hash_field("ph", h.upper()) == h


ORDER_TIME = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_hash_user_data_full() -> None:
    customer = Customer(
        email="John_Smith@gmail.com",
        phone="912 34 567",
        first_name="Valéry",
        last_name="Nordmann",
        city="Oslo",
        zip="0150",
        country="NO",
        external_id="42",
        gender="female",
        date_of_birth="16.02.1997",
    )
    attribution = Attribution(
        landing_url="https://shop.example/p?utm_source=fb&fbclid=IwAR0AbCdEf",
        fbp="fb.1.1596403881668.1116446470",
        client_ip="2001:db8::1",
        user_agent="Mozilla/5.0",
    )
    result = hash_user_data(customer, attribution, "NO", event_time=ORDER_TIME)
    ud = result.user_data
    assert ud["em"] == [META_VECTORS[0][3]]
    assert ud["ph"] == [hashlib.sha256(b"4791234567").hexdigest()]
    assert ud["fn"] == [META_VECTORS[4][3]]
    assert ud["country"] == [hashlib.sha256(b"no").hexdigest()]
    assert ud["db"] == [hashlib.sha256(b"19970216").hexdigest()]
    assert ud["ge"] == [hashlib.sha256(b"f").hexdigest()]
    assert ud["external_id"] == [hashlib.sha256(b"42").hexdigest()]
    assert ud["fbc"] == f"fb.1.{int(ORDER_TIME.timestamp() * 1000)}.IwAR0AbCdEf"  # fbclid case kept
    assert ud["fbp"] == "fb.1.1596403881668.1116446470"
    assert ud["client_ip_address"] == "2001:db8::1"
    assert ud["client_user_agent"] == "Mozilla/5.0"
    assert result.dropped == {}


def test_existing_fbc_wins_over_fbclid() -> None:
    attribution = Attribution(fbc="fb.1.1554763741205.AbC", fbclid="Other")
    assert hash_user_data(Customer(), attribution, None, event_time=ORDER_TIME).user_data == {
        "fbc": "fb.1.1554763741205.AbC"
    }


def test_dropped_fields_have_reasons_and_no_raw_values() -> None:
    customer = Customer(email="john@", phone="555-1212", gender="x", first_name="Ann")
    result = hash_user_data(customer, Attribution(client_ip="300.1.1.1", fbclid="Abc"), None)
    assert set(result.dropped) == {"em", "ph", "ge", "client_ip_address", "fbc"}
    text = " ".join(result.dropped.values())
    for raw in ("john@", "555-1212", "300.1.1.1", "Abc"):
        assert raw not in text
    assert list(result.user_data) == ["fn"]


def test_lists_of_values_are_hashed_and_deduplicated() -> None:
    customer = Customer(email=["a@x.no", " A@x.no", "b@x.no"])  # type: ignore[arg-type]
    ud = hash_user_data(customer, Attribution(), None).user_data
    assert ud["em"] == [hashlib.sha256(b"a@x.no").hexdigest(), hashlib.sha256(b"b@x.no").hexdigest()]


def test_phone_completed_from_default_country_when_customer_has_none() -> None:
    ud = hash_user_data(Customer(phone="912 34 567"), Attribution(), "NO").user_data
    assert ud["ph"] == [hashlib.sha256(b"4791234567").hexdigest()]
    assert "country" not in ud  # the default completes phones; it is not claimed as the customer's


@given(
    st.sampled_from(
        ["NO", "US", "DE", "SE", "FR", "IT", "DK", "NL", "ES", "PL", "FI", "AT", "IN", "GB", "AU"]
    ),
    st.text(alphabet="0123456789", min_size=4, max_size=14),
)
def test_national_phone_fast_path_agrees_with_libphonenumber(region: str, digits: str) -> None:
    import phonenumbers

    assume(not digits.startswith("00"))  # we read 00 as an international prefix everywhere (Meta's rule)
    try:
        parsed = phonenumbers.parse(digits, region)
        expected = (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
            if phonenumbers.is_possible_number(parsed)
            else None
        )
    except phonenumbers.NumberParseException:
        expected = None
    try:
        got: str | None = normalize("ph", digits, region.lower())
    except PiiError:
        got = None
    assert got == expected


def test_memo_never_holds_identifying_fields() -> None:
    """Only low-identifying fields are memoized; email, phone, external id and birth date never."""
    from poas.domain import pii

    memoized = {key for key, _attr, _fn, memo, _by in pii._PLAN if memo is not None}
    assert memoized == {"fn", "ln", "ge", "ct", "st", "zp", "country"}
    pii.clear_memos()
    customer = Customer(
        email="kari@example.no", phone="912 34 567", first_name="Kari", zip="0150", external_id="7"
    )
    hash_user_data(customer, Attribution(), "NO")
    memos = [memo for _k, _a, _f, memo, _b in pii._PLAN if memo]
    held = {value for memo in memos for bucket in memo.values() for value in bucket}
    assert held == {"Kari", "0150"}


def test_memoized_hashes_equal_fresh_ones_and_depend_on_country() -> None:
    from poas.domain import pii

    pii.clear_memos()
    us = Customer(zip="12345-6789", state="California", country="US", first_name="Ann")
    other = Customer(zip="12345-6789", state="California", country="NO", first_name="Ann")
    first = hash_user_data(us, Attribution(), None).user_data
    for _ in range(2):  # the second round is answered from the memo
        assert hash_user_data(us, Attribution(), None).user_data == first
        assert first["zp"] == [hash_field("zp", "12345-6789", "us")]
        assert first["st"] == [hash_field("st", "California", "us")]
        no = hash_user_data(other, Attribution(), None).user_data
        assert no["zp"] == [hash_field("zp", "12345-6789", "no")] != first["zp"]
        assert no["st"] != first["st"]


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from poas.domain import pii

    pii.clear_memos()
    monkeypatch.setattr(pii, "MEMO_MAX", 10)
    for i in range(25):
        ud = hash_user_data(Customer(first_name=f"Name{i}"), Attribution(), None).user_data
        assert ud["fn"] == [hashlib.sha256(f"name{i}".encode()).hexdigest()]
    fn_memo = next(memo for key, _a, _f, memo, _b in pii._PLAN if key == "fn")
    assert fn_memo is not None
    assert 0 < sum(len(bucket) for bucket in fn_memo.values()) <= 10
