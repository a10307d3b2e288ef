"""The escrow public key as the daemon holds it: read and checked at start, loaded into cryptography when the
first PIN or pass is sealed.

cryptography's Rust library is about 8 MB of an idle daemon's memory, and an idle daemon seals nothing. So at
start the key file is read and checked here with a small DER reader — a PEM public key, X25519 or RSA of at
least 2048 bits, as :func:`station.enroll.escrow.load_public_key` requires — so a wrong key still stops the
daemon at once with the same message; :class:`DeferredEscrow` then builds the real
:class:`~station.enroll.escrow.Escrow` on its first ``seal``.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from station.errors import StationError

if TYPE_CHECKING:
    from station.enroll.escrow import Escrow

_SEQUENCE, _INTEGER, _BIT_STRING, _OID = 0x30, 0x02, 0x03, 0x06
_X25519_OID = bytes.fromhex("2b656e")  # 1.3.101.110
_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
_KNOWN_OTHERS = {bytes.fromhex("2a8648ce3d0201"): "an EC key", bytes.fromhex("2b6570"): "an Ed25519 key",
                 bytes.fromhex("2b6571"): "an Ed448 key", bytes.fromhex("2b656f"): "an X448 key",
                 bytes.fromhex("2a8648ce380401"): "a DSA key"}
MIN_RSA_BITS = 2048


class EscrowError(StationError):
    remedy = "Use the escrow private key that matches the public key in the station configuration."


def read_public_key(path: str | os.PathLike[str]) -> bytes:
    """The PEM bytes of the escrow public key at ``path``, checked by :func:`check_public_key`."""
    try:
        pem = Path(path).read_bytes()
    except OSError as e:
        raise EscrowError(f"cannot read the escrow public key {path}: {e.strerror}",
                          remedy="Create one with 'station pins keygen --out DIR' and set "
                                 "enrolment.escrow_public_key to its public half.") from None
    check_public_key(pem)
    return pem


def check_public_key(pem: bytes) -> None:
    """Raise EscrowError unless ``pem`` is a PEM X25519 public key or an RSA one of at least 2048 bits."""
    kind, der = _pem_body(pem)
    try:
        if kind == b"RSA PUBLIC KEY":  # PKCS#1: the RSA key alone
            bits = _rsa_bits(der)
        else:
            algorithm, key = _children(_only(der, _SEQUENCE))
            oid = _children(_value(algorithm, _SEQUENCE))[0]
            oid_value = _value(oid, _OID)
            if oid_value == _X25519_OID:
                if len(_value(key, _BIT_STRING)) != 33:
                    raise ValueError("an X25519 key is 32 bytes")
                return
            if oid_value != _RSA_OID:
                name = _KNOWN_OTHERS.get(oid_value, "another kind of key")
                raise EscrowError(f"escrow keys must be X25519 or RSA, not {name}")
            bits = _rsa_bits(_value(key, _BIT_STRING)[1:])
    except (ValueError, IndexError) as e:
        raise EscrowError(f"the escrow public key is not a PEM public key: {e or 'malformed'}") from None
    if bits < MIN_RSA_BITS:
        raise EscrowError("an RSA escrow key must have at least 2048 bits")


class DeferredEscrow:
    """Seals to the escrow public key, loading cryptography only when the first seal is asked for."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._pem = read_public_key(path)
        self._escrow: Escrow | None = None
        self._lock = threading.Lock()

    def seal(self, pin: str, context: str) -> str:
        with self._lock:
            if self._escrow is None:
                from station.enroll.escrow import Escrow, load_public_key

                self._escrow = Escrow(load_public_key(self._pem))
        return self._escrow.seal(pin, context)


def _pem_body(pem: bytes) -> tuple[bytes, bytes]:
    lines = pem.strip().splitlines()
    first, last = (lines[0].strip(), lines[-1].strip()) if lines else (b"", b"")
    for kind in (b"PUBLIC KEY", b"RSA PUBLIC KEY"):
        if first == b"-----BEGIN " + kind + b"-----" and last == b"-----END " + kind + b"-----":
            try:
                return kind, base64.b64decode(b"".join(lines[1:-1]), validate=True)
            except binascii.Error:
                break
    raise EscrowError("the escrow public key is not a PEM public key: no '-----BEGIN PUBLIC KEY-----' block "
                      "with base64 inside")


def _rsa_bits(der: bytes) -> int:
    modulus = _value(_children(_only(der, _SEQUENCE))[0], _INTEGER).lstrip(b"\0")
    return (len(modulus) - 1) * 8 + modulus[0].bit_length()


def _only(der: bytes, tag: int) -> bytes:
    """The value of the one DER element ``der`` holds, which must have ``tag``."""
    element, rest = _split(der)
    if rest:
        raise ValueError("data after the key")
    return _value(element, tag)


def _children(der: bytes) -> list[bytes]:
    """The elements (tag, length and value) one after another in ``der``."""
    out = []
    while der:
        element, der = _split(der)
        out.append(element)
    return out


def _value(element: bytes, tag: int) -> bytes:
    if element[0] != tag:
        raise ValueError(f"expected DER tag {tag:#x}, found {element[0]:#x}")
    return _split(element, value=True)[0]


def _split(der: bytes, value: bool = False) -> tuple[bytes, bytes]:
    """The first DER element of ``der`` (or only its value) and what follows it."""
    length, start = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or len(der) < 2 + count:
            raise ValueError("a DER length is malformed")
        length, start = int.from_bytes(der[2:2 + count], "big"), 2 + count
    end = start + length
    if end > len(der):
        raise ValueError("a DER element runs past the end")
    return (der[start:end] if value else der[:end]), der[end:]
