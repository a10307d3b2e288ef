"""Deleting an orphan credential — made on the key but never registered — through credentialManagement."""

from __future__ import annotations

import logging

from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, CredentialManagement, Ctap2
from fido2.webauthn import PublicKeyCredentialDescriptor, PublicKeyCredentialType

log = logging.getLogger(__name__)


def delete_orphan(ctap: Ctap2, client_pin: ClientPin, pin: str, credential_id: bytes) -> bool:
    """Delete ``credential_id`` from the key. False when the key cannot (no credMgmt) or refuses."""
    if not CredentialManagement.is_supported(ctap.info):
        return False
    try:
        token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.CREDENTIAL_MGMT)
        CredentialManagement(ctap, client_pin.protocol, token).delete_cred(
            PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=credential_id))
    except (CtapError, OSError) as e:
        log.warning("could not delete the orphan credential from the key: %s", e)
        return False
    return True
