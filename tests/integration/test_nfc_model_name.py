"""An unknown key model at an NFC reader (virtual key → vpcd → pcscd → NfcWatcher → engine → Entra emulator)
is named after its AAGUID — "Security key (AAGUID …)" on the dashboard, "Security key <date>" in Entra ID —
never after the reader ("NFC security key in Virtual PCD 00 00" used to become the passkey's name)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from enrol_harness import build_station

from station.events import EnrolmentDone, KeyInspected
from station.hid.nfc import NfcWatcher
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.vpcd import VpcdCard

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack

UNKNOWN = "0d15ea5e-0000-4000-8000-00000000c0de"


def test_an_unknown_model_is_named_by_its_aaguid_not_the_reader(tmp_path: Path, running_pcscd: Pcscd) -> None:
    with EntraEmulator(users=2, seed=29) as emu:
        station = build_station(emu, tmp_path, prefetch=0)
        watcher = NfcWatcher()
        watcher.start(station.engine.key_attached, station.engine.key_removed)
        try:
            (user,) = station.queue_users(1)
            with VpcdCard(VirtualKey("fido21", aaguid=UNKNOWN, finger=Finger.after(0.2)),
                          port=running_pcscd.vpcd_port()):
                done = station.events.wait_for(EnrolmentDone, timeout=30)
            assert station.events.of(KeyInspected)[0].model == f"Security key (AAGUID {UNKNOWN})"
            (method,) = emu.tenant.methods_of(user["id"])
            assert method.display_name == done.display_name
            assert done.display_name.startswith("Security key 20"), done.display_name
            assert "NFC" not in done.display_name and running_pcscd.reader() not in done.display_name
        finally:
            watcher.stop()
            station.close()
