"""Google's normalization and hashing: Google's own examples hash exactly (the Data Manager API's
"Format user data" page and the formatter tests of Google's data-manager utility library)."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poas.domain.google_identity import (
    CLICK_ID_MAX,
    GOOGLE_KEY,
    clean_click_id,
    click_ids_from_url,
    google_user_data,
    identifiers,
    norm_email,
    norm_family_name,
    norm_given_name,
    norm_phone_e164,
    norm_postal_code,
    norm_region,
    sha256_hex,
)
from poas.domain.order import Customer
from poas.domain.pii import PiiError, hash_field

# Google's published vectors (hex SHA-256 of the normalized value).
ALEXZ = "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a"  # alexz@example.com
PHONE_US = "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30"  # +18005550100
GIVEN = "128a07bfe2df877c52076e60d7774cf5baaa046c5a6c48daf30ff43ecca2f814"  # givenname
FAMILY = "77762c287e61ce065bee5c15464012c6fbe088398b8057627d5577249430d574"  # familyname


@pytest.mark.parametrize(
    "raw", ["alexz@example.com", "  alexz@example.com", "  ALEXZ@example.com   ", "  alexz@EXAMPLE.com   "]
)
def test_email_vector(raw: str) -> None:
    assert sha256_hex(norm_email(raw)) == ALEXZ


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("QuinnY@EXAMPLE.com", "quinny@example.com"),
        ("Jefferson.Loves.hiking@gmail.com", "jeffersonloveshiking@gmail.com"),
        ("Jefferson.LOVES.Hiking@googlemail.com", "jeffersonloveshiking@googlemail.com"),
        ("cloudy.sanfrancisco+shopping@gmail.com", "cloudysanfrancisco@gmail.com"),  # the docs' example
        ("user.name+NYC@Example.com", "user.name+nyc@example.com"),  # other domains keep dots and plus
        ("a.b@gmail.com.example", "a.b@gmail.com.example"),  # only the exact Gmail domains
    ],
)
def test_email_rules(raw: str, normalized: str) -> None:
    assert norm_email(raw) == normalized


def test_gmail_hash_differs_from_meta() -> None:
    """Meta keeps the dots; Google removes them: the two hashes of one address differ."""
    raw = "Kari.Nordmann@gmail.com"
    assert sha256_hex(norm_email(raw)) == sha256(b"karinordmann@gmail.com").hexdigest()
    assert hash_field("em", raw) == sha256(b"kari.nordmann@gmail.com").hexdigest()


@pytest.mark.parametrize("raw", ["", "  ", "quinn", " @googlemail.com", " ...@gmail.com", "+x@gmail.com"])
def test_email_invalid(raw: str) -> None:
    with pytest.raises(PiiError) as err:
        norm_email(raw)
    assert raw.strip() == "" or raw.strip() not in str(err.value)


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("+18005550100", None),
        ("   +1-800-555-0100", None),
        ("1-800-555-0100   ", "US"),
        ("(800)555-0100", "US"),
    ],
)
def test_phone_vector(raw: str, country: str | None) -> None:
    assert norm_phone_e164(raw, country) == "+18005550100"
    assert sha256_hex(norm_phone_e164(raw, country)) == PHONE_US


@pytest.mark.parametrize(
    ("raw", "e164"), [("+44-113-496-0987", "+441134960987"), ("412 98 765", "+4741298765")]
)
def test_phone_e164(raw: str, e164: str) -> None:
    assert norm_phone_e164(raw, "NO") == e164


def test_phone_hash_differs_from_meta() -> None:
    assert hash_field("ph", "+18005550100") == sha256(b"18005550100").hexdigest() != PHONE_US


def test_name_vectors() -> None:
    assert sha256_hex(norm_given_name("Givenname")) == GIVEN
    assert sha256_hex(norm_given_name("  GivenName  ")) == GIVEN
    assert sha256_hex(norm_family_name("Familyname")) == FAMILY
    assert sha256_hex(norm_family_name("  FamilyName ")) == FAMILY


@pytest.mark.parametrize(
    ("fn", "raw", "normalized"),
    [
        (norm_given_name, "Mrs. Jane", "jane"),
        (norm_given_name, "Mary-Ann", "maryann"),
        (norm_given_name, "Åse Marie", "åsemarie"),
        (norm_family_name, "Smith Jr.", "smith"),
        (norm_family_name, "O'Brien", "obrien"),
        (norm_family_name, "Øvrebø", "øvrebø"),
    ],
)
def test_name_rules(fn: object, raw: str, normalized: str) -> None:
    assert callable(fn)
    assert fn(raw) == normalized


def test_region_and_postal_code() -> None:
    assert norm_region(" us") == "US"
    assert norm_region(" uS ") == "US"
    assert norm_region("Norway") == "NO"
    assert norm_postal_code(" 1229-076  ") == "1229-076"
    with pytest.raises(PiiError):
        norm_region("Atlantis")


def test_user_data_shape() -> None:
    c = Customer(
        email=" Kari.Nordmann+sko@Gmail.com ",
        phone="412 98 765",
        first_name="Kari",
        last_name="Nordmann",
        zip="0150",
        country="NO",
    )
    result = google_user_data(c, with_address=True)
    assert result.dropped == {}
    assert result.user_data == {
        "userIdentifiers": [
            {"emailAddress": sha256(b"karinordmann@gmail.com").hexdigest()},
            {"phoneNumber": sha256(b"+4741298765").hexdigest()},
            {
                "address": {
                    "givenName": sha256(b"kari").hexdigest(),
                    "familyName": sha256(b"nordmann").hexdigest(),
                    "regionCode": "NO",
                    "postalCode": "0150",
                }
            },
        ]
    }
    text = repr(result)
    for raw in ("Kari", "Nordmann", "412 98 765", "Gmail"):
        assert raw not in text


def test_the_address_is_left_out_unless_asked_for() -> None:
    # Google takes the postal code unhashed; what poas stores on arrival holds no plain contact data
    c = Customer(email="kari@example.no", first_name="Kari", last_name="Nordmann", zip="0150", country="NO")
    result = google_user_data(c)
    assert result.user_data == {"userIdentifiers": [{"emailAddress": sha256(b"kari@example.no").hexdigest()}]}
    assert result.dropped == {} and "0150" not in repr(result)


def test_user_data_partial_and_dropped() -> None:
    c = Customer(email="not an address", phone="41298765", first_name="Kari")
    result = google_user_data(c, default_country="NO", with_address=True)
    assert result.user_data == {"userIdentifiers": [{"phoneNumber": sha256(b"+4741298765").hexdigest()}]}
    assert set(result.dropped) == {"emailAddress", "address"}
    assert "not an address" not in str(result.dropped)
    assert google_user_data(Customer()).user_data is None


def test_national_phone_without_country_is_dropped() -> None:
    result = google_user_data(Customer(phone="41298765"))
    assert result.user_data is None and "phoneNumber" in result.dropped


def test_identifiers_reads_stored_user_data() -> None:
    ids = [{"emailAddress": ALEXZ}]
    assert identifiers({"em": ["x"], GOOGLE_KEY: {"userIdentifiers": ids}}) == ids
    assert identifiers({"em": ["x"]}) == []
    assert identifiers(None) == []
    assert identifiers({GOOGLE_KEY: "junk"}) == []


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("https://shop.example/p?gclid=Cj0KCQiA_x-Y&utm_source=google", {"gclid": "Cj0KCQiA_x-Y"}),
        (
            "/products/sko?gbraid=0AAAAAoabc123&wbraid=CjkKCQiA1",
            {"gbraid": "0AAAAAoabc123", "wbraid": "CjkKCQiA1"},
        ),
        ("https://shop.example/?gclid=<script>", {}),
        ("https://shop.example/?gclid=" + "a" * (CLICK_ID_MAX + 1), {}),
        ("https://shop.example/?fbclid=abc", {}),
        (None, {}),
    ],
)
def test_click_ids_from_url(url: str | None, found: dict[str, str]) -> None:
    assert click_ids_from_url(url) == found


def test_clean_click_id() -> None:
    assert clean_click_id("  EAIaIQobChMI8_BwE ") == "EAIaIQobChMI8_BwE"
    assert clean_click_id("") is None
    assert clean_click_id("has space") is None
    assert clean_click_id("a" * CLICK_ID_MAX) == "a" * CLICK_ID_MAX


@pytest.mark.parametrize(
    ("args", "normalized", "digest"),
    [
        (["em", "  ALEXZ@example.com "], "alexz@example.com", ALEXZ),
        (["ph", "1-800-555-0100", "--country", "us"], "+18005550100", PHONE_US),
        (["fn", "  GivenName  "], "givenname", GIVEN),
        (["country", " no"], "NO", "(sent unhashed)"),
    ],
)
def test_poas_hash_google(args: list[str], normalized: str, digest: str) -> None:
    from typer.testing import CliRunner

    from poas.cli import app

    res = CliRunner().invoke(app, ["hash", *args, "--google"])
    assert res.exit_code == 0, res.output
    assert f"normalized  {normalized}" in res.output and f"sha256      {digest}" in res.output
    bad = CliRunner().invoke(app, ["hash", "db", "1990-01-01", "--google"])
    assert bad.exit_code == 1 and "Google's fields" in bad.output


@given(st.text(min_size=1, max_size=60))
@settings(max_examples=300, deadline=None)
def test_normal_forms_are_fixed_points_and_reasons_never_hold_the_value(raw: str) -> None:
    # a value with a digit or a symbol can never be a piece of a reason's fixed English words
    telling = len(raw.strip()) >= 3 and any(ch.isdigit() or ch in "@#$%&*" for ch in raw)
    for fn in (norm_email, norm_given_name, norm_family_name):
        try:
            once = fn(raw)
        except PiiError as exc:
            assert not telling or raw.strip() not in str(exc)
            continue
        assert fn(once) == once
    result = google_user_data(Customer(email=raw, phone=raw, first_name=raw, last_name=raw, zip=raw))
    assert not telling or raw.strip() not in str(result.dropped)
