"""Checking a new credential's attestation against the model's roots in FIDO's metadata, as Entra does when
attestation is enforced.

``untrusted_attestation(catalogue, aaguid, attestation_object, client_data_hash)`` returns None when the
attestation is a signed statement whose chain leads to one of the roots the model's MDS entry publishes
(python-fido2's ``MdsAttestationVerifier``: its AAGUID lookup, the compromised-attestation-key filter and the
chain check), else the reason it is not, in words for the technician's screen. ``model_unattestable`` is the
part that can be known at insertion, before any PIN is set: the model has no MDS entry or publishes no root.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Final

from fido2.attestation.base import InvalidAttestation, UnsupportedType, UntrustedAttestation
from fido2.mds3 import MdsAttestationVerifier, MetadataBlobPayload, MetadataBlobPayloadEntry
from fido2.webauthn import AttestationObject

from station.keys.catalogue import KeyCatalogue, ModelFacts

UNTRUSTED: Final = "its attestation does not chain to a root FIDO's metadata lists for this model"


def model_unattestable(catalogue: KeyCatalogue, aaguid: str) -> str | None:
    """Why no attestation from this model can be trusted, or None when it can be checked."""
    if not catalogue.loaded:
        return "no FIDO metadata is loaded (station mds load FILE)"
    facts = catalogue.get(aaguid)
    if facts is None:
        return f"FIDO's metadata does not list this model (AAGUID {aaguid})"
    if not facts.roots:
        return f"FIDO's metadata lists no attestation root for {facts.name}"
    return None


def untrusted_attestation(catalogue: KeyCatalogue, aaguid: str, attestation_object: bytes,
                          client_data_hash: bytes) -> str | None:
    """None when the attestation is trusted; else why not."""
    unattestable = model_unattestable(catalogue, aaguid)
    if unattestable is not None:
        return unattestable
    facts = catalogue.get(aaguid)
    assert facts is not None
    attestation = AttestationObject(attestation_object)
    if not attestation.att_stmt.get("x5c"):
        return f"the key sent no attestation certificate ({attestation.fmt!r} attestation)"
    try:
        _verifier(facts).verify_attestation(attestation, client_data_hash)
    except (UntrustedAttestation, UnsupportedType):
        return UNTRUSTED
    except InvalidAttestation as e:
        return f"its attestation statement is invalid: {e}"
    return None


def _verifier(facts: ModelFacts) -> MdsAttestationVerifier:
    cached = _VERIFIERS.get(facts.aaguid)
    if cached is None or cached[0] is not facts:
        entry = MetadataBlobPayloadEntry.from_dict(json.loads(facts.entry_json))
        payload = MetadataBlobPayload(legal_header="", no=0, next_update=date.max, entries=[entry])
        cached = (facts, MdsAttestationVerifier(payload))
        _VERIFIERS[facts.aaguid] = cached
    return cached[1]


# One verifier per model, built on first use (parsing an entry takes milliseconds; a lookup does not).
_VERIFIERS: dict[str, tuple[ModelFacts, MdsAttestationVerifier]] = {}
