"""People pre-assigned to keys are waiting, but not for the key inserted: the station says how many wait for a
key of their own instead of "Nobody is waiting", at the key and on the idle dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import build_station

from station.events import KeyRejected
from station.store import NewPerson
from station.tui.widgets.card_deck import waiting_for_own_keys
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=17) as e:
        yield e


def test_a_key_nobody_waits_for_is_told_how_many_wait_for_their_own(emu: EntraEmulator, tmp_path: Path) -> None:
    station = build_station(emu, tmp_path, prefetch=0)
    try:
        users = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[:2]
        station.store.queue.add_people(NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"],
                                                 object_id=u["id"], key_serial=f"SN-{i}")
                                       for i, u in enumerate(users))
        assert station.store.queue.peek_next(5) == [], "nobody is next in line for any key"
        station.keys.insert(VirtualKey("fido21", finger=Finger.after(0.1)), slot="usb-1")
        refused = station.events.wait_for(KeyRejected, slot="usb-1")
        assert refused.reason == "queue_empty"
        assert refused.message == "nobody is waiting for this key: 2 people wait for a key of their own (pre-assigned)"
        assert "Nobody is waiting" not in refused.remedy and "pre-assigned" in refused.remedy
    finally:
        station.close()


def test_the_idle_dashboard_counts_people_waiting_for_their_own_key() -> None:
    assert waiting_for_own_keys(0) == "Nobody is waiting in the queue."
    assert waiting_for_own_keys(1) == "1 person waits for a key of their own (pre-assigned): insert one of those keys."
    assert waiting_for_own_keys(3).startswith("3 people wait")
