"""Intake's JSON reading: orjson's fast path accepts exactly what the standard json module accepts."""

from __future__ import annotations

import json

import pytest

from poas.services.intake import _json
from poas.sources.payload import PayloadError


@pytest.mark.parametrize(
    "body",
    [
        b"[123456789012345678901234567890, -9999999999999999999, 18446744073709551615]",  # beyond 64 bits
        b'{"total": NaN, "tax": Infinity}',  # not JSON, but json has always read it
        b'{"note": "\\ud800"}',  # lone surrogate escape
        b'\xef\xbb\xbf{"id": 1}',  # UTF-8 byte order mark
        b'{"id": 1, "id": 2}',  # duplicate keys: the last wins in both
        b'{"price": "10.00", "qty": 2, "rate": 0.25}',
    ],
)
def test_reads_what_json_reads(body: bytes) -> None:
    got, want = _json(body), json.loads(body)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
    assert type(got) is type(want)


@pytest.mark.parametrize("body", [b"", b"{", b'{"id": 1,}', b"\xff\xfe{}", b"[" * 100_000])
def test_refuses_what_json_refuses(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        _json(body)
    assert caught.value.field == "body"
