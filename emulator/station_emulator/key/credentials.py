"""Credentials of a virtual key: key material wrapped inside the credential id, plus resident records.

A credential id is ``version || nonce || AES-GCM(master key, {seed, alg, credProtect}, aad=rpIdHash)``: the
key recognises only ids it made, for the RP they were made for, and needs to store nothing for
non-resident credentials. The private key and the hmac-secret CredRandom values derive from the seed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fido2 import cbor
from fido2.cose import ES256, CoseKey, EdDSA

_ID_VERSION = b"\x01"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SUPPORTED_ALGORITHMS = (ES256.ALGORITHM, EdDSA.ALGORITHM)


def _hkdf(seed: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(seed)


@dataclass(frozen=True)
class Credential:
    """A credential's secret part, recovered from its id."""

    id: bytes
    rp_id_hash: bytes
    alg: int
    cred_protect: int
    seed: bytes = field(repr=False)

    def private_key(self) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
        material = _hkdf(self.seed, b"credential private key")
        if self.alg == EdDSA.ALGORITHM:
            return ed25519.Ed25519PrivateKey.from_private_bytes(material)
        scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def cose_public_key(self) -> CoseKey:
        return CoseKey.for_alg(self.alg).from_cryptography_key(self.private_key().public_key())

    def sign(self, data: bytes) -> bytes:
        key = self.private_key()
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    def cred_random(self, uv: bool) -> bytes:
        """The hmac-secret CredRandom: one value for assertions with UV, another without."""
        return _hkdf(self.seed, b"hmac-secret with uv" if uv else b"hmac-secret without uv")

    def hmac_secret(self, uv: bool, salt: bytes) -> bytes:
        return hmac.new(self.cred_random(uv), salt, hashlib.sha256).digest()


class CredentialFactory:
    """Makes credential ids under a master key and recognises them again."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)

    def create(self, rp_id_hash: bytes, alg: int, cred_protect: int) -> Credential:
        seed = os.urandom(32)
        nonce = os.urandom(12)
        payload = cbor.encode({1: seed, 2: alg, 3: cred_protect})
        cred_id = _ID_VERSION + nonce + self._aead.encrypt(nonce, payload, rp_id_hash)
        return Credential(cred_id, rp_id_hash, alg, cred_protect, seed)

    def recognise(self, cred_id: bytes, rp_id_hash: bytes) -> Credential | None:
        """The credential behind ``cred_id`` if this key made it for this RP, else None."""
        if len(cred_id) < 30 or cred_id[:1] != _ID_VERSION:
            return None
        try:
            payload: Any = cbor.decode(self._aead.decrypt(cred_id[1:13], cred_id[13:], rp_id_hash))
        except (InvalidTag, ValueError):
            return None
        return Credential(cred_id, rp_id_hash, payload[2], payload[3], payload[1])


@dataclass
class ResidentCredential:
    """A discoverable credential as the key stores it: id, RP and user entities, creation order."""

    credential_id: bytes
    rp_id_hash: bytes
    rp: dict[str, Any]
    user: dict[str, Any]
    created: int

    @property
    def rp_id(self) -> str:
        return str(self.rp.get("id", ""))

    @property
    def user_id(self) -> bytes:
        return bytes(self.user.get("id", b""))
