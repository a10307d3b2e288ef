"""Recognising FIDO interfaces by their HID report descriptor (the fallback when udev set no ID_FIDO_TOKEN)."""

from __future__ import annotations

from fido2.hid.base import parse_report_descriptor

from station.hid.rdesc import application_usages, is_fido
from station_emulator.key.umockdev_hid import FIDO_REPORT_DESCRIPTOR, KEYBOARD_REPORT_DESCRIPTOR

# Global items before the usage page, and report size/count before the usages.
FIDO_VARIANT = bytes.fromhex("150026ff0006d0f17508954009 01a101092081020921 9102c0".replace(" ", ""))
# Usage page carried inside a 4-byte Usage item instead of a Usage Page item.
EXTENDED_USAGE = bytes.fromhex("0b0100d0f1a101c0")
# A mouse with a FIDO-looking usage nested inside its application collection: not a FIDO interface.
NESTED = bytes.fromhex("05010902a10106d0f10901a100c0c0")


def test_fido_descriptors_are_recognised() -> None:
    assert is_fido(FIDO_REPORT_DESCRIPTOR)
    assert is_fido(FIDO_VARIANT)
    assert is_fido(EXTENDED_USAGE)


def test_other_descriptors_are_not() -> None:
    assert application_usages(KEYBOARD_REPORT_DESCRIPTOR) == [(0x01, 0x06)]
    assert not is_fido(KEYBOARD_REPORT_DESCRIPTOR)
    assert not is_fido(NESTED)
    assert not is_fido(b"")


def test_truncated_descriptor_does_not_raise() -> None:
    for cut in range(len(FIDO_REPORT_DESCRIPTOR)):
        is_fido(FIDO_REPORT_DESCRIPTOR[:cut])
    assert not is_fido(FIDO_REPORT_DESCRIPTOR[:5])


def test_emulated_descriptor_satisfies_fido2s_own_parser() -> None:
    assert parse_report_descriptor(FIDO_REPORT_DESCRIPTOR) == (64, 64)
