"""Intake's JSON reading (`payload.load_json`): orjson's fast path accepts exactly what the standard
json module accepts, except what no field can hold (#15): integers of more than 40 digits and lone
surrogates are refused, naming their path."""

from __future__ import annotations

import json

import pytest

from poas.sources.payload import MAX_INT_DIGITS, PayloadError, load_json


@pytest.mark.parametrize(
    "body",
    [
        b"[123456789012345678901234567890, -9999999999999999999, 18446744073709551615]",  # beyond 64 bits
        b'{"total": NaN, "tax": Infinity}',  # not JSON, but json has always read it
        b'\xef\xbb\xbf{"id": 1}',  # UTF-8 byte order mark
        b'{"id": 1, "id": 2}',  # duplicate keys: the last wins in both
        b'{"price": "10.00", "qty": 2, "rate": 0.25}',
        b'{"name": "\\u00e6\\u00f8\\u00e5 \\ud83d\\ude00"}',  # a surrogate pair is one character: text
        b"[" + b"9" * MAX_INT_DIGITS + b"]",  # the longest integer taken
    ],
)
def test_reads_what_json_reads(body: bytes) -> None:
    got, want = load_json(body), json.loads(body)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
    assert type(got) is type(want)


@pytest.mark.parametrize("body", [b"", b"{", b'{"id": 1,}', b"\xff\xfe{}", b"[" * 100_000])
def test_refuses_what_json_refuses(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        load_json(body)
    assert caught.value.field == "body"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"note": "\\ud800"}', "note"),  # a lone surrogate escape
        (b'{"a": [1, {"sku": "x\\udfffy"}]}', "a[1].sku"),
        (b'{"name": "x\xed\xa0\x80y"}', "name"),  # the surrogate's raw bytes (json reads them)
        (b'{"lines": [{"quantity": ' + b"9" * 5000 + b"}]}", "lines[0].quantity"),  # past int's 4,300
        (b'{"id": -' + b"1" * (MAX_INT_DIGITS + 1) + b"}", "id"),
        (b'"\\ud800"', "body"),
    ],
)
def test_refuses_what_no_field_can_hold_naming_the_path(body: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        load_json(body)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1234567890123456789}',  # 19 digits: read by json, exactly
        b'{"id": 123456789012345678}',  # 18: orjson
        b'{"a": "x1234567890123456789y"}',  # a run of 19 digits inside a string counts too
        b'{"a": 1.234567890123456789e5}',
        ('{"a": "' + "\u0661" * 19 + '"}').encode(),  # Arabic-Indic digits are not \\d in bytes
        b'{"a": "00000000000000000000", "b": [1, 2, 3]}',
        b"[" + b",".join(b"123456789" for _ in range(50)) + b"]",
    ],
)
def test_long_digit_check_matches_the_regular_expression(body: bytes) -> None:
    """The fast check sends to json exactly the bodies `\\d{19}` (ASCII digits in bytes) finds."""
    import re

    from poas.sources.payload import _has_long_digits

    assert _has_long_digits(body) == bool(re.search(rb"\d{19}", body))
    assert load_json(body) == json.loads(body)
