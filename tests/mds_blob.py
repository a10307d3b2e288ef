"""MDS3 BLOBs for tests: the real May 2025 payload (or any payload) signed as a JWT by a test CA made here.

The payload is the real one (FIDO MDS3 BLOB no. 163, nextUpdate 2025-06-01), kept compressed in
``tests/data``. ``TestMds`` holds a root, an intermediate and a signing certificate (as FIDO's chain has);
``blob(payload)`` signs it RS256 with x5c [leaf, intermediate], as FIDO's are. ``real_payload()`` reads the
reference payload, and ``with_entry`` adds an entry for any AAGUID (a virtual key's model, with the virtual
keys' root).
"""

from __future__ import annotations

import copy
import datetime
import json
import lzma
from base64 import b64encode
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fido2.utils import websafe_encode

PAYLOAD_FILE = Path(__file__).parent / "data" / "mds3-payload-2025-05.json.xz"
REVOKED_AAGUID = "ba86dc56-635f-4141-aef6-00227b1b9af6"  # TruU Windows Authenticator: REVOKED in BLOB no. 163
YUBIKEY_5_AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Station Tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey,
          *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


class TestMds:
    """A private metadata service: its own root, intermediate and BLOB-signing certificate."""

    __test__ = False

    def __init__(self) -> None:
        root_key, mid_key, self._leaf_key = (rsa.generate_private_key(65537, 2048) for _ in range(3))
        self.root = _cert("Test MDS Root", root_key, "Test MDS Root", root_key, ca=True)
        self.intermediate = _cert("Test MDS CA", mid_key, "Test MDS Root", root_key, ca=True)
        self.leaf = _cert("mds.test.invalid", self._leaf_key, "Test MDS CA", mid_key, ca=False)

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def blob(self, payload: dict[str, Any]) -> bytes:
        header = {"alg": "RS256", "typ": "JWT",
                  "x5c": [b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                          for c in (self.leaf, self.intermediate)]}
        message = b".".join(websafe_encode(json.dumps(part).encode()).encode() for part in (header, payload))
        signature = self._leaf_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return message + b"." + websafe_encode(signature).encode()


@cache
def _real_payload() -> str:
    return lzma.decompress(PAYLOAD_FILE.read_bytes()).decode()


def real_payload(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the May 2025 payload, with top-level fields replaced by ``changes``."""
    payload: dict[str, Any] = json.loads(_real_payload())
    payload.update(changes)
    return payload


def with_entry(payload: dict[str, Any], aaguid: str, description: str, *, roots: list[bytes] | None = None,
               statuses: tuple[str, ...] = ("FIDO_CERTIFIED_L1",)) -> dict[str, Any]:
    """``payload`` plus an MDS entry for ``aaguid`` (roots as PEM), modelled on a real FIDO2 entry."""
    template = next(e for e in payload["entries"] if e.get("aaguid") == YUBIKEY_5_AAGUID)
    entry = copy.deepcopy(template)
    entry["aaguid"] = aaguid
    entry["metadataStatement"].update(
        aaguid=aaguid, description=description,
        attestationRootCertificates=[b64encode(x509.load_pem_x509_certificate(pem).public_bytes(
            serialization.Encoding.DER)).decode() for pem in roots or []])
    entry["statusReports"] = [{"status": s, "effectiveDate": "2024-01-01"} for s in statuses]
    payload["entries"] = [e for e in payload["entries"] if e.get("aaguid") != aaguid] + [entry]
    return payload
