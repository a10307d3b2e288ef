"""The escrow public key checked at daemon start without cryptography: it accepts and refuses exactly what
cryptography's loader does, with the same messages, and the deferred sealer seals what the private key opens."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from station.enroll.escrow import EscrowError, context_for, load_public_key, open_sealed
from station.enroll.escrow_key import DeferredEscrow, check_public_key, read_public_key


def _pem(private: object, fmt: serialization.PublicFormat = serialization.PublicFormat.SubjectPublicKeyInfo) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.PEM, fmt)  # type: ignore[attr-defined]


GOOD = {
    "x25519": lambda: _pem(x25519.X25519PrivateKey.generate()),
    "rsa-2048": lambda: _pem(rsa.generate_private_key(65537, 2048)),
    "rsa-3072 PKCS#1": lambda: _pem(rsa.generate_private_key(65537, 3072), serialization.PublicFormat.PKCS1),
}
REFUSED = {
    "rsa-1024": (lambda: _pem(rsa.generate_private_key(65537, 1024)), "at least 2048 bits"),
    "rsa-1024 PKCS#1": (lambda: _pem(rsa.generate_private_key(65537, 1024), serialization.PublicFormat.PKCS1),
                        "at least 2048 bits"),
    "ec": (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "must be X25519 or RSA, not an EC key"),
    "ed25519": (lambda: _pem(ed25519.Ed25519PrivateKey.generate()), "must be X25519 or RSA, not an Ed25519 key"),
    "not PEM": (lambda: b"hello", "not a PEM public key"),
    "empty": (lambda: b"", "not a PEM public key"),
    "bad base64": (lambda: b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
    "truncated": (lambda: _rewrap(_der(GOOD["x25519"]())[:-5]), "not a PEM public key"),
    "trailing data": (lambda: _rewrap(_der(GOOD["x25519"]()) + b"\0\0"), "not a PEM public key"),
    "short x25519": (lambda: _rewrap(bytes.fromhex("3029300506032b656e032000") + bytes(31)), "not a PEM public key"),
    "private key": (lambda: x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "not a PEM public key"),
}


def _der(pem: bytes) -> bytes:
    key = serialization.load_pem_public_key(pem)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _rewrap(der: bytes) -> bytes:
    return b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"


@pytest.mark.parametrize("name", GOOD)
def test_a_key_the_station_can_seal_to_passes_the_start_check(name: str) -> None:
    pem = GOOD[name]()
    check_public_key(pem)
    load_public_key(pem)  # and cryptography agrees


@pytest.mark.parametrize("name", REFUSED)
def test_a_key_the_station_cannot_seal_to_stops_it_at_start(name: str) -> None:
    make, words = REFUSED[name]
    pem = make()
    with pytest.raises(EscrowError, match=words):
        check_public_key(pem)
    with pytest.raises(EscrowError):  # cryptography refuses it too
        load_public_key(pem)


def test_an_unreadable_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(EscrowError, match="cannot read the escrow public key") as caught:
        read_public_key(tmp_path / "missing.pem")
    assert "station pins keygen" in caught.value.remedy


@pytest.mark.parametrize("name", ["x25519", "rsa-2048"])
def test_the_deferred_sealer_seals_what_the_private_key_opens(tmp_path: Path, name: str) -> None:
    private = x25519.X25519PrivateKey.generate() if name == "x25519" else rsa.generate_private_key(65537, 2048)
    (tmp_path / "pub.pem").write_bytes(_pem(private))
    sealer = DeferredEscrow(tmp_path / "pub.pem")
    sealed = [sealer.seal("482913", context_for(7)), sealer.seal("482913", context_for(7))]
    assert all(open_sealed(private, s, context_for(7)) == "482913" for s in sealed)
    assert sealed[0] != sealed[1] and "482913" not in sealed[0]
    with pytest.raises(EscrowError):
        open_sealed(private, sealed[0], context_for(8))
