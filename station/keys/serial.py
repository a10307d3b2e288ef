"""The serial a technician can read printed on a key, where the key tells it.

YubiKeys (and Yubico's Security Keys) do not expose a USB serial by default, but their management
application does: yubikey-manager's library ``yubikit`` reads it — over the FIDO HID interface with a CTAPHID
vendor command (the ``CtapDevice`` the station already has open is a yubikit ``FidoConnection``), and over
NFC by selecting the management applet, after which the FIDO applet is selected again. yubikit rather than
hand-written vendor commands: it is Yubico's own implementation of the paging, TLV layout and firmware
differences. Other keys give their USB iSerial where they have one. With enterprise attestation on, a key
that told none may name its serial in the attestation certificate (known only once the credential exists: too
late for pre-assignment, in time for the inventory). Otherwise there is no serial and the inventory uses a
fingerprint of the key's passkey instead.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.x509.oid import NameOID
from fido2.ctap import CtapDevice, CtapError
from fido2.webauthn import AttestationObject
from yubikit.core import TRANSPORT, CommandError
from yubikit.core.smartcard import SmartCardConnection
from yubikit.management import ManagementSession

log = logging.getLogger(__name__)

_VENDOR_WORDS = ("yubikey", "yubico")


def is_yubico(model: str) -> bool:
    """Whether the catalogue's model name is one of Yubico's (whose keys answer the management commands)."""
    name = model.lower()
    return any(word in name for word in _VENDOR_WORDS)


def read_serial(device: CtapDevice, model: str) -> str | None:
    """The key's printed serial (Yubico keys), else its USB serial, else None."""
    if is_yubico(model):
        serial = _yubico_serial(device)
        if serial:
            return serial
    return usb_serial(device)


def usb_serial(device: CtapDevice) -> str | None:
    """The USB iSerial string a HID key's descriptor carries, if any."""
    descriptor = getattr(device, "descriptor", None)
    serial = getattr(descriptor, "serial_number", None)
    return str(serial) if serial else None


@runtime_checkable
class ApduDevice(Protocol):
    """python-fido2's PC/SC device (``CtapPcscDevice``), named by what is used of it, so that this module
    does not import pyscard."""

    def apdu_exchange(self, apdu: bytes, protocol: int | None = None) -> tuple[bytes, int, int]: ...
    def _select(self) -> None: ...


class _PcscManagement(SmartCardConnection):
    """A yubikit smart-card connection over the PC/SC device python-fido2 already holds."""

    def __init__(self, device: ApduDevice) -> None:
        self.device = device

    @property
    def transport(self) -> TRANSPORT:
        return TRANSPORT.NFC

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        response, sw1, sw2 = self.device.apdu_exchange(apdu)
        return response, sw1 << 8 | sw2


def _yubico_serial(device: CtapDevice) -> str | None:
    try:
        if isinstance(device, ApduDevice):
            try:
                info = ManagementSession(_PcscManagement(device)).read_device_info()
            finally:
                device._select()  # back to the FIDO applet for the enrolment
        else:
            info = ManagementSession(device).read_device_info()
    except (CommandError, CtapError, ValueError) as e:
        log.info("the key did not tell its serial through its management application: %s", e)
        return None
    return str(info.serial) if info.serial else None


def attested_serial(attestation_object: bytes) -> str | None:
    """The serial an enterprise attestation certificate names (its subject's serialNumber), if any."""
    try:
        statement = AttestationObject(attestation_object).att_stmt
        chain = statement.get("x5c") or []
        if not chain:
            return None
        names = x509.load_der_x509_certificate(bytes(chain[0])).subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    except (ValueError, TypeError, KeyError):
        return None
    value = names[0].value if names else None
    return str(value) if value else None
