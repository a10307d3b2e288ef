"""The serial printed on a key: yubikit reads a YubiKey-profile virtual key's serial through its management
application (CTAPHID vendor command; NFC management applet through real pcscd + vpcd), pre-assignment by that
serial serves the key to its person, the inventory records it, and `queue export` → `import-csv` keeps
pre-assignments."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from enrol_harness import Station, build_station
from support.store_helpers import assign_key
from support.waiting import wait_idle

from station.cli import main
from station.events import EnrolmentDone
from station.hid.nfc import NfcWatcher
from station.hid.nfc_device import open_ctap_device
from station.keys.serial import read_serial
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device
from station_emulator.key.vpcd import VpcdCard

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
PRINTED = "31415926"
YUBIKEY = "YubiKey 5 Series with NFC"


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=6, seed=61) as e:
        yield e


def test_yubikit_reads_the_printed_serial_over_the_fido_hid_interface() -> None:
    device = open_virtual_device(VirtualKey("yubikey5-5.7", serial=PRINTED))
    try:
        assert device.descriptor.serial_number is None, "a YubiKey has no USB serial string"
        assert read_serial(device, YUBIKEY) == PRINTED
    finally:
        device.close()
    other = open_virtual_device(VirtualKey("fido21", serial="SN-77"))
    try:
        assert read_serial(other, YUBIKEY) == "SN-77", "no management answer: the USB serial, as before"
        assert read_serial(other, "Station Virtual Key FIDO2.1") == "SN-77"
    finally:
        other.close()


def enrol_preassigned(station: Station) -> str:
    """Three people queued, the third pre-assigned the key printed PRINTED; returns that person's UPN."""
    people = station.queue_users(3)
    assign_key(station.store.queue, people[2]["userPrincipalName"], PRINTED)
    return str(people[2]["userPrincipalName"])


def test_a_yubikey_preassigned_by_its_printed_serial_goes_to_its_person(emu: EntraEmulator, tmp_path: Path) -> None:
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        upn = enrol_preassigned(station)
        station.keys.insert(VirtualKey("yubikey5-5.7", serial=PRINTED))
        assert station.events.wait_for(EnrolmentDone).upn == upn
        (key,) = station.store.inventory.find()
        assert (key.upn, key.serial, key.identity) == (upn, PRINTED, PRINTED)
    finally:
        station.close()


@pytest.mark.realstack
def test_over_nfc_yubikit_reads_the_serial_and_the_key_goes_to_its_person(
        emu: EntraEmulator, tmp_path: Path, running_pcscd: Pcscd) -> None:
    key = VirtualKey("yubikey5-fips-5.7", serial=PRINTED)
    with VpcdCard(key, port=running_pcscd.vpcd_port()):
        running_pcscd.wait_for_card()
        device = open_ctap_device(running_pcscd.reader())
        try:
            assert read_serial(device, "YubiKey 5 FIPS Series with NFC") == PRINTED
        finally:
            device.close()
    running_pcscd.wait_for_card(present=False)
    station = build_station(emu, tmp_path, prefetch=0)
    watcher = NfcWatcher()
    watcher.start(station.engine.key_attached, station.engine.key_removed)
    try:
        upn = enrol_preassigned(station)
        with VpcdCard(key, port=running_pcscd.vpcd_port()):
            assert station.events.wait_for(EnrolmentDone, timeout=30).upn == upn
        (record,) = station.store.inventory.find()
        assert (record.serial, record.model) == (PRINTED, "YubiKey 5 FIPS Series with NFC")
    finally:
        watcher.stop()
        station.close()


def export_csv(capsys: pytest.CaptureFixture[str], store: str) -> str:
    capsys.readouterr()
    assert main(["queue", "export", "--format", "csv", "--store", store]) == 0
    return capsys.readouterr().out


def rows_of(text: str) -> list[tuple[str, str, str]]:
    return [(r["upn"], r["display_name"], r["key_serial"]) for r in csv.DictReader(io.StringIO(text))]


def test_queue_export_carries_key_serial_and_imports_again(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_STATE_DIR", str(tmp_path))
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    assert main(["queue", "add", "--upn", "kim@contoso.com", "--name", "Kim", "--key-serial", PRINTED,
                 "--store", first]) == 0
    assert main(["queue", "add", "--upn", "lee@contoso.com", "--name", "Lee", "--store", first]) == 0
    text = export_csv(capsys, first)
    assert rows_of(text) == [("kim@contoso.com", "Kim", PRINTED), ("lee@contoso.com", "Lee", "")]
    exported = tmp_path / "queue.csv"
    exported.write_text(text)
    assert main(["queue", "import-csv", str(exported), "--store", second]) == 0
    assert rows_of(export_csv(capsys, second)) == rows_of(text)


def test_with_enterprise_attestation_the_inventory_takes_the_serial_the_certificate_names(
        emu: EntraEmulator, tmp_path: Path) -> None:
    """A key that tells no serial otherwise (this one's management application has none to give) names it in
    its enterprise attestation certificate: the inventory records it."""
    station = build_station(emu, tmp_path, prefetch=0, enterprise_attestation=True)
    try:
        (user,) = station.queue_users(1, start=4)
        station.keys.insert(VirtualKey("yubikey5-5.7", serial="EA-0042", enterprise_attestation=True))
        assert station.events.wait_for(EnrolmentDone).upn == user["userPrincipalName"]
        assert wait_idle(station.engine, 10)
        (key,) = station.store.inventory.find()
        assert (key.serial, key.identity) == ("EA-0042", "EA-0042")
    finally:
        station.close()
