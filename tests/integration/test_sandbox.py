"""The Meta sandbox over real HTTP: validation, recording, dedup, AppendValue, auth and faults."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from poas.meta.sandbox import RunningSandbox, run_sandbox

PIXEL = "1234567890"
NOW = 1_780_000_000


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def purchase(event_id: str = "1001", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 3600,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "user_data": {
            "em": [_h("john_smith@gmail.com")],
            "ph": [_h("16505551212")],
            "client_user_agent": "Mozilla/5.0",
            "client_ip_address": "203.0.113.7",
            "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
        },
        "custom_data": {"value": 125.5, "currency": "NOK", "net_revenue": 40.1, "order_id": event_id},
    }
    event.update(overrides)
    return event


def append_value(order_id: str = "1001", **oed: Any) -> dict[str, Any]:
    original = {
        "event_name": "Purchase",
        "event_time": NOW - 3600,
        "order_id": order_id,
        "event_id": order_id,
    }
    original.update(oed)
    return {
        "event_name": "AppendValue",
        "event_time": NOW - 60,
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "user_data": purchase()["user_data"],
        "custom_data": {"currency": "NOK", "net_revenue": 12.0},
        "original_event_data": original,
    }


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox(now_s=lambda: NOW) as sb:
        yield sb


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=5) as c:
        yield c


def send(client: httpx.Client, events: list[Any], token: str = "tok", **extra: str) -> httpx.Response:
    form = {"data": json.dumps(events), "access_token": token, **extra}
    return client.post(f"/v25.0/{PIXEL}/events", data=form)


def error_of(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code >= 400, resp.text
    err: dict[str, Any] = resp.json()["error"]
    assert err["fbtrace_id"]
    return err


def test_valid_batch_is_accepted_and_recorded(client: httpx.Client) -> None:
    resp = send(client, [purchase("1"), purchase("2")], test_event_code="TEST123")
    assert resp.status_code == 200
    body = resp.json()
    assert body["events_received"] == 2 and body["messages"] == [] and body["fbtrace_id"]
    listed = client.get("/_sandbox/events", params={"pixel_id": PIXEL}).json()
    assert [r["event"]["event_id"] for r in listed["data"]] == ["1", "2"]
    assert listed["data"][0]["test_event_code"] == "TEST123"
    assert client.get("/_sandbox/events", params={"pixel_id": "other"}).json()["count"] == 0


def test_json_body_and_sdk_style_list_of_strings(client: httpx.Client) -> None:
    body = {"data": [json.dumps(purchase("7"))], "access_token": "tok"}
    resp = client.post(f"/v25.0/{PIXEL}/events", json=body)
    assert resp.json()["events_received"] == 1


def test_duplicates_are_recorded_and_counted(client: httpx.Client) -> None:
    assert send(client, [purchase("9")]).status_code == 200
    assert send(client, [purchase("9")]).status_code == 200
    records = client.get("/_sandbox/events").json()["data"]
    assert [r["duplicate"] for r in records] == [False, True]
    stats = client.get("/_sandbox/stats").json()
    assert stats["events_received"] == 2 and stats["duplicates"] == 1 and stats["events_unique"] == 1
    assert stats["by_pixel"][PIXEL] == {"events_received": 2, "duplicates": 1}


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


INVALID = [
    (lambda: _without(purchase(), "event_name"), "data[1].event_name"),
    (lambda: _without(purchase(), "event_time"), "data[1].event_time"),
    (lambda: _without(purchase(), "action_source"), "data[1].action_source"),
    (lambda: purchase(action_source="web"), "data[1].action_source"),
    (lambda: _without(purchase(), "event_source_url"), "data[1].event_source_url"),
    (lambda: _without(purchase(), "user_data", "client_user_agent"), "data[1].user_data.client_user_agent"),
    (lambda: purchase(user_data={}), "data[1].user_data"),
    (lambda: purchase(action_source="other", user_data={}), "data[1].user_data"),
    (lambda: purchase(user_data={**purchase()["user_data"], "em": "john@x.com"}), "data[1].user_data.em"),
    (
        lambda: purchase(user_data={**purchase()["user_data"], "em": [_h("a").upper()]}),
        "data[1].user_data.em[0]",
    ),
    (lambda: purchase(user_data={**purchase()["user_data"], "fbp": _h("x")}), "data[1].user_data.fbp"),
    (
        lambda: purchase(user_data={**purchase()["user_data"], "client_ip_address": "1.2.3"}),
        "data[1].user_data",
    ),
    (lambda: purchase(event_time=NOW - 8 * 86400), "data[1].event_time"),
    (lambda: purchase(event_time=NOW + 3600), "data[1].event_time"),
    (lambda: purchase(event_time=str(NOW)), "data[1].event_time"),
    (lambda: purchase(custom_data={"value": 1, "currency": "XYZ"}), "data[1].custom_data.currency"),
    (lambda: purchase(custom_data={"value": "12.5", "currency": "NOK"}), "data[1].custom_data.value"),
    (
        lambda: purchase(custom_data={"value": 1, "currency": "NOK", "net_revenue": "3"}),
        "data[1].custom_data.net_revenue",
    ),
    (lambda: purchase(custom_data={"currency": "NOK"}), "data[1].custom_data.value"),
    (lambda: append_value(), "data[1].original_event_data"),  # no such original
    (lambda: {**append_value(), "original_event_data": None}, "data[1].original_event_data"),
    (lambda: purchase(bogus=1), "data[1].bogus"),
]


@pytest.mark.parametrize(("make", "path"), INVALID)
def test_each_invalid_event_rejects_the_request_naming_it(client: httpx.Client, make: Any, path: str) -> None:
    resp = send(client, [purchase("ok"), make()])
    err = error_of(resp)
    assert resp.status_code == 400
    assert err["code"] == 100
    assert path in err["message"], err
    assert err["error_data"]["blame_field_specs"][0][0].startswith(path)
    assert client.get("/_sandbox/events").json()["count"] == 0  # the valid event went nowhere either


def test_stale_event_has_the_too_old_subcode(client: httpx.Client) -> None:
    err = error_of(send(client, [purchase(event_time=NOW - 7 * 86400 - 1)]))
    assert err["code"] == 100 and err["error_subcode"] == 2804003
    assert send(client, [purchase(event_time=NOW - 7 * 86400 + 60)]).status_code == 200


def test_more_than_1000_events_rejected(client: httpx.Client) -> None:
    err = error_of(send(client, [purchase(str(i)) for i in range(1001)]))
    assert err["code"] == 100 and "1000" in err["message"]
    assert send(client, [purchase(str(i)) for i in range(1000)]).json()["events_received"] == 1000


def test_append_value_needs_a_known_original(client: httpx.Client) -> None:
    assert error_of(send(client, [append_value("55")]))["code"] == 100
    assert send(client, [purchase("55")]).status_code == 200
    assert send(client, [append_value("55")]).status_code == 200
    by_order_only = append_value("55", event_id=None)
    del by_order_only["original_event_data"]["event_id"]
    assert send(client, [by_order_only]).status_code == 200
    # an original accepted for another pixel does not count
    other = client.post(
        "/v25.0/999/events", data={"data": json.dumps([append_value("55")]), "access_token": "t"}
    )
    assert error_of(other)["code"] == 100


def test_append_value_may_follow_its_original_in_the_same_batch(client: httpx.Client) -> None:
    assert send(client, [purchase("77"), append_value("77")]).json()["events_received"] == 2
    assert error_of(send(client, [append_value("78"), purchase("78")]))["code"] == 100


def test_token_required_and_expired(client: httpx.Client) -> None:
    missing = client.post(f"/v25.0/{PIXEL}/events", data={"data": json.dumps([purchase()])})
    assert error_of(missing)["code"] == 190
    expired = error_of(send(client, [purchase()], token="expired-abc"))
    assert (expired["code"], expired["error_subcode"]) == (190, 463)


def test_appsecret_proof_checked_when_configured() -> None:
    with run_sandbox(app_secret="s3cret", now_s=lambda: NOW) as sb, httpx.Client(base_url=sb.url) as c:
        assert error_of(send(c, [purchase()], token="tok"))["code"] == 100
        assert error_of(send(c, [purchase()], token="tok", appsecret_proof="00"))["code"] == 100
        proof = hmac.new(b"s3cret", b"tok", hashlib.sha256).hexdigest()
        assert send(c, [purchase()], token="tok", appsecret_proof=proof).status_code == 200


@pytest.mark.parametrize(
    ("fault", "status", "code", "subcode"),
    [
        ({"kind": "5xx", "code": 503}, 503, 2, None),
        ({"kind": "5xx"}, 500, 1, None),
        ({"kind": "throttle", "code": 4}, 400, 4, None),
        ({"kind": "throttle", "code": 17}, 400, 17, 2446079),
        ({"kind": "throttle", "code": 613}, 400, 613, 1487742),
        ({"kind": "token_expired"}, 400, 190, 463),
    ],
)
def test_faults_inject_by_count(
    client: httpx.Client, fault: dict[str, Any], status: int, code: int, subcode: int | None
) -> None:
    assert client.post("/_sandbox/faults", json={**fault, "count": 2}).status_code == 200
    for _ in range(2):
        resp = send(client, [purchase()])
        assert resp.status_code == status
        assert (resp.json()["error"]["code"], resp.json()["error"]["error_subcode"]) == (code, subcode)
    assert send(client, [purchase()]).status_code == 200
    stats = client.get("/_sandbox/stats").json()
    assert stats["faults_injected"] == {fault["kind"]: 2} and stats["active_faults"] == []
    assert stats["rejected_requests"] == 2 and stats["accepted_requests"] == 1


def test_fault_only_hits_its_pixel(client: httpx.Client) -> None:
    client.post("/_sandbox/faults", json={"kind": "5xx", "pixel_id": "other"})
    assert send(client, [purchase()]).status_code == 200
    other = client.post("/v25.0/other/events", data={"data": json.dumps([purchase()]), "access_token": "t"})
    assert other.status_code == 500
    client.delete("/_sandbox/faults")
    other = client.post("/v25.0/other/events", data={"data": json.dumps([purchase()]), "access_token": "t"})
    assert other.status_code == 200


def test_fault_probability(sandbox: RunningSandbox, client: httpx.Client) -> None:
    sandbox.state.rng.seed(7)
    client.post("/_sandbox/faults", json={"kind": "5xx", "probability": 0.5})
    statuses = [send(client, [purchase(str(i))]).status_code for i in range(60)]
    assert 10 < statuses.count(500) < 50 and statuses.count(200) == 60 - statuses.count(500)
    client.post("/_sandbox/faults", json={"kind": "5xx", "probability": 0.0})
    client.delete("/_sandbox/faults")
    assert send(client, [purchase("x")]).status_code == 200


def test_invalid_event_fault_names_the_event(client: httpx.Client) -> None:
    client.post("/_sandbox/faults", json={"kind": "invalid_event", "event_ids": ["b"], "count": 1})
    assert send(client, [purchase("a")]).status_code == 200  # no chosen id: fault untouched
    err = error_of(send(client, [purchase("c"), purchase("b")]))
    assert err["code"] == 100 and "data[1]" in err["message"]
    assert send(client, [purchase("c"), purchase("b")]).status_code == 200


def test_timeout_fault_sleeps_then_504(client: httpx.Client) -> None:
    client.post("/_sandbox/faults", json={"kind": "timeout", "delay_s": 0.5, "count": 1})
    with (
        httpx.Client(base_url=str(client.base_url), timeout=0.1) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        send(impatient, [purchase("t")])
    client.post("/_sandbox/faults", json={"kind": "timeout", "delay_s": 0.2, "count": 1, "record": True})
    resp = send(client, [purchase("u")])
    assert resp.status_code == 504
    assert [r["event"]["event_id"] for r in client.get("/_sandbox/events").json()["data"]] == ["u"]


def test_reset_and_bad_fault_spec(client: httpx.Client) -> None:
    send(client, [purchase()])
    assert client.post("/_sandbox/faults", json={"kind": "meteor"}).status_code == 422
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/stats").json()["events_received"] == 0
    assert client.get("/_sandbox/events").json()["count"] == 0


def test_data_must_be_json(client: httpx.Client) -> None:
    resp = client.post(f"/v25.0/{PIXEL}/events", data={"data": "[{", "access_token": "t"})
    assert error_of(resp)["code"] == 100


def test_a_sender_that_dies_mid_body_is_not_an_application_error() -> None:
    """Found by the load test: a SIGKILLed worker's half-sent request left a traceback in the log."""
    errors: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = errors.append  # type: ignore[method-assign]
    uvicorn_log = logging.getLogger("uvicorn.error")
    with run_sandbox() as sb:
        uvicorn_log.addHandler(handler)  # after the start: uvicorn's logging set-up resets handlers
        try:
            host, port = sb.url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port))) as raw:
                head = f"POST /v25.0/{PIXEL}/events HTTP/1.1\r\nHost: {host}\r\n"
                raw.sendall(f"{head}Content-Length: 5000\r\n\r\n".encode() + b'{"data": [')
                time.sleep(0.2)
            time.sleep(0.3)
            assert httpx.get(f"{sb.url}/_sandbox/stats").json()["requests"] == 0  # nothing was received
        finally:
            uvicorn_log.removeHandler(handler)
    assert [r.getMessage() for r in errors] == []
