"""Known answers for the Graph codec: exact encodings and decodings of fixed bytes, and the exact binary fields of
a registration (the POST body Station sends and the creation options it reads).

Entra compares these strings byte for byte (a method id is the credential id in UrlTokenEncode form), so a change
of any expected value here is a change of what Station sends to or understands from Graph."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from station.entra.codec import decode, decode_candidates, encode, url_token_encode
from station.entra.http import GraphHttp
from station.entra.passkeys import Fido2Method, Passkeys, parse_creation_options

CREDENTIAL_ID = bytes.fromhex("00fbff10ef3e80818283848586878889")
CLIENT_DATA_JSON = b'{"type":"webauthn.create","challenge":"q83vASNFZ4k","origin":"https://login.microsoft.com"}'
ATTESTATION_OBJECT = bytes.fromhex("a363666d74646e6f6e65")
CHALLENGE = bytes(range(0xF0, 0x100)) + bytes(range(16))
USER_HANDLE = b"\x01\x02\xfe\xff"


@pytest.mark.parametrize(
    ("data", "base64url", "url_token"),
    [
        (b"", "", "0"),
        # RFC 4648 section 10.
        (b"f", "Zg", "Zg2"),
        (b"fo", "Zm8", "Zm81"),
        (b"foo", "Zm9v", "Zm9v0"),
        (b"foob", "Zm9vYg", "Zm9vYg2"),
        (b"fooba", "Zm9vYmE", "Zm9vYmE1"),
        (b"foobar", "Zm9vYmFy", "Zm9vYmFy0"),
        # The two characters where base64url and base64 differ ('-' for '+', '_' for '/').
        (b"\xfb", "-w", "-w2"),
        (b"\xfb\xff", "-_8", "-_81"),
        (b"\xfb\xff\xbf", "-_-_", "-_-_0"),
        (CREDENTIAL_ID, "APv_EO8-gIGCg4SFhoeIiQ", "APv_EO8-gIGCg4SFhoeIiQ2"),
    ],
)
def test_encodings_of_fixed_bytes(data: bytes, base64url: str, url_token: str) -> None:
    assert encode(data) == base64url
    assert url_token_encode(data) == url_token
    assert decode(url_token) == data
    assert data in decode_candidates(base64url)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Standard base64, padded, with '+' and '/'.
        ("APv/EO8+gIGCg4SFhoeIiQ==", CREDENTIAL_ID),
        ("+w==", b"\xfb"),
        ("+/8=", b"\xfb\xff"),
        ("+/+/", b"\xfb\xff\xbf"),
        # Standard base64 with its pads dropped, and base64url with its pads kept.
        ("APv/EO8+gIGCg4SFhoeIiQ", CREDENTIAL_ID),
        ("APv_EO8-gIGCg4SFhoeIiQ==", CREDENTIAL_ID),
        ("-_8=", b"\xfb\xff"),
        # base64url without padding whose length rules out the padding-digit form.
        ("APv_EO8-gIGCg4SFhoeIiQ", CREDENTIAL_ID),
        ("-_8", b"\xfb\xff"),
        # UrlTokenEncode, 0, 1 and 2 pads.
        ("-_-_0", b"\xfb\xff\xbf"),
        ("APv_EO8-gIGCg4SFhoeIiQ2", CREDENTIAL_ID),
        # Whitespace, as in a wrapped value, is ignored.
        (" APv/EO8+\r\n gIGCg4SFhoeIiQ==\n", CREDENTIAL_ID),
    ],
)
def test_decodings_of_fixed_text(text: str, expected: bytes) -> None:
    assert decode(text) == expected
    assert decode(text, prefer="plain") == expected


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        # Length 4k ending in '1': the padding-digit reading first, then plain base64url.
        ("-_81", (b"\xfb\xff", b"\xfb\xff5")),
        ("AAA1", (b"\x00\x00", b"\x00\x005")),
        # Ending in '0' with length 4k+1: only the padding-digit reading.
        ("-_-_0", (b"\xfb\xff\xbf",)),
        # Ending in '2' where the plain reading would leave stray bits: only the padding-digit reading.
        ("-w2", (b"\xfb",)),
        # No digit at the end: only the plain reading.
        ("Zm9vYmFy", (b"foobar",)),
        ("Zm9vYg", (b"foob",)),
    ],
)
def test_every_reading_of_fixed_text(text: str, readings: tuple[bytes, ...]) -> None:
    assert decode_candidates(text) == readings
    assert decode(text) == readings[0]
    assert decode(text, prefer="plain") == readings[-1]


@pytest.mark.parametrize(
    "text",
    ["Zh", "Zm9vYh", "Z", "Zm9vY", "Zm9v YmF*", "Zg==Zg==", "-_-_3"],
)
def test_text_that_no_encoder_writes_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode(text)


class _RecordingHttp:
    version = "v1.0"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append((method, path, kwargs))
        return _Response()


class _Response:
    status_code = 201

    def json(self) -> dict[str, Any]:
        return {"id": url_token_encode(CREDENTIAL_ID)}


def test_the_registration_body_station_sends() -> None:
    http = _RecordingHttp()
    method_id = Passkeys(cast(GraphHttp, http)).register(
        "user-1", "YubiKey 5 NFC", CREDENTIAL_ID, CLIENT_DATA_JSON, ATTESTATION_OBJECT)
    assert method_id == "APv_EO8-gIGCg4SFhoeIiQ2"
    [(method, path, kwargs)] = http.calls
    assert (method, path) == ("POST", "users/user-1/authentication/fido2Methods")
    assert kwargs["json"] == {
        "displayName": "YubiKey 5 NFC",
        "publicKeyCredential": {
            "id": "APv_EO8-gIGCg4SFhoeIiQ",
            "response": {
                "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoicTgzdkFTTkZaNGsiLCJvcmlnaW4iOiJo"
                                  "dHRwczovL2xvZ2luLm1pY3Jvc29mdC5jb20ifQ",
                "attestationObject": "o2NmbXRkbm9uZQ",
            },
            "clientExtensionResults": {},
        },
    }


def test_the_method_id_entra_makes_of_the_credential_stands_for_it() -> None:
    method = Fido2Method.of({"id": "APv_EO8-gIGCg4SFhoeIiQ2", "displayName": "YubiKey 5 NFC"})
    assert method.credential_ids() == (CREDENTIAL_ID,)


def test_creation_options_graph_sends_are_read() -> None:
    body = {
        "challengeTimeoutDateTime": "2026-12-04T18:05:00Z",
        "publicKey": {
            "challenge": "8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8=",
            "rp": {"id": "login.microsoft.com", "name": "Microsoft"},
            "user": {"id": "AQL+/w==", "name": "ada@example.org", "displayName": "Ada"},
            "excludeCredentials": [
                {"type": "public-key", "id": "APv_EO8-gIGCg4SFhoeIiQ2"},
                {"type": "public-key", "id": "-_81"},
            ],
        },
    }
    options = parse_creation_options("user-1", body)
    assert options.challenge == CHALLENGE
    assert options.user_handle == USER_HANDLE
    assert options.rp_id == "login.microsoft.com"
    assert options.expires_at == datetime(2026, 12, 4, 18, 5, tzinfo=UTC)
    assert options.exclude_credentials == (CREDENTIAL_ID, b"\xfb\xff", b"\xfb\xff5")
