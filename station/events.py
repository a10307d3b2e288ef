"""Frozen dataclass events and a thread-safe bus.

Publishing never blocks the publisher: events are queued and delivered by one dispatcher thread.
A listener that raises is logged and stays subscribed; it never breaks the publisher.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of all events. ``slot`` names the key position (USB port or NFC reader) when relevant."""

    at: float = field(default_factory=time.time, kw_only=True)

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind
        return d


@dataclass(frozen=True)
class KeyAttached(Event):
    slot: str
    transport: str
    fingerprint: str


@dataclass(frozen=True)
class KeyRemoved(Event):
    slot: str


@dataclass(frozen=True)
class KeyInspected(Event):
    slot: str
    model: str
    aaguid: str


@dataclass(frozen=True)
class KeyRejected(Event):
    slot: str
    reason: str
    message: str
    remedy: str


@dataclass(frozen=True)
class PersonClaimed(Event):
    slot: str
    enrolment_id: int
    upn: str
    display_name: str


@dataclass(frozen=True)
class StepChanged(Event):
    slot: str
    enrolment_id: int
    step: str


@dataclass(frozen=True)
class TouchRequired(Event):
    slot: str
    enrolment_id: int


@dataclass(frozen=True)
class PinShown(Event):
    """Only published when policy enables showing the PIN on screen; never logged or persisted."""

    slot: str
    enrolment_id: int
    pin: str = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["pin"] = "***"
        return d


@dataclass(frozen=True)
class Registered(Event):
    slot: str
    enrolment_id: int
    upn: str
    method_id: str


@dataclass(frozen=True)
class EnrolmentDone(Event):
    """``note``: the PIN rules the key could not enforce (empty when it enforces them all)."""

    slot: str
    enrolment_id: int
    upn: str
    display_name: str
    note: str = ""


@dataclass(frozen=True)
class EnrolmentFailed(Event):
    slot: str
    enrolment_id: int | None
    upn: str | None
    reason: str
    message: str
    remedy: str
    retryable: bool


@dataclass(frozen=True)
class IntakeChanged(Event):
    paused: bool


@dataclass(frozen=True)
class KeyPrepared(Event):
    """A key reset and given a PIN (sealed on its hand-out) for the person to register it themselves."""

    slot: str
    handout_id: int
    upn: str
    display_name: str


@dataclass(frozen=True)
class StatusNote(Event):
    """A station-level note for the operator (watcher problems, Entra health, reconciliation)."""

    level: str
    message: str
    source: str = ""


Listener = Callable[[Event], None]

# What a field's annotation admits on the wire (JSON: an int may stand where a float is expected).
_WIRE_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
}


def _admits(annotation: str, value: object) -> bool:
    for part in annotation.split("|"):
        part = part.strip()
        if part == "None" and value is None:
            return True
        allowed = _WIRE_TYPES.get(part, ())
        if isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed):
            return True
    return False


def event_kinds() -> dict[str, type[Event]]:
    """Every event a station publishes (the classes of this module), by ``kind``."""
    kinds: dict[str, type[Event]] = {}
    todo = list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls.__module__ == __name__ and not cls.__name__.startswith("_"):
            kinds[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return kinds


def event_from_dict(data: dict[str, Any]) -> Event:
    """The event ``Event.to_dict()`` made ``data`` from (as the control socket sends it). Raises ValueError,
    naming the field, for an unknown kind, a missing field or a value of the wrong type; fields it does not know
    (from a newer station) are ignored."""
    kind = data.get("kind")
    cls = event_kinds().get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ValueError(f"{kind} event without its {f.name!r}")
            continue
        if not _admits(str(f.type), data[f.name]):
            raise ValueError(f"{kind} event: {f.name!r} is {type(data[f.name]).__name__}, not {f.type}")
        values[f.name] = data[f.name]
    return cls(**values)


class EventBus:
    """Delivers events to listeners on a dispatcher thread, in publish order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        self._ensure_started()
        self._queue.put(event)

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="event-bus", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            if isinstance(event, _Flush):
                event.done.set()
                continue
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, event.kind)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every event published so far has been delivered."""
        if self._thread is None:
            return
        done = threading.Event()
        marker = _Flush(done)
        self._queue.put(marker)
        done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None


@dataclass(frozen=True)
class _Flush(Event):
    done: threading.Event
