"""Where the dashboard's data comes from: the ``DashboardSource`` protocol and its two implementations.

``EngineSource`` serves kiosk mode (the engine runs in this process: snapshots come from a status
function, events from the EventBus, commands go straight to the engine). ``ControlSource`` serves
monitor mode (a running daemon, reached through its control socket). Both hand the dashboard plain
dicts: a status snapshot, the fleet view (``station.fleet.FleetView.to_dict()``), and events as
``Event.to_dict()`` shapes them. Commands answer a dict or raise a StationError whose message and remedy
the dashboard shows.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

from station.control import KEY_COMMANDS, group_id
from station.control_client import ControlClient
from station.control_protocol import Controls, KeyCommands
from station.errors import ControlError, InvalidStateError, Reason, StationError
from station.events import Event, EventBus, StatusNote, event_from_dict
from station.wire import StatusSnapshot

log = logging.getLogger(__name__)

EventCallback = Callable[[Event], None]
RECONNECT_SECONDS = 2.0
CONTROL_GROUP = "station"


class DashboardSource(Protocol):
    """What the dashboard needs from a station. ``subscribe``'s callback may be called from any thread."""

    @property
    def read_only(self) -> bool: ...

    def snapshot(self) -> StatusSnapshot: ...

    def fleet(self) -> dict[str, Any]: ...

    def subscribe(self, callback: EventCallback) -> Callable[[], None]: ...

    def command(self, cmd: str, **args: Any) -> dict[str, Any]: ...


class EngineSource:
    """Kiosk mode: the engine in this process. ``status_fn`` builds the status snapshot (the daemon's StatusBoard),
    ``fleet_fn`` the fleet view from the daemon's store (without one, asking for the fleet is refused)."""

    read_only = False

    def __init__(self, engine: Controls, bus: EventBus, status_fn: Callable[[], StatusSnapshot], *,
                 fleet_fn: Callable[[], dict[str, Any]] | None = None, keys: KeyCommands | None = None) -> None:
        self.engine = engine
        self.keys = keys
        self.bus = bus
        self.status_fn = status_fn
        self.fleet_fn = fleet_fn

    def snapshot(self) -> StatusSnapshot:
        return self.status_fn()

    def fleet(self) -> dict[str, Any]:
        if self.fleet_fn is None:
            raise StationError("this dashboard was started without a fleet view",
                               remedy="Run 'station fleet' to see every station sharing the store.")
        return self.fleet_fn()

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        return self.bus.subscribe(callback)  # a shown PIN stays in this process's memory, on screen only

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        if cmd == "pause":
            self.engine.pause_intake()
        elif cmd == "resume":
            self.engine.resume_intake()
        elif cmd in ("retry", "skip"):
            act = self.engine.retry_person if cmd == "retry" else self.engine.skip_person
            person = act(str(args["upn"]))
            return {"ok": True, "person": person_dict(person)}
        elif cmd in KEY_COMMANDS and self.keys is not None:
            return self.keys.handle(cmd, args)
        elif cmd == "cancel":
            if not self.engine.cancel_slot(str(args["slot"])):
                raise InvalidStateError(f"nothing runs in {args['slot']}", remedy="Check the slot on the dashboard.")
        else:
            raise ControlError(f"unknown command {cmd!r}", reason=Reason.CONTROL_INVALID)
        return {"ok": True}


def person_dict(person: Any) -> dict[str, Any]:
    """The queue's answer about a person (a PersonView) as the control socket would send it."""
    if hasattr(person, "to_dict"):
        return dict(person.to_dict())
    if isinstance(person, Mapping):
        return dict(person)
    return {"upn": str(person)}


def may_control(path: Path) -> bool:
    """Whether the daemon behind ``path`` lets this user change things (root, its own user, the station group)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if os.geteuid() in (0, st.st_uid):
        return True
    gid = group_id(CONTROL_GROUP)
    return gid is not None and gid == st.st_gid and gid in {os.getegid(), *os.getgroups()}


class ControlSource:
    """Monitor mode: a running daemon through its control socket at ``path``.

    Events arrive on a reader thread of its own, which reconnects while the daemon is away; the subscriber
    hears a StatusNote when the connection is lost and when it is back. ``read_only`` defaults to what
    the daemon would allow this user.
    """

    def __init__(self, path: str | Path, *, read_only: bool | None = None) -> None:
        self.path = Path(path)
        self.read_only = (not may_control(self.path)) if read_only is None else read_only
        self.client = ControlClient(self.path)

    def snapshot(self) -> StatusSnapshot:
        return cast(StatusSnapshot, self.client.status())  # the daemon's StatusBoard built it

    def fleet(self) -> dict[str, Any]:
        fleet = self.client.command("fleet").get("fleet")
        if not isinstance(fleet, dict):
            raise ControlError("the daemon's fleet reply holds no fleet view")
        return fleet

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        stop = threading.Event()

        def note(level: str, message: str) -> None:
            callback(StatusNote(level=level, message=message, source="dashboard"))

        def pump() -> None:
            lost = False
            while not stop.is_set():
                try:
                    for event in self.client.subscribe():
                        if lost:
                            lost = False
                            note("info", "connected to the station daemon again")
                        if stop.is_set():
                            return
                        try:
                            callback(event_from_dict(event))
                        except ValueError as e:
                            log.warning("an event from the station daemon was not understood and is left out: %s", e)
                except (OSError, StationError, ValueError) as e:
                    log.debug("event stream from %s: %s", self.path, e)
                if not lost and not stop.is_set():
                    lost = True
                    note("error", "lost the connection to the station daemon; retrying")
                stop.wait(RECONNECT_SECONDS)

        threading.Thread(target=pump, name="dashboard-events", daemon=True).start()
        return stop.set

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        if self.read_only:
            raise ControlError("this dashboard is read-only", reason=Reason.CONTROL_DENIED,
                               remedy="Control the station from its kiosk, or run 'station tui' as root or a "
                                      "member of the station group.")
        return self.client.command(cmd, **args)
