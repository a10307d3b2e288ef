"""CTAP1/U2F raw messages (ISO 7816-4 APDUs): VERSION, REGISTER, AUTHENTICATE.

U2F has no keepalive: a request needing presence answers SW_CONDITIONS_NOT_SATISFIED until the finger has
touched, and the host polls. The finger's delay counts from the first poll of the same request.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import time
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fido2.cose import ES256
from fido2.ctap import CtapError

from station_emulator.key.attestation import attestation_signer
from station_emulator.key.call import Call

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey

log = logging.getLogger(__name__)

SW_OK = b"\x90\x00"
SW_CONDITIONS_NOT_SATISFIED = b"\x69\x85"
SW_WRONG_DATA = b"\x6a\x80"
SW_WRONG_LENGTH = b"\x67\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"

INS_REGISTER = 0x01
INS_AUTHENTICATE = 0x02
INS_VERSION = 0x03
P1_CHECK_ONLY = 0x07
P1_ENFORCE_PRESENCE = 0x03
P1_DONT_ENFORCE_PRESENCE = 0x08
_POLL_FORGET_AFTER = 60.0


def parse_apdu(apdu: bytes) -> tuple[int, int, int, int, bytes]:
    """CLA, INS, P1, P2 and the command data of a short or extended APDU."""
    if len(apdu) < 4:
        raise ValueError("APDU too short")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return cla, ins, p1, p2, b""
    if body[0] == 0 and len(body) >= 3:
        length = struct.unpack(">H", body[1:3])[0]
        data = body[3:3 + length]
    elif len(body) == 1:
        return cla, ins, p1, p2, b""
    else:
        length = body[0]
        data = body[1:1 + length]
    if len(data) != length:
        raise ValueError("APDU data shorter than its length")
    return cla, ins, p1, p2, data


def process(key: VirtualKey, apdu: bytes, call: Call) -> bytes:
    try:
        cla, ins, p1, _, data = parse_apdu(apdu)
    except ValueError:
        return SW_WRONG_LENGTH
    if cla != 0:
        return SW_CLA_NOT_SUPPORTED
    if ins == INS_VERSION:
        return b"U2F_V2" + SW_OK
    if ins == INS_REGISTER:
        return _register(key, data, call)
    if ins == INS_AUTHENTICATE:
        return _authenticate(key, p1, data, call)
    return SW_INS_NOT_SUPPORTED


def _touched(key: VirtualKey, request: bytes, call: Call) -> bool:
    """Non-blocking presence check for a polled U2F request."""
    now = time.monotonic()
    digest = hashlib.sha256(request).digest()
    pending = key.u2f_poll
    started = pending[1] if pending is not None and pending[0] == digest and now - pending[1] < \
        _POLL_FORGET_AFTER else now
    key.u2f_poll = (digest, started)
    try:
        key.require_presence(call, started=started, timeout=0.0)
    except CtapError:
        return False
    key.u2f_poll = None
    return True


def _register(key: VirtualKey, data: bytes, call: Call) -> bytes:
    if len(data) != 64:
        return SW_WRONG_LENGTH
    challenge, app_param = data[:32], data[32:]
    if not _touched(key, data, call):
        return SW_CONDITIONS_NOT_SATISFIED
    credential = key.credentials.create(app_param, ES256.ALGORITHM, 1)
    private = credential.private_key()
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    public = private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    signer = attestation_signer(key.aaguid)
    signed = b"\x00" + app_param + challenge + credential.id + public
    log.debug("U2F credential registered")
    return (b"\x05" + public + bytes([len(credential.id)]) + credential.id + signer.certificate
            + signer.sign(signed) + SW_OK)


def _authenticate(key: VirtualKey, p1: int, data: bytes, call: Call) -> bytes:
    if len(data) < 65 or len(data) != 65 + data[64]:
        return SW_WRONG_LENGTH
    challenge, app_param, key_handle = data[:32], data[32:64], data[65:]
    credential = key.credentials.recognise(key_handle, app_param)
    if credential is None:
        return SW_WRONG_DATA
    if p1 == P1_CHECK_ONLY:
        return SW_CONDITIONS_NOT_SATISFIED
    if p1 == P1_ENFORCE_PRESENCE:
        if not _touched(key, data, call):
            return SW_CONDITIONS_NOT_SATISFIED
        flags = 0x01
    elif p1 == P1_DONT_ENFORCE_PRESENCE:
        flags = 0x00
    else:
        return SW_WRONG_DATA
    counter = struct.pack(">I", key.next_signature_count())
    key.save()
    signature = credential.sign(app_param + bytes([flags]) + counter + challenge)
    return bytes([flags]) + counter + signature + SW_OK
