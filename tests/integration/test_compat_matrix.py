"""The compatibility matrix, generated on every full run: each key profile × {USB through umockdev, NFC through
pcscd + vpcd} × {default policy, pin_change = "require"} → enrolled with the PIN change enforced, enrolled
with the PIN change by letter, or refused with a reason and a remedy.

USB cells run in a child under umockdev-wrapper (compat_usb_cases.py), NFC cells here against the session's
pcscd; each enrolled cell proves the escrowed PIN on the key and the tenant's verified attestation
(compat_matrix.py). The table goes to build/compat-matrix.md; ``make docs`` copies it into the README.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from compat_matrix import POLICIES, TABLE, Cell, expected, load, run_cell, save, write_table
from enrol_harness import Station, build_station
from fido2.ctap import CtapDevice
from umockdev_child import Verdicts, report, run_cases

from station.hid.nfc import NfcWatcher
from station.hid.nfc_device import open_ctap_device
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.profiles import PROFILES
from station_emulator.key.vpcd import VpcdCard

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack

USB_CASES = Path(__file__).with_name("compat_usb_cases.py")
CELLS = [(profile, policy) for policy in POLICIES for profile in PROFILES]


@pytest.fixture(scope="module")
def usb_run(tmp_path_factory: pytest.TempPathFactory) -> Verdicts:
    return run_cases(USB_CASES, tmp_path_factory.mktemp("compat-usb"), timeout=240)


@pytest.fixture(scope="module")
def usb_cells(usb_run: Verdicts) -> dict[tuple[str, str], Cell]:
    report("test_usb_matrix", usb_run)
    return {(c.profile, c.policy): c for c in load("usb")}


@pytest.fixture(scope="module")
def nfc_cells(tmp_path_factory: pytest.TempPathFactory, pcscd: Pcscd) -> Iterator[dict[tuple[str, str], Cell]]:
    if not pcscd.running:
        pcscd.start()
    cells: list[Cell] = []
    tmp = tmp_path_factory.mktemp("compat-nfc")
    with EntraEmulator(users=len(CELLS) + 2, seed=72) as emu:
        for p_index, (policy, settings) in enumerate(POLICIES.items()):
            station = build_station(emu, tmp / policy, prefetch=0, **settings)
            station.queue_users(len(PROFILES), start=p_index * len(PROFILES))
            watcher = NfcWatcher()
            watcher.start(station.engine.key_attached, station.engine.key_removed)
            try:
                for profile in PROFILES:
                    cells.append(_nfc_cell(station, profile, policy, pcscd))
            finally:
                watcher.stop()
                station.close()
    save(cells, "nfc")
    yield {(c.profile, c.policy): c for c in cells}


def _nfc_cell(station: Station, profile: str, policy: str, pcscd: Pcscd) -> Cell:
    def plug(key: VirtualKey) -> Callable[[], None]:
        card = VpcdCard(key, port=pcscd.vpcd_port())
        card.insert()
        return card.remove

    def open_key() -> CtapDevice:
        return open_ctap_device(pcscd.reader())

    try:
        return run_cell(station, profile, "nfc", policy, plug, open_key)
    except Exception as e:  # one broken cell is reported as such; the others still run
        return Cell(profile, "nfc", policy, f"error: {type(e).__name__}: {e}"[:300])


@pytest.mark.parametrize(("profile", "policy"), CELLS)
def test_usb(profile: str, policy: str, usb_cells: dict[tuple[str, str], Cell]) -> None:
    cell = usb_cells[(profile, policy)]
    assert cell.outcome == expected(profile, policy), cell.detail


@pytest.mark.parametrize(("profile", "policy"), CELLS)
def test_nfc(profile: str, policy: str, nfc_cells: dict[tuple[str, str], Cell]) -> None:
    cell = nfc_cells[(profile, policy)]
    assert cell.outcome == expected(profile, policy), cell.detail


def test_every_refusal_names_a_cause_and_a_remedy_and_the_table_is_written(
        usb_cells: dict[tuple[str, str], Cell], nfc_cells: dict[tuple[str, str], Cell]) -> None:
    cells = [*usb_cells.values(), *nfc_cells.values()]
    for cell in cells:
        if cell.outcome.startswith("refused"):
            assert cell.detail, f"{cell} has no remedy"
        if cell.outcome == "refused: feature_missing":
            assert 'pin_change = "require"' in cell.detail and "when_supported" in cell.detail
    text = write_table(cells)
    assert TABLE.read_text() == text
    assert text.count("\n| `") == len(PROFILES)

