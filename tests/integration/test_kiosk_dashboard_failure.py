"""`station kiosk` when its dashboard fails: the daemon in the same process goes on enrolling (a key inserted as
the dashboard fails is enrolled meanwhile), the dashboard starts again after a second with a log line saying
so, and the failure reaches the terminal as one line, never as Textual's traceback with local variables (the
person's UPN among them)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_tui_kiosk import kiosk  # noqa: F401  (fixture)

import station.tui.app as app_module
from station.commands.tui import _run_kiosk
from station.daemon import Daemon
from station.events import PersonClaimed
from station.tui.app import StationApp, create_app
from station.tui.messages import EventArrived
from station_emulator.key import Finger, VirtualKey
from station_emulator.virtual_source import VirtualKeySource

TIMEOUT = 30.0


class FailsAtAPerson(StationApp):
    """A dashboard with a drawing bug that shows when a person is claimed."""

    CSS_PATH = str(Path(app_module.__file__).with_name("station.tcss"))

    def on_event_arrived(self, message: EventArrived) -> None:
        if isinstance(message.event, PersonClaimed):
            raise RuntimeError("cannot draw this person")
        super().on_event_arrived(message)


def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.05)


def test_a_failing_dashboard_restarts_and_the_station_goes_on_enrolling(
        kiosk: tuple[Daemon, VirtualKeySource, list[dict[str, str]]],  # noqa: F811
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    daemon, keys, people = kiosk
    apps: list[StationApp] = []
    problems: list[BaseException] = []

    def make_app(source: Any, **kw: Any) -> StationApp:
        app = create_app(source, **kw) if apps else FailsAtAPerson(
            source, clock=time.time, tz=None, poll_seconds=0.5, fleet_seconds=3.0, **kw)
        apps.append(app)
        return app

    def technician() -> None:
        try:
            until(lambda: bool(apps) and apps[0]._unsubscribe is not None, "the first dashboard listens to events")
            keys.insert(VirtualKey("fido21", finger=Finger.after(0.3)), slot="Virtual 1")
            until(lambda: apps[0].failure is not None, "the first dashboard fails")
            until(lambda: daemon.status()["queue"]["enrolled"] == 1, "the key is enrolled")
            until(lambda: len(apps) == 2 and apps[1]._unsubscribe is not None, "a second dashboard listens to events")
            apps[1].call_from_thread(apps[1].exit, 0)
        except BaseException as e:
            problems.append(e)
            daemon.request_stop()

    helper = threading.Thread(target=technician)
    helper.start()
    with caplog.at_level(logging.INFO):
        code = _run_kiosk(daemon, "Desk 9", make_app=make_app, headless=True)
    helper.join(10)
    assert not problems, problems
    assert code == 0
    assert isinstance(apps[0].failure, RuntimeError)
    assert daemon.status()["queue"]["enrolled"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("the dashboard failed (RuntimeError); the station goes on enrolling and the dashboard starts "
               "again in 1 s" in m for m in messages)
    err = capfd.readouterr().err
    assert "the dashboard stopped after an error (RuntimeError)" in err
    assert people[0]["userPrincipalName"].lower() not in err.lower(), "a local variable reached the terminal"
    assert "person_upn" not in err
