"""Verifying a FIDO MDS3 BLOB: a JWT whose x5c chain must lead to FIDO's root.

``verify_blob(data, trust_root)`` checks the signature and chain with python-fido2's ``parse_blob`` (which
checks that each certificate signs the next and the leaf signs the BLOB), adds what it does not check (the
chain's validity dates), and returns the payload as decoded JSON with its number and ``nextUpdate``. A
``nextUpdate`` in the past is a warning: the data is still the best the station has. Anything else wrong is
an :class:`MdsError` naming what to do.
"""

from __future__ import annotations

import hashlib
import json
from base64 import b64decode
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.attestation.base import InvalidSignature as InvalidChain
from fido2.mds3 import parse_blob
from fido2.utils import websafe_decode

from station.errors import Reason, StationError

FIDO_ROOT_RESOURCE: Final = "fido-mds-root-r3.pem"
DOWNLOAD_URL: Final = "https://mds3.fidoalliance.org/"
DOWNLOAD_REMEDY: Final = f"download the BLOB again from {DOWNLOAD_URL} and run station mds load on that file"


class MdsError(StationError):
    reason = Reason.CONFIG_INVALID
    exit_code = 2


@dataclass(frozen=True)
class VerifiedBlob:
    """A BLOB whose signature and chain checked out: its payload, serial number and dates."""

    payload: dict[str, Any]
    number: int
    next_update: date
    signer: str
    sha256: str
    warnings: list[str] = field(default_factory=list)


def fido_root_der() -> bytes:
    """FIDO's MDS root certificate (GlobalSign Root CA - R3), DER."""
    pem = resources.files("station.keys").joinpath("data", FIDO_ROOT_RESOURCE).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def load_root(pem: bytes, name: str) -> bytes:
    """The DER of the single certificate in ``pem``; an MdsError naming ``name`` when there is none."""
    try:
        return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    except ValueError:
        raise MdsError(f"{name}: not a PEM certificate", remedy="pass the root certificate as PEM") from None


def verify_blob(data: bytes, trust_root: bytes) -> VerifiedBlob:
    """Verify ``data`` (the BLOB as downloaded) against ``trust_root`` (DER); MdsError when it does not hold."""
    text = data.strip()
    if text.count(b".") != 2:
        raise MdsError("not an MDS3 BLOB: expected a JWT (three base64url parts separated by dots)",
                       remedy=DOWNLOAD_REMEDY)
    try:
        header = json.loads(websafe_decode(text.split(b".")[0]))
        parse_blob(text, trust_root)
    except (InvalidSignature, InvalidChain):
        raise MdsError("the MDS BLOB's signature or certificate chain does not verify against the trusted root; "
                       "it was not loaded", remedy=DOWNLOAD_REMEDY) from None
    except NotImplementedError:
        raise MdsError(f"the MDS BLOB is signed with an unsupported algorithm ({header.get('alg')!r}); "
                       "it was not loaded", remedy=DOWNLOAD_REMEDY) from None
    except Exception as e:  # anything else a malformed BLOB makes the parsers raise (untrusted input)
        raise MdsError(f"the MDS BLOB cannot be read: {e}; it was not loaded", remedy=DOWNLOAD_REMEDY) from None
    chain = [x509.load_der_x509_certificate(b64decode(c)) for c in header.get("x5c", [])]
    _check_dates(chain, datetime.now(UTC))
    payload = json.loads(websafe_decode(text.split(b".")[1]))
    next_update = date.fromisoformat(payload["nextUpdate"])
    warnings = []
    if next_update < datetime.now(UTC).date():
        warnings.append(f"this BLOB's nextUpdate ({next_update}) has passed: newer metadata exists; "
                        f"loaded anyway — {DOWNLOAD_REMEDY}")
    signer = chain[0].subject.rfc4514_string() if chain else "?"
    return VerifiedBlob(payload, int(payload["no"]), next_update, signer, hashlib.sha256(text).hexdigest(), warnings)


def _check_dates(chain: list[x509.Certificate], now: datetime) -> None:
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise MdsError(f"the BLOB's signing certificate {cert.subject.rfc4514_string()} is not valid now "
                           f"({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}); "
                           "it was not loaded", remedy=DOWNLOAD_REMEDY)

