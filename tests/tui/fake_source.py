"""An in-memory DashboardSource for the dashboard's tests: a status dict, a fleet view, event delivery, recorded
commands."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

from support.wire_shape import shape_problems

from station.errors import InvalidStateError, StationError
from station.events import Event, IntakeChanged
from station.wire import SessionSnapshot, StatusSnapshot

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: every test's "now"


def session(**over: Any) -> SessionSnapshot:
    """A session snapshot: a key in USB 1-1, just attached, with the fields a test names replaced."""
    base: dict[str, Any] = {
        "slot": "USB 1-1", "transport": "usb", "fingerprint": "", "step": "attached", "model": "", "upn": None,
        "display_name": None, "enrolment_id": None, "outcome": None, "reason": None, "message": None,
        "remedy": None, "started": T0, "ended": None}
    base.update(over)
    return cast(SessionSnapshot, base)


def status(**over: Any) -> StatusSnapshot:
    """A status snapshot as the daemon sends it; the sessions in ``slots`` and ``finished`` may name only the fields
    that matter to the test."""
    for part in ("slots", "finished"):
        if part in over:
            over[part] = [session(**s) for s in over[part]]
    base: dict[str, Any] = {
        "v": 1, "station": {"id": "st-1", "name": "Front desk", "version": "0.1.0", "pid": 4242,
                    "language": "en"},
        "state": "idle", "store_problem": None, "paused": False, "pace": {"window_seconds": 900.0, "enrolled": 0},
        "unresolved": [], "delegated": {"handed_out": 0, "active": 0, "expired": 0},
        "queue": {"queued": 132, "claimed": 0, "enrolled": 41, "failed": 2, "skipped": 1},
        "today": {"enrolled": 41, "failed": 2}, "slots": [], "finished": [],
        "next_up": [{"upn": "ada@contoso.com", "display_name": "Ada Lovelace"},
                    {"upn": "grace@contoso.com", "display_name": "Grace Hopper"},
                    {"upn": "alan@contoso.com", "display_name": "Alan Turing"}],
        "entra": {"last_latency_ms": 212.0, "throttled": False, "token_ok": True, "last_error": None},
        "watchers": ["USB: watching", "NFC: 1 reader"], "summary": "idle · 132 queued · 41 enrolled today",
    }
    base.update(over)
    assert shape_problems(base, StatusSnapshot) == [], "a test's status snapshot breaks station.wire's contract"
    return cast(StatusSnapshot, base)


def station(ident: str, name: str, host: str, *, age: float, slots: list[dict[str, Any]] | None = None,
            unfinished: int = 0, status: str = "idle") -> dict[str, Any]:
    return {"id": ident, "name": name, "host": host, "version": "0.1.0", "state": "alive" if age <= 60 else "stale",
            "status": status, "heartbeat_age": age, "started_at": T0 - 3600, "slots": slots or [],
            "unfinished": unfinished}


def slot(name: str, step: str, upn: str, eid: int) -> dict[str, Any]:
    return {"slot": name, "transport": name.split()[0].lower(), "step": step, "model": "YubiKey 5 NFC", "upn": upn,
            "enrolment_id": eid}


def fleet(*stations: dict[str, Any]) -> dict[str, Any]:
    """A fleet view as ``FleetView.to_dict()`` shapes it; by default two stations alive and one stale."""
    if not stations:
        stations = (
            station("desk-1", "Front desk", "kiosk-01", age=4.0, unfinished=2,
                    slots=[slot("USB 1-1", "touch", "ada@contoso.com", 7),
                           slot("NFC ACS ACR122U 00 00", "registering", "grace@contoso.com", 8)]),
            station("desk-2", "Annex", "pi-annex", age=9.0),
            station("desk-3", "Lab", "pi-lab", age=312.0, unfinished=1, status="working · 1 key",
                    slots=[slot("USB 1-2", "registering", "alan@contoso.com", 5)]),
        )
    return {"at": T0, "stale_after": 60.0, "stations": list(stations),
            "queue": {"queued": 132, "claimed": 3, "enrolled": 41, "failed": 2, "skipped": 1},
            "unfinished": {st["id"]: st["unfinished"] for st in stations if st["unfinished"]}}


class FakeSource:
    """Behaves like a station: pause/resume publish IntakeChanged; retry/skip follow the queue's rules."""

    def __init__(self, snapshot: dict[str, Any] | None = None, *, read_only: bool = False) -> None:
        self.status = snapshot or status()
        self.fleet_view = fleet()
        self.read_only = read_only
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.people: dict[str, str] = {"ada@contoso.com": "queued", "grace@contoso.com": "queued",
                                       "alan@contoso.com": "queued"}
        self.unreachable: str | None = None
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        if self.unreachable:
            raise StationError(self.unreachable)
        return dict(self.status)

    def fleet(self) -> dict[str, Any]:
        if self.unreachable:
            raise StationError(self.unreachable)
        return dict(self.fleet_view)

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    @property
    def subscribers(self) -> int:
        return len(self._listeners)

    def emit(self, *events: Event) -> None:
        """Deliver events from another thread, as the EventBus or a socket reader would."""
        def deliver() -> None:
            for event in events:
                for listener in list(self._listeners):
                    listener(event)

        thread = threading.Thread(target=deliver)
        thread.start()
        thread.join()

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        self.commands.append((cmd, args))
        if cmd in ("pause", "resume"):
            paused = cmd == "pause"
            self.status = {**self.status, "paused": paused, "state": "paused" if paused else "idle"}
            for listener in list(self._listeners):
                listener(IntakeChanged(paused=paused, at=T0))
            return {"ok": True, "paused": paused}
        upn = str(args.get("upn", ""))
        allowed = {"retry": {"failed", "skipped"}, "skip": {"queued", "failed"}}[cmd]
        state = self.people.get(upn)
        if state not in allowed:
            raise InvalidStateError(f"{upn} is {state or 'unknown'}; only {' or '.join(sorted(allowed))} people "
                                    f"can be {'retried' if cmd == 'retry' else 'skipped'}",
                                    remedy="Check the person's state with 'station queue show UPN'.")
        self.people[upn] = "queued" if cmd == "retry" else "skipped"
        return {"ok": True, "person": {"upn": upn, "state": self.people[upn]}}
