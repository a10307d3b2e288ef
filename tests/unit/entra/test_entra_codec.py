"""The one decoder for Graph's binary values: base64url, standard base64 and the padding-digit form."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.entra.codec import decode, decode_candidates, encode, url_token_encode


@given(st.binary(max_size=300))
def test_padding_digit_form_round_trips(data: bytes) -> None:
    token = url_token_encode(data)
    assert token[-1] in "012"
    assert decode(token) == data


@given(st.binary(max_size=300))
def test_standard_base64_round_trips(data: bytes) -> None:
    # Padded base64 of a length that needs no pads and has no '+' or '/' is the one ambiguous shape
    # (see decode's docstring): the plain reading is always among the candidates and wins with prefer="plain".
    for text in (base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()):
        assert decode(text, prefer="plain") == data
        assert data in decode_candidates(text)


@given(st.binary(max_size=300))
def test_base64url_without_padding_is_always_one_of_the_readings(data: bytes) -> None:
    text = encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert data in decode_candidates(text)
    assert decode(text, prefer="plain") == data


@given(st.binary(max_size=300))
def test_a_value_that_is_not_ambiguous_decodes_the_same_either_way(data: bytes) -> None:
    text = encode(data)
    if len(decode_candidates(text)) == 1:
        assert decode(text) == data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The UrlTokenEncode forms Entra uses in method ids: 0, 1 and 2 pads removed.
        ("AAAA0", b"\x00\x00\x00"),
        ("AAA1", b"\x00\x00"),
        ("AA2", b"\x00"),
        ("_-_-0", b"\xff\xef\xfe"),
        # Standard base64 from the contract's excludeCredentials example.
        ("0S64X8KwFmCeJjHzK1oE/39T+JYh", base64.b64decode("0S64X8KwFmCeJjHzK1oE/39T+JYh")),
        ("  AAE=\n", b"\x00\x01"),
        ("", b""),
    ],
)
def test_known_values(text: str, expected: bytes) -> None:
    assert decode(text) == expected


def test_ambiguous_value_lists_both_readings_and_prefers_as_asked() -> None:
    # "AAA1": two bytes with one pad removed, or three bytes of plain base64url.
    assert decode_candidates("AAA1") == (b"\x00\x00", b"\x00\x005")
    assert decode("AAA1") == b"\x00\x00"
    assert decode("AAA1", prefer="plain") == b"\x00\x005"


@pytest.mark.parametrize("text", ["A", "AAAAA", "AA*A", "AA=A", "AAB1x"])
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode(text)
