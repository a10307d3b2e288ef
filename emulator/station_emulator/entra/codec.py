"""Encodings Graph uses for binary values: base64url, standard base64 and .NET's UrlTokenEncode.

UrlTokenEncode is base64url without padding followed by one digit, the number of ``=`` removed.
Entra uses it for fido2 method ids; creation options mix all three forms, so the decoder accepts each.
"""

from __future__ import annotations

import base64
import binascii


def websafe_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def standard_encode(data: bytes) -> str:
    """Standard base64 with ``+``, ``/`` and padding."""
    return base64.b64encode(data).decode("ascii")


def url_token_encode(data: bytes) -> str:
    """.NET ``HttpServerUtility.UrlTokenEncode``: base64url, pads removed, their count appended."""
    padded = base64.urlsafe_b64encode(data).decode("ascii")
    unpadded = padded.rstrip("=")
    return f"{unpadded}{len(padded) - len(unpadded)}"


def decode_any(text: str) -> bytes:
    """Decode base64url, standard base64 or the padding-digit form; ValueError when none fits.

    A trailing digit is read as a pad count only where plain base64 could not end that way
    (length 4k+1, or 4k+3 ending in ``2``). A 4k-length value ending in ``1`` is ambiguous and is
    read as plain base64.
    """
    value = text.strip().rstrip("=")
    if not value:
        raise ValueError("empty base64 value")
    if (len(value) % 4 == 1 and value[-1] == "0") or (len(value) % 4 == 3 and value[-1] == "2"):
        value = value[:-1]
    value = value.replace("-", "+").replace("_", "/")
    value += "=" * (-len(value) % 4)
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as e:
        raise ValueError(f"not base64: {e}") from e
