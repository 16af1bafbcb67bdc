"""The form body the CAPI client sends is byte for byte what urllib.parse produces."""

from __future__ import annotations

from urllib.parse import quote_plus, urlencode

from hypothesis import given
from hypothesis import strategies as st

from poas.meta.capi import form_encode, form_quote

JSONISH = st.text(alphabet=st.sampled_from('{}[]":,./?&=#%+ ~_-aZ09\n\t\x00\x7féøæ정🙂'), max_size=200)


@given(st.one_of(st.text(max_size=200), JSONISH))
def test_form_quote_equals_quote_plus(text: str) -> None:
    assert form_quote(text) == quote_plus(text)


@given(st.dictionaries(st.text(max_size=20), st.one_of(st.text(max_size=80), JSONISH), max_size=4))
def test_form_encode_equals_urlencode(params: dict[str, str]) -> None:
    assert form_encode(params) == urlencode(params).encode()


def test_an_ascii_batch_and_a_batch_with_letters_beyond_ascii() -> None:
    ascii_batch = '[{"event_name":"Purchase","event_source_url":"https://x.no/p?a=1&b=2#c","v":"100%"}]'
    assert form_quote(ascii_batch) == quote_plus(ascii_batch)
    assert form_quote(ascii_batch + "Ålesund") == quote_plus(ascii_batch + "Ålesund")
