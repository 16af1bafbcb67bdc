"""Data Manager API errors classified once (auth/permission/destination → pause, quota → throttle,
an invalid event → bisect-and-dead, 5xx → retry), the request body spliced from stored events, and the
sandbox's payload checks."""

from __future__ import annotations

import json

import pytest

from poas.domain.delivery_errors import Disposition
from poas.domain.destinations import (
    GOOGLE_ADS,
    META_PIXEL,
    destination_kind,
    google_destination_id,
    parse_google_destination,
)
from poas.google.datamanager import GoogleCredentials, request_body
from poas.google.errors import from_response
from poas.google.sandbox_checks import check_request

HEX = "a" * 64


def _status(code: int, status: str, fields: tuple[str, ...] = ()) -> bytes:
    details: list[dict[str, object]] = [
        {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "r-1"}
    ]
    if fields:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": f, "reason": "BAD"} for f in fields],
            }
        )
    return json.dumps(
        {"error": {"code": code, "message": "m", "status": status, "details": details}}
    ).encode()


@pytest.mark.parametrize(
    ("code", "status", "fields", "expected"),
    [
        (401, "UNAUTHENTICATED", (), Disposition.PAUSE),
        (403, "PERMISSION_DENIED", (), Disposition.PAUSE),
        (404, "NOT_FOUND", (), Disposition.PAUSE),
        (400, "INVALID_ARGUMENT", ("destinations[0].productDestinationId",), Disposition.PAUSE),
        (400, "INVALID_ARGUMENT", ("events[3].currency",), Disposition.INVALID),
        (429, "RESOURCE_EXHAUSTED", (), Disposition.THROTTLE),
        (503, "UNAVAILABLE", (), Disposition.RETRY),
        (500, "INTERNAL", (), Disposition.RETRY),
        (400, "FAILED_PRECONDITION", (), Disposition.DEAD),
    ],
)
def test_classification(code: int, status: str, fields: tuple[str, ...], expected: Disposition) -> None:
    err = from_response(code, _status(code, status, fields), ("secret-token",))
    assert err.disposition is expected
    assert err.fbtrace_id == "r-1"
    assert status in err.describe() and "requestId r-1" in err.describe()


def test_a_non_json_5xx_is_retried_and_secrets_never_appear() -> None:
    err = from_response(502, b"<html>bad gateway secret-token</html>", ("secret-token",))
    assert err.disposition is Disposition.RETRY
    assert "secret-token" not in err.describe()


def test_destination_ids_and_kinds() -> None:
    dest = google_destination_id("123-456-7890", "987")
    assert dest == "gads:1234567890:987"
    assert destination_kind(dest) == GOOGLE_ADS and destination_kind("1234567890") == META_PIXEL
    assert parse_google_destination(dest) == ("1234567890", "987")
    with pytest.raises(ValueError, match="10 digits"):
        google_destination_id("12345", "987")


def test_request_body_is_spliced_from_stored_events_and_valid() -> None:
    event = {
        "transactionId": "1001",
        "eventTimestamp": "2026-12-01T10:00:00Z",
        "conversionValue": 123.45,
        "currency": "NOK",
        "adIdentifiers": {"gclid": "abc"},
        "userData": {"userIdentifiers": [{"emailAddress": HEX}]},
        "consent": {"adUserData": "CONSENT_GRANTED"},
    }
    creds = GoogleCredentials("c", "s", "r", login_customer_id="1112223333", validate_only=True)
    body = json.loads(request_body("gads:1234567890:987", [json.dumps(event)], creds))
    assert body["destinations"] == [
        {
            "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
            "productDestinationId": "987",
            "loginAccount": {"accountType": "GOOGLE_ADS", "accountId": "1112223333"},
        }
    ]
    assert body["events"] == [event] and body["encoding"] == "HEX" and body["validateOnly"] is True
    assert check_request(body) == []


def test_sandbox_checks_name_the_bad_fields() -> None:
    bad = {
        "transactionId": "",
        "eventTimestamp": "2026-12-01 10:00",  # no time zone
        "conversionValue": -1,
        "userData": {"userIdentifiers": [{"emailAddress": "Kari@Example.no"}]},  # not hashed
        "consent": {"adUserData": "YES"},
    }
    body = {
        "destinations": [
            {
                "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
                "productDestinationId": "987",
            }
        ],
        "events": [bad],
        "encoding": "HEX",
    }
    fields = {v["field"] for v in check_request(body)}
    assert fields == {
        "events[0].transactionId",
        "events[0].eventTimestamp",
        "events[0].conversionValue",
        "events[0].currency",
        "events[0].userData.userIdentifiers[0].emailAddress",
        "events[0].consent.adUserData",
    }
    assert check_request({**body, "events": [{}] * 2001})[-1]["reason"] == "TOO_MANY_ELEMENTS"
