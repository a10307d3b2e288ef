"""The emulator's attestation CA and the per-model attestation certificates it issues.

Every key is derived deterministically from a fixed, published seed, so the root certificate is the same
in every process and on every machine: an RP (or Station's own policy) can pin it. This is an emulator CA;
its keys are not secret and must never be trusted for real hardware.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

ROOT_SEED = b"station virtual security key attestation root v1"
LEAF_SEED = b"station virtual security key attestation leaf v1"
ID_FIDO_GEN_CE_AAGUID = ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")

_NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
_ORG = "Station Emulator"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _derive_key(*parts: bytes) -> ec.EllipticCurvePrivateKey:
    digest = hashlib.sha256(b"\0".join(parts)).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _serial(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"serial\0" + b"\0".join(parts)).digest()[:16], "big") >> 1


@dataclass(frozen=True)
class AttestationSigner:
    """An attestation certificate (DER) and its private key."""

    certificate: bytes
    key: ec.EllipticCurvePrivateKey

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


@lru_cache(maxsize=1)
def _root() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _derive_key(ROOT_SEED)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, "Station Emulator Attestation Root CA"),
    ])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial(ROOT_SEED))
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    return cert, key


def attestation_root_pem() -> bytes:
    """The attestation root CA certificate (PEM); identical in every process."""
    return _root()[0].public_bytes(serialization.Encoding.PEM)


def attestation_root_der() -> bytes:
    return _root()[0].public_bytes(serialization.Encoding.DER)


@lru_cache(maxsize=64)
def attestation_signer(aaguid: UUID, serial: str | None = None) -> AttestationSigner:
    """The batch attestation certificate for a key model; with ``serial``, an enterprise one naming the key.

    The certificate carries the id-fido-gen-ce-aaguid extension when the AAGUID is not all zeros (U2F).
    """
    root_cert, root_key = _root()
    parts = [LEAF_SEED, aaguid.bytes] + ([serial.encode()] if serial is not None else [])
    key = _derive_key(*parts)
    subject = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"Station Virtual Key {aaguid}"),
    ]
    if serial is not None:
        subject.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial(*parts))
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
    )
    if aaguid.int != 0:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ID_FIDO_GEN_CE_AAGUID, b"\x04\x10" + aaguid.bytes), critical=False
        )
    cert = builder.sign(root_key, hashes.SHA256(), ecdsa_deterministic=True)
    return AttestationSigner(cert.public_bytes(serialization.Encoding.DER), key)
