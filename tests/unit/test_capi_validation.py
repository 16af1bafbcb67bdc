"""Meta's documented event checks (pure) and `poas validate-event` / `poas hash` on the command line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from poas.cli import app
from poas.domain.capi_validation import MAX_AGE_S, payload_events, validate_batch, validate_event

NOW = 1_780_000_000
H = hashlib.sha256(b"x").hexdigest()


def event(**kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 10,
        "event_id": "1",
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "user_data": {"em": [H], "client_user_agent": "UA"},
        "custom_data": {"value": 1.5, "currency": "nok"},
    }
    e.update(kw)
    return e


def paths(problems: list[Any]) -> list[str]:
    return [p.path for p in problems]


def test_valid_event_has_no_problems() -> None:
    assert validate_event(event(), 0, NOW) == []
    assert validate_event(event(action_source="physical_store", user_data={"ph": H}), 0, NOW) == []
    assert validate_event(event(user_data={"em": f"{H}.AQIAAQAB", "client_user_agent": "UA"}), 0, NOW) == []


def test_every_problem_is_reported_with_its_path() -> None:
    bad = event(
        event_time=NOW - MAX_AGE_S - 1,
        user_data={"em": ["Plain@Mail.com", H], "fbc": "not-a-cookie", "client_user_agent": "UA"},
        custom_data={"value": "10", "currency": "ZZZ", "contents": [{"quantity": 1}]},
        data_processing_options=["GDPR"],
    )
    got = paths(validate_event(bad, 4, NOW))
    assert got == [
        "data[4].event_time",
        "data[4].user_data.em[0]",
        "data[4].user_data.fbc",
        "data[4].custom_data.currency",
        "data[4].custom_data.value",
        "data[4].custom_data.contents[0]",
        "data[4].data_processing_options",
    ]


def test_time_window_edges() -> None:
    assert validate_event(event(event_time=NOW - MAX_AGE_S), 0, NOW) == []
    assert paths(validate_event(event(event_time=NOW - MAX_AGE_S - 1), 0, NOW)) == ["data[0].event_time"]
    assert validate_event(event(event_time=NOW + 60), 0, NOW) == []  # small clock skew
    assert paths(validate_event(event(event_time=NOW + 3600), 0, NOW)) == ["data[0].event_time"]
    assert paths(validate_event(event(event_time=True), 0, NOW)) == ["data[0].event_time"]


def test_batch_limits() -> None:
    assert paths(validate_batch([event()] * 1001, NOW)) == ["data"]
    assert validate_batch([event()] * 1000, NOW) == []
    assert paths(validate_batch([], NOW)) == ["data"]
    assert paths(validate_batch({"event_name": "x"}, NOW)) == ["data"]


def test_append_value_shape() -> None:
    av = event(event_name="AppendValue", custom_data={"currency": "NOK", "net_revenue": 3})
    assert paths(validate_event(av, 0, NOW)) == ["data[0].original_event_data"]
    av["original_event_data"] = {"event_name": "Purchase", "event_time": NOW - 99}
    assert paths(validate_event(av, 0, NOW)) == ["data[0].original_event_data"]  # no id to find it by
    av["original_event_data"]["order_id"] = "1"
    assert validate_event(av, 0, NOW) == []


def test_payload_forms() -> None:
    e = event()
    assert payload_events(e) == [e]
    assert payload_events([e]) == [e]
    assert payload_events({"data": [e], "access_token": "x"}) == [e]


runner = CliRunner()


def test_validate_event_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"data": [event()]}))
    res = runner.invoke(app, ["validate-event", str(good), "--at", str(NOW)])
    assert res.exit_code == 0, res.output
    assert "1 event(s) valid" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([event(), event(user_data={"em": "raw@mail.com"})]))
    res = runner.invoke(app, ["validate-event", str(bad), "--at", str(NOW)])
    assert res.exit_code == 1
    assert "data[1].user_data.em" in res.output and "SHA-256" in res.output
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    res = runner.invoke(app, ["validate-event", str(broken)])
    assert res.exit_code == 1 and "not JSON" in " ".join(res.output.split())  # rich wraps long lines


def test_hash_cli() -> None:
    res = runner.invoke(app, ["hash", "ph", "(650)555-1212", "--country", "US"])
    assert res.exit_code == 0
    assert "16505551212" in res.output
    assert "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176" in res.output
    res = runner.invoke(app, ["hash", "em", "nope"])
    assert res.exit_code == 1 and "not a valid email" in " ".join(res.output.split())
    assert runner.invoke(app, ["hash", "fbc", "x"]).exit_code == 1
