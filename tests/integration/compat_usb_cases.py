"""The USB half of the compatibility matrix; test_compat_matrix.py runs this module under umockdev-wrapper.

Every key profile, under the default and the "require" policy, plugged into a umockdev hidraw port → pyudev
→ ``UsbWatcher`` → engine (fido2's Linux backend) → Entra emulator. One station per policy, one key at a
time; the cells go to build/compat-matrix/usb.json for the parent to assert and tabulate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compat_matrix import POLICIES, Cell, run_cell, save
from enrol_harness import Station, build_station
from fido2.ctap import CtapDevice
from fido2.hid import CtapHidDevice
from fido2.hid.linux import get_descriptor, open_connection

from station.hid.usb import UsbWatcher
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.profiles import PROFILES
from station_emulator.key.umockdev_hid import HidrawHandle, HidrawTestbed


def test_usb_matrix(tmp_path: Path) -> None:
    cells: list[Cell] = []
    with EntraEmulator(users=len(PROFILES) * len(POLICIES) + 2, seed=71) as emu, HidrawTestbed() as testbed:
        for p_index, (policy, settings) in enumerate(POLICIES.items()):
            station = build_station(emu, tmp_path / policy, prefetch=0, **settings)
            watcher = UsbWatcher()
            watcher.start(station.engine.key_attached, station.engine.key_removed)
            station.queue_users(len(PROFILES), start=p_index * len(PROFILES))
            try:
                cells += [_cell(station, testbed, profile, policy) for profile in PROFILES]
            finally:
                watcher.stop()
                station.close()
    save(cells, "usb")


def _cell(station: Station, testbed: HidrawTestbed, profile: str, policy: str) -> Cell:
    handles: list[HidrawHandle] = []

    def plug(key: VirtualKey) -> Callable[[], None]:
        handle = testbed.add_fido_key(key, port="1-4")
        handles.append(handle)
        return lambda: testbed.remove(handle)

    def open_key() -> CtapDevice:
        descriptor = get_descriptor(handles[-1].devnode)
        return CtapHidDevice(descriptor, open_connection(descriptor))

    try:
        return run_cell(station, profile, "usb", policy, plug, open_key)
    except Exception as e:  # one broken cell is reported as such; the others still run
        return Cell(profile, "usb", policy, f"error: {type(e).__name__}: {e}"[:300])
