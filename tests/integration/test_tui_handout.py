"""The dashboard's hand-out action against a real daemon: `station tui` in monitor mode (Pilot) attached to a
`station run` subprocess with the Entra emulator. ``h``, a person from the queue, ``y``: the daemon makes the
person's Temporary Access Pass in Entra ID, seals it, takes them out of the queue and counts the key handed
out; the pass is nowhere on the dashboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from daemon_harness import DaemonProcess, kill, queue_people, start_daemon, write_config
from pilot_wait import Notes, screen_text, wait_for
from test_entra_emulator_passkeys import Graph
from test_entra_emulator_tap import taps_path
from textual.widgets import OptionList

from station.enroll.escrow import PRIVATE_KEY_NAME, load_private_key, open_sealed
from station.store import open_store
from station.store.handouts import tap_context
from station.tui.app import create_app
from station.tui.screens.find_person import FindPersonScreen
from station.tui.screens.keys import KeyConfirmScreen
from station.tui.source import ControlSource
from station_emulator.entra import EntraEmulator


@pytest.fixture
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=47) as e:
        yield e


async def test_a_privileged_dashboard_hands_a_key_out_through_the_daemon(
        emu: EntraEmulator, tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("handout")
    people = queue_people(directory, emu, 3)
    daemon: DaemonProcess = start_daemon(write_config(emu, directory), station_id="desk-9")
    notes = Notes()
    try:
        app = create_app(ControlSource(daemon.control_path, read_only=False), mode="monitor", poll_seconds=0.3)
        async with app.run_test(size=(100, 32), message_hook=notes) as pilot:
            await wait_for(pilot, lambda: app.model.queue.queued == 3, "the daemon's queue", timeout=15)
            first = app.model.next_up[0][0]
            await pilot.press("h")
            await wait_for(pilot, lambda: isinstance(app.screen, FindPersonScreen)
                           and app.screen.query_one(OptionList).option_count > 0, "people to pick from")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, KeyConfirmScreen), "the confirmation")
            await pilot.press("y")
            await wait_for(pilot, lambda: any(f"{first}: key handed out" in n for n in notes), "the answer",
                           timeout=15)
            await wait_for(pilot, lambda: app.model.queue.queued == 2, "the person out of the queue", timeout=15)
            shown = screen_text(app)
        status = daemon.client().status()
        assert status["delegated"] == {"handed_out": 1, "active": 0, "expired": 0}
        assert status["queue"]["skipped"] == 1
        person = next(p for p in people if p["userPrincipalName"] == first)
        (tap,) = Graph(emu).call("GET", taps_path(person["id"])).json()["value"]
        assert tap["isUsableOnce"] is True and tap["lifetimeInMinutes"] == 480

        store = open_store(f"sqlite:///{directory / 'station.db'}")
        try:
            (handout,) = store.handouts.find()
        finally:
            store.close()
        assert handout.upn == first and handout.tap_method_id == tap["id"] and handout.station_id == "desk-9"
        assert handout.tap_sealed
        secret = open_sealed(load_private_key((directory / PRIVATE_KEY_NAME).read_bytes()), handout.tap_sealed,
                             tap_context(handout.id))
        assert secret not in "\n".join(notes) and secret not in shown and secret not in daemon.log()
        assert daemon.stop() == 0
    finally:
        kill(daemon)
