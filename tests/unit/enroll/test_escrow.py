"""PIN escrow: sealed to the operator's public key, opened only with the private key and the right row."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from station.enroll.escrow import (
    Escrow,
    EscrowError,
    context_for,
    generate_keypair,
    load_private_key,
    load_public_key,
    open_sealed,
)


def test_x25519_round_trip_and_keygen_file_modes(tmp_path: Path) -> None:
    pub, priv = generate_keypair(tmp_path / "keys")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    sealed = Escrow.from_file(pub).seal("48213905", context_for(7))
    assert sealed.startswith("x25519:v1:") and "48213905" not in sealed
    assert open_sealed(load_private_key(priv.read_bytes()), sealed, context_for(7)) == "48213905"


def test_each_seal_is_different(tmp_path: Path) -> None:
    pub, _ = generate_keypair(tmp_path)
    escrow = Escrow.from_file(pub)
    assert escrow.seal("48213905", "c") != escrow.seal("48213905", "c")


def test_a_sealed_pin_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    pub, priv = generate_keypair(tmp_path)
    sealed = Escrow.from_file(pub).seal("48213905", context_for(7))
    with pytest.raises(EscrowError):
        open_sealed(load_private_key(priv.read_bytes()), sealed, context_for(8))


def test_another_private_key_does_not_open(tmp_path: Path) -> None:
    pub, _ = generate_keypair(tmp_path / "a")
    _, other = generate_keypair(tmp_path / "b")
    sealed = Escrow.from_file(pub).seal("48213905", "c")
    with pytest.raises(EscrowError):
        open_sealed(load_private_key(other.read_bytes()), sealed, "c")


def test_rsa_oaep_round_trip() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    sealed = Escrow(load_public_key(pem)).seal("770193", "ctx")
    assert sealed.startswith("rsa-oaep:v1:")
    assert open_sealed(private, sealed, "ctx") == "770193"


def test_unsuitable_keys_are_refused(tmp_path: Path) -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(EscrowError):
        load_public_key(ec_pem)
    with pytest.raises(EscrowError):
        Escrow.from_file(tmp_path / "missing.pem")


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    generate_keypair(tmp_path)
    with pytest.raises(EscrowError):
        generate_keypair(tmp_path)
