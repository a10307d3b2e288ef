"""Choosing the PIN/UV auth protocol a key is spoken to with, and falling back from 2 to 1.

python-fido2's ``ClientPin`` picks the newest protocol both sides list. A FIDO 2.0 key may list none (the
field is optional in CTAP 2.0) and still take protocol 1; some keys list protocol 2 and then answer
PIN_AUTH_INVALID to it (Token2 T2F2, kanidm/webauthn-rs#269). Setting the PIN is the first call that uses
the protocol, and it changes nothing on the key when it fails that way, so it is tried once more with
protocol 1, and the rest of the enrolment uses the protocol that worked.
"""

from __future__ import annotations

import logging

from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.ctap2.pin import PinProtocolV1

from station.enroll.key_answers import KeyClientPin

log = logging.getLogger(__name__)


def client_pin_for(ctap: Ctap2) -> ClientPin:
    """A ``ClientPin`` with the newest protocol both sides list; protocol 1 for a key that lists none."""
    if not ctap.info.pin_uv_protocols:
        return KeyClientPin(ctap, PinProtocolV1())
    return KeyClientPin(ctap)


def set_pin(ctap: Ctap2, client_pin: ClientPin, pin: str) -> ClientPin:
    """Set ``pin``; returns the ``ClientPin`` that worked (protocol 1 after a protocol 2 the key fails)."""
    try:
        client_pin.set_pin(pin)
        return client_pin
    except CtapError as e:
        if not (e.code == CtapError.ERR.PIN_AUTH_INVALID and client_pin.protocol.VERSION == 2
                and 1 in ctap.info.pin_uv_protocols):
            raise
    log.warning("the key lists PIN protocol 2 but failed it; setting the PIN with protocol 1")
    fallback = KeyClientPin(ctap, PinProtocolV1())
    fallback.set_pin(pin)
    return fallback
