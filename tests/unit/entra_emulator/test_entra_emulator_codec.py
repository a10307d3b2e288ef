"""The emulator's base64 forms: UrlTokenEncode ids and a decoder that accepts what Graph sends."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station_emulator.entra.codec import decode_any, standard_encode, url_token_encode, websafe_encode


def test_url_token_encode_appends_the_number_of_pads_removed() -> None:
    assert url_token_encode(b"\xfb\xff") == "-_81"
    assert url_token_encode(b"abc") == "YWJj0"
    assert url_token_encode(b"a") == "YQ2"


@given(st.binary(min_size=1, max_size=96))
def test_plain_forms_round_trip(data: bytes) -> None:
    assert decode_any(websafe_encode(data)) == data
    assert decode_any(standard_encode(data)) == data
    assert decode_any(base64.urlsafe_b64encode(data).decode()) == data


@given(st.binary(min_size=1, max_size=96).filter(lambda d: len(d) % 3 != 2))
def test_padding_digit_form_round_trips_where_unambiguous(data: bytes) -> None:
    assert decode_any(url_token_encode(data)) == data


@pytest.mark.parametrize("text", ["", "   ", "a", "@@@@"])
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode_any(text)
