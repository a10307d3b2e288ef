"""`station tui`'s monitor mode attached to a real daemon (a `station run` subprocess) through its control socket.

What an operator relies on: the dashboard shows the daemon's queue as it is; pause and skip pressed on the
dashboard act on the daemon; a read-only dashboard changes nothing but shows the fleet (``f``) with the
daemon's station alive; a daemon that stops is reported on screen; `station tui` without a daemon explains
how to start one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from daemon_harness import DaemonProcess, daemon_with_queue
from pilot_wait import Notes, wait_for
from textual.pilot import Pilot
from textual.widgets import OptionList

from station.cli import main
from station.tui.app import READ_ONLY_NOTE, StationApp, create_app
from station.tui.screens.find_person import FindPersonScreen
from station.tui.screens.fleet import FleetScreen
from station.tui.source import ControlSource

SIZE = (100, 32)


@pytest.fixture
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with daemon_with_queue(tmp_path_factory.mktemp("monitor"), users=6, seed=5, queued=5,
                           station_id="desk-7", stops_cleanly=False) as d:
        yield d


def on_screen(app: StationApp, selector: str) -> str:
    strips = app.screen._compositor.render_strips()
    r = app.screen.query_one(selector).region
    return "\n".join(strip.crop(r.x, r.right).text for strip in strips[r.y:r.bottom])


async def until(pilot: Pilot[int], check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    await wait_for(pilot, check, what, timeout)


def waiting_row(app: StationApp) -> list[str]:
    """The queue panel's 'waiting' line as words, e.g. ['○', '5', 'waiting']."""
    row = next((line for line in on_screen(app, "#queue").splitlines() if "waiting" in line), "")
    return row.strip("│ ").split()


def monitor(daemon: DaemonProcess, *, read_only: bool | None = None) -> StationApp:
    return create_app(ControlSource(daemon.control_path, read_only=read_only), mode="monitor", poll_seconds=0.3)


async def test_monitor_shows_the_daemons_queue_and_controls_it(daemon: DaemonProcess) -> None:
    app = monitor(daemon)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: waiting_row(app)[-2:] == ["5", "waiting"], "the daemon's queue")
        assert app.model.station_id == "desk-7"
        assert "MONITOR" in on_screen(app, "#station-bar") and "read-only" not in on_screen(app, "#station-bar")
        await pilot.press("p")
        await until(pilot, lambda: "PAUSED" in on_screen(app, "#station-bar"), "PAUSED")
        assert daemon.client().status()["paused"] is True
        await pilot.press("p")
        await until(pilot, lambda: "RUNNING" in on_screen(app, "#station-bar"), "RUNNING again")
        assert daemon.client().status()["paused"] is False
        first = app.model.next_up[0][0]
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, FindPersonScreen)
                    and app.screen.query_one(OptionList).option_count > 0, "people to pick from")
        await pilot.press("enter")
        await until(pilot, lambda: app.model.queue.skipped == 1 and app.model.queue.queued == 4, "one skipped")
        assert daemon.client().status()["queue"]["skipped"] == 1
        assert first not in [upn for upn, _ in app.model.next_up]


async def test_read_only_monitor_changes_nothing_and_a_stopped_daemon_is_reported(daemon: DaemonProcess) -> None:
    app = monitor(daemon, read_only=True)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await until(pilot, lambda: app.model.queue.queued == 5, "5 queued")
        assert "MONITOR · read-only" in on_screen(app, "#station-bar")
        await pilot.press("p")
        await until(pilot, notes.seen(READ_ONLY_NOTE, times=1), "the read-only note")
        assert daemon.client().status()["paused"] is False
        await pilot.press("f")
        await until(pilot, lambda: "1 station · 1 alive" in on_screen(app, "#fleet-bar"), "the fleet")
        desk = next(line for line in on_screen(app, "#fleet-stations").splitlines() if "desk-7" in line)
        assert "● alive" in desk and "idle" in desk
        assert "5 queued" in on_screen(app, "#fleet-queue")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, FleetScreen), "the fleet closed")
        assert daemon.stop() == 0
        await until(pilot, lambda: "DAEMON UNREACHABLE" in on_screen(app, "#station-bar"), "the daemon gone")


def test_station_tui_without_a_daemon_says_how_to_start_one(tmp_path: pytest.TempPathFactory,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--socket", f"{tmp_path}/control.sock"]) == 1
    err = capsys.readouterr().err
    assert "no station daemon is listening on" in err and "station run" in err
