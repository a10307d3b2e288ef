"""Kiosk mode end to end: the daemon in this process (Entra emulator over HTTPS, real SQLite store, a virtual
key) and the dashboard on an EngineSource, driven through Textual's Pilot.

What a technician relies on: inserting a key brings up its card with the person it is for; while the
key waits for presence the card says TOUCH THE KEY; after the touch it says Done — remove the key with
the person's name; pulling the key clears the card; pausing from the dashboard pauses the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from daemon_harness import queue_people, write_config
from textual.pilot import Pilot

from station.config import load_config
from station.daemon import Daemon
from station.tui.app import StationApp, create_app
from station.tui.source import EngineSource
from station.tui.widgets.banner import Banner
from station.tui.widgets.card_deck import CardDeck
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.virtual_source import VirtualKeySource

SIZE = (100, 32)


@pytest.fixture
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, VirtualKeySource, list[dict[str, str]]]]:
    with EntraEmulator(users=4, seed=9) as emu:
        directory = tmp_path_factory.mktemp("kiosk")
        config = write_config(emu, directory)
        people = queue_people(directory, emu, 2)
        keys = VirtualKeySource()
        daemon = Daemon(load_config(config), watchers=[keys], control=False, keep_log_level=True)
        daemon.start()
        try:
            yield daemon, keys, people
        finally:
            daemon.shutdown(grace=5.0)


def on_screen(app: StationApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def until(pilot: Pilot[int], check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the dashboard never showed {what}:\n{on_screen(pilot.app)}")  # type: ignore[arg-type]
        await pilot.pause(0.05)


async def test_a_key_is_enrolled_on_the_kiosk_dashboard(
        kiosk: tuple[Daemon, VirtualKeySource, list[dict[str, str]]]) -> None:
    daemon, keys, people = kiosk
    assert daemon.engine is not None
    app = create_app(EngineSource(daemon.engine, daemon.bus, daemon.status), mode="kiosk", poll_seconds=0.5)
    finger = Finger.manual(timeout=30)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.queue.queued == 2, "2 queued")
        keys.insert(VirtualKey("fido21", finger=finger), slot="Virtual 1")
        deck = app.query_one(CardDeck)
        await until(pilot, lambda: "Virtual 1" in deck.views and deck.views["Virtual 1"].has_class("-touch"),
                    "the touch prompt")
        view = deck.views["Virtual 1"]
        assert view.query_one(Banner).text == "TOUCH THE KEY"
        first = people[0]
        await until(pilot, lambda: first["displayName"] in on_screen(app)
                    and first["userPrincipalName"].lower() in on_screen(app), "the person at the key")
        finger.touch()
        await until(pilot, lambda: f"{first['displayName']} is enrolled" in on_screen(app), "Done")
        assert view.has_class("-done") and "✔ Done — remove the key" in on_screen(app)
        await until(pilot, lambda: app.model.queue.enrolled == 1, "1 enrolled")
        keys.remove("Virtual 1")
        await until(pilot, lambda: "Virtual 1" not in deck.views, "the card cleared")
        await pilot.press("p")
        await until(pilot, lambda: daemon.engine is not None and daemon.engine.paused, "the engine paused")
        await until(pilot, lambda: "PAUSED" in on_screen(app), "PAUSED")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
