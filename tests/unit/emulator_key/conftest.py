"""Fixtures for the virtual key's tests: plug a key in through the in-process CTAPHID face."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice

from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device


@pytest.fixture
def plug() -> Iterator[Callable[[VirtualKey], CtapHidDevice]]:
    """Open a python-fido2 CtapHidDevice on a key; every device is closed after the test."""
    devices: list[CtapHidDevice] = []

    def _plug(key: VirtualKey) -> CtapHidDevice:
        device = open_virtual_device(key)
        devices.append(device)
        return device

    yield _plug
    for device in devices:
        device.close()


@pytest.fixture
def ctap(plug: Callable[[VirtualKey], CtapHidDevice]) -> Callable[[VirtualKey], Ctap2]:
    """A fresh Ctap2 session (getInfo re-read) on a key."""
    return lambda key: Ctap2(plug(key))
