"""PIN escrow round trip through the CLI: enrol, then `station pins export` opens the PIN the key really has,
as CSV and as a printable letter; `station pins keygen` makes the key pair."""

from __future__ import annotations

import csv
import io
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import Station, build_station
from fido2.ctap2 import ClientPin, Ctap2
from support.waiting import wait_idle

from station.cli import main
from station.enroll.escrow import context_for, open_sealed
from station.events import EnrolmentDone
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=5, seed=41) as e:
        yield e


@pytest.fixture
def enrolled(emu: EntraEmulator, tmp_path: Path) -> Iterator[tuple[Station, VirtualKey, dict[str, str]]]:
    station = build_station(emu, tmp_path, prefetch=0, force_pin_change=False)
    (user,) = station.queue_users(1, start=2)
    key = VirtualKey("fido21")
    station.keys.insert(key)
    station.events.wait_for(EnrolmentDone)
    wait_idle(station.engine, 5)
    yield station, key, user
    station.close()


def export(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    private = tmp_path / "escrow-station-1" / "escrow-private.pem"
    code = main(["--store", f"sqlite:///{tmp_path / 'station.db'}", "pins", "export", "--private-key", str(private),
                 "--format", fmt])
    assert code == 0
    return capsys.readouterr().out


def key_accepts(key: VirtualKey, pin: str) -> bool:
    device = open_virtual_device(key)
    try:
        return bool(ClientPin(Ctap2(device)).get_pin_token(pin))
    finally:
        device.close()


def test_csv_export_opens_the_pin_the_key_has(enrolled: tuple[Station, VirtualKey, dict[str, str]],
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    station, key, user = enrolled
    (row,) = list(csv.DictReader(io.StringIO(export(tmp_path, "csv", capsys))))
    assert row["upn"] == user["userPrincipalName"].lower()
    assert row["key_model"] == "Virtual Key 2.1" and row["state"] == "done"
    assert key_accepts(key, row["pin"])
    (journal_row,) = station.store.journal.with_escrow()
    assert row["pin"] not in (journal_row.pin_escrow or "")
    kinds = [e.kind for e in station.store.audit.entries()]
    assert "pins_exported" in kinds
    assert all(row["pin"] not in str(e.detail) for e in station.store.audit.entries())


def test_html_letter_has_name_upn_model_pin_and_first_steps(
        enrolled: tuple[Station, VirtualKey, dict[str, str]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, _, user = enrolled
    pin = next(csv.DictReader(io.StringIO(export(tmp_path, "csv", capsys))))["pin"]
    letter = export(tmp_path, "html", capsys)
    for text in (user["displayName"], user["userPrincipalName"].lower(), "Virtual Key 2.1", pin,
                 "You may keep this PIN"):
        assert text in letter, text
    assert "You will be asked to change the PIN" not in letter, "pin_change = \"off\": nobody will ask"
    assert letter.count('class="letter"') == 1


def test_a_wrong_private_key_opens_nothing(enrolled: tuple[Station, VirtualKey, dict[str, str]],
                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pins", "keygen", "--out", str(tmp_path / "other")]) == 0
    private = tmp_path / "other" / "escrow-private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    capsys.readouterr()
    code = main(["--store", f"sqlite:///{tmp_path / 'station.db'}", "pins", "export", "--private-key", str(private)])
    assert code == 1
    out = capsys.readouterr()
    assert out.out == "" and "does not open" in out.err


def test_the_generated_pin_is_never_shorter_than_the_keys_own_minimum(emu: EntraEmulator, tmp_path: Path) -> None:
    station = build_station(emu, tmp_path, prefetch=0, pin_length=4, pin_change="off")
    try:
        station.queue_users(2, start=3)
        for profile, minimum in (("token2-pinplus", 6), ("yubikey5-fips-5.7", 8)):
            key = VirtualKey(profile)
            slot = station.keys.insert(key).slot
            station.events.wait_for(EnrolmentDone, slot=slot)
            assert wait_idle(station.engine, 5)
            station.keys.remove(slot)
            assert key.state.pin_length == minimum, profile
        rows = station.store.journal.with_escrow()
        assert len(rows) == 2
        pins = [open_sealed(station.private_key(), r.pin_escrow or "", context_for(r.id)) for r in rows]
        assert sorted(len(p) for p in pins) == [6, 8]
    finally:
        station.close()
