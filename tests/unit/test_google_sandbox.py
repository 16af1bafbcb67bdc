"""The Google sandbox behaves like the documented API: OAuth refresh-token grant, Bearer auth,
validateOnly, unknown account / conversion action, restatement by transactionId; and what poas makes of
its answers (`poas.google.errors`)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from poas.domain.delivery_errors import Disposition
from poas.google.errors import from_response
from poas.google.sandbox import DEFAULT_CLIENT, DEFAULT_REFRESH_TOKEN, create_google_sandbox_app


def _client() -> tuple[TestClient, dict[str, str]]:
    client = TestClient(create_google_sandbox_app())
    token = client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "client_id": DEFAULT_CLIENT[0],
            "client_secret": DEFAULT_CLIENT[1],
            "refresh_token": DEFAULT_REFRESH_TOKEN,
        },
    ).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    return client, {"Authorization": f"Bearer {token['access_token']}"}


def _body(
    account: str = "1234567890", action: str = "111111111", value: float = 10.0, **extra: Any
) -> dict[str, Any]:
    return {
        "destinations": [
            {
                "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": account},
                "productDestinationId": action,
            }
        ],
        "events": [
            {
                "transactionId": "T1",
                "eventTimestamp": "2026-12-01T10:00:00+01:00",
                "conversionValue": value,
                "currency": "NOK",
                "adIdentifiers": {"gclid": "abc"},
            }
        ],
        **extra,
    }


def test_validate_only_checks_without_recording() -> None:
    client, auth = _client()
    ok = client.post("/v1/events:ingest", json=_body(validateOnly=True), headers=auth)
    assert ok.status_code == 200 and ok.json() == {}
    assert client.get("/_sandbox/events").json()["count"] == 0


def test_same_transaction_id_restates_and_other_actions_count_apart() -> None:
    client, auth = _client()
    first = client.post("/v1/events:ingest", json=_body(value=10.0), headers=auth)
    assert first.status_code == 200 and first.json()["requestId"]
    client.post("/v1/events:ingest", json=_body(value=7.5), headers=auth)
    client.post("/v1/events:ingest", json=_body(action="222222222"), headers=auth)
    rows = {
        (r["destination"], r["transaction_id"]): r for r in client.get("/_sandbox/conversions").json()["data"]
    }
    assert rows[("gads:1234567890:111111111", "T1")] == {
        "destination": "gads:1234567890:111111111",
        "transaction_id": "T1",
        "value": 7.5,
        "currency": "NOK",
        "first_value": 10.0,
        "restatements": 1,
    }
    assert rows[("gads:1234567890:222222222", "T1")]["restatements"] == 0
    kinds = [e["kind"] for e in client.get("/_sandbox/events").json()["data"]]
    assert kinds == ["conversion", "restatement", "conversion"]


def test_auth_account_and_action_errors_classify_as_pause() -> None:
    client, auth = _client()
    bad_token = client.post("/v1/events:ingest", json=_body(), headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    no_account = client.post("/v1/events:ingest", json=_body(account="9999999999"), headers=auth)
    assert no_account.json()["error"]["status"] == "PERMISSION_DENIED"
    no_action = client.post("/v1/events:ingest", json=_body(action="333"), headers=auth)
    assert no_action.status_code == 400
    for resp in (bad_token, no_account, no_action):
        assert from_response(resp.status_code, resp.content).disposition is Disposition.PAUSE
    bad_event = client.post("/v1/events:ingest", json=_body(value=-1.0), headers=auth)
    err = from_response(bad_event.status_code, bad_event.content)
    assert err.disposition is Disposition.INVALID and "events[0].conversionValue" in err.message
    assert client.get("/_sandbox/events").json()["count"] == 0


def test_token_endpoint_refuses_unknown_clients_and_revoked_grants() -> None:
    client, _ = _client()
    form = {"grant_type": "refresh_token", "client_id": DEFAULT_CLIENT[0], "client_secret": "wrong"}
    assert client.post("/token", data=form).json()["error"] == "invalid_client"
    client.post("/_sandbox/revoke", json={"refresh_tokens": True})
    form = {**form, "client_secret": DEFAULT_CLIENT[1], "refresh_token": DEFAULT_REFRESH_TOKEN}
    refused = client.post("/token", data=form)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
