"""What a YubiKey's management application answers, so that yubikey-manager's ``yubikit`` reads the serial of
a virtual key of a YubiKey profile as it reads a real one's: the CTAPHID vendor command READ_CONFIG over USB,
and over NFC the management applet (SELECT, then READ CONFIG). The answer is the DeviceInfo TLV list of one
page: serial, firmware version, form factor, and FIDO (U2F + FIDO2) supported and enabled on each transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey

AID_MANAGEMENT: Final = bytes.fromhex("A000000527471117")
CTAPHID_READ_CONFIG: Final = 0x42  # yubikit's CTAP_VENDOR_FIRST + 2
INS_READ_CONFIG: Final = 0x1D
MIN_FIRMWARE: Final = 0x040100  # DeviceInfo exists from firmware 4.1

_USB_SUPPORTED, _SERIAL, _USB_ENABLED, _FORM_FACTOR, _VERSION = 0x01, 0x02, 0x03, 0x04, 0x05
_NFC_SUPPORTED, _NFC_ENABLED = 0x0D, 0x0E
_FIDO_CAPABILITIES: Final = (0x0200 | 0x0002).to_bytes(2, "big")  # FIDO2 | U2F
_USB_A_KEYCHAIN: Final = b"\x01"


def answers(key: VirtualKey) -> bool:
    """Whether this virtual key imitates a YubiKey whose management application tells its serial."""
    return "yubikey" in key.profile_spec.product_name.lower() and key.firmware >= MIN_FIRMWARE


def device_info(key: VirtualKey) -> bytes:
    """READ CONFIG's answer: a length byte, then the TLVs."""
    fields = [(_USB_SUPPORTED, _FIDO_CAPABILITIES), (_USB_ENABLED, _FIDO_CAPABILITIES),
              (_FORM_FACTOR, _USB_A_KEYCHAIN), (_VERSION, key.firmware.to_bytes(3, "big"))]
    if key.serial.isdigit() and int(key.serial) < 1 << 32:
        fields.append((_SERIAL, int(key.serial).to_bytes(4, "big")))
    if "nfc" in (key.profile_spec.transports or ()):
        fields += [(_NFC_SUPPORTED, _FIDO_CAPABILITIES), (_NFC_ENABLED, _FIDO_CAPABILITIES)]
    body = b"".join(bytes([tag, len(value)]) + value for tag, value in fields)
    return bytes([len(body)]) + body


def version_text(key: VirtualKey) -> bytes:
    """SELECT of the management applet answers the firmware version as text, e.g. b"5.7.1"."""
    fw = key.firmware
    return f"{fw >> 16}.{(fw >> 8) & 0xFF}.{fw & 0xFF}".encode()
