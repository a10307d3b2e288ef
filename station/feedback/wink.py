"""The key's own signal: CTAPHID WINK, which makes a USB key flash its light.

Only CTAPHID devices that announce the WINK capability in their INIT response can wink; an NFC key (PC/SC)
has no such command. A wink is a courtesy: any failure (the key was pulled already) is logged, never raised.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeGuard

from fido2.ctap import CtapDevice

if TYPE_CHECKING:
    from fido2.hid import CtapHidDevice

log = logging.getLogger(__name__)


def can_wink(device: CtapDevice) -> TypeGuard[CtapHidDevice]:
    # python-fido2's HID module loads cryptography; a device to wink means it is loaded already.
    from fido2 import hid

    return isinstance(device, hid.CtapHidDevice) and bool(device.capabilities & hid.CAPABILITY.WINK)


def wink(device: CtapDevice) -> bool:
    """Ask the key to wink; True when it acknowledged."""
    if not can_wink(device):
        return False
    try:
        device.wink()
    except Exception as e:
        log.debug("the key did not wink: %s", e)
        return False
    return True
