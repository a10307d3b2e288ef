"""The encodings Graph uses for binary values, and the one decoder that accepts all of them.

In the wild a challenge or credential id arrives as base64url without padding, as standard base64
(``+``, ``/``, ``=``), or in .NET's ``UrlTokenEncode`` form: base64url with the ``=`` pads removed and
their count (0, 1 or 2) appended as a digit. Fido2 method ids are always in that last form.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

_URLSAFE = re.compile(r"^[A-Za-z0-9_-]*$")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def encode(data: bytes) -> str:
    """base64url without padding: what WebAuthn and the Graph POST body expect."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def url_token_encode(data: bytes) -> str:
    """.NET ``UrlTokenEncode``: base64url, pads removed, their count appended as one digit."""
    padded = base64.urlsafe_b64encode(data).decode("ascii")
    unpadded = padded.rstrip("=")
    return f"{unpadded}{len(padded) - len(unpadded)}"


def decode(text: str, *, prefer: Literal["token", "plain"] = "token") -> bytes:
    """Decode base64url, standard base64 or the padding-digit form. ValueError when none fits.

    One shape is ambiguous: a value of length 4k ending in ``1`` may be plain base64url or the
    padding-digit form of a value with one pad. ``prefer`` picks the reading then: ``token`` (the
    default, right for ids, where Entra uses the padding-digit form) or ``plain`` (right for
    challenges, which Entra sends as base64). ``decode_candidates`` returns every reading.
    """
    readings = decode_candidates(text)
    if prefer == "plain" and len(readings) > 1:
        return readings[1]
    return readings[0]


def decode_candidates(text: str) -> tuple[bytes, ...]:
    """Every valid reading of ``text``, the padding-digit reading first when it fits."""
    value = "".join(text.split())
    if "=" in value or "+" in value or "/" in value:
        return (_b64(value.rstrip("=").replace("+", "-").replace("/", "_")),)
    if not _URLSAFE.match(value):
        raise ValueError("not base64: unexpected characters")
    readings: list[bytes] = []
    token = _token_reading(value)
    if token is not None:
        readings.append(token)
    if len(value) % 4 != 1 and _canonical(value, -len(value) % 4):
        plain = _b64(value)
        if plain not in readings:
            readings.append(plain)
    if not readings:
        raise ValueError("not base64: its length fits no base64 form")
    return tuple(readings)


def _token_reading(value: str) -> bytes | None:
    if not value or value[-1] not in "012":
        return None
    body, pads = value[:-1], int(value[-1])
    if (len(body) + pads) % 4 or not _canonical(body, pads):
        return None
    return _b64(body)


def _canonical(body: str, pads: int) -> bool:
    """Whether the last character carries no stray bits, as every real encoder writes it."""
    if pads == 0 or not body:
        return True
    unused_bits_mask = 0b11 if pads == 1 else 0b1111
    return _ALPHABET.index(body[-1]) & unused_bits_mask == 0


def _b64(urlsafe_unpadded: str) -> bytes:
    try:
        padded = urlsafe_unpadded + "=" * (-len(urlsafe_unpadded) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"not base64: {e}") from None
