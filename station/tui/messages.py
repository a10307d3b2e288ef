"""Messages the dashboard's background threads post to the app, each named for what happened."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from station.events import Event
from station.wire import StatusSnapshot


class EventArrived(Message):
    """The station published an event."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class StatusRefreshed(Message):
    """A fresh status snapshot was read; ``events_before`` is how many events the app had taken when it was asked."""

    def __init__(self, status: StatusSnapshot, events_before: int = 0) -> None:
        super().__init__()
        self.status = status
        self.events_before = events_before


class StatusUnreachable(Message):
    """The status could not be read; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class CommandAnswered(Message):
    """A command was answered: ``error`` (message, remedy) is None when it was carried out."""

    def __init__(self, cmd: str, args: dict[str, Any], error: dict[str, str] | None) -> None:
        super().__init__()
        self.cmd = cmd
        self.args = args
        self.error = error


class FleetRefreshed(Message):
    """A fresh fleet view was read (``station.fleet.FleetView.to_dict()`` shape)."""

    def __init__(self, fleet: dict[str, Any]) -> None:
        super().__init__()
        self.fleet = fleet


class FleetUnreachable(Message):
    """The fleet view could not be read; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
