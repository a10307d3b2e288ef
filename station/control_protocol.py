"""What both ends of the control socket agree on: the protocol version, the socket's name in the runtime
directory, the heartbeat interval, and what an operator may ask of the enrolment engine (``Controls``) and of the
key inventory (``KeyCommands``) — the control socket serves those to the dashboard of another process, and the
kiosk's dashboard calls them in its own. Kept apart from ``station.control`` (the daemon's server and its
threads) so that a client — ``station status`` — imports only this. The answers' shapes are in ``station.wire``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

PROTOCOL_VERSION = 1
SOCKET_NAME = "control.sock"
HEARTBEAT_SECONDS = 5.0


def socket_path(runtime_dir: Path) -> Path:
    return Path(runtime_dir) / SOCKET_NAME


class Controls(Protocol):
    """What an operator may ask of the enrolment engine (``station.enroll.engine.Engine`` satisfies it)."""

    @property
    def paused(self) -> bool: ...
    def pause_intake(self) -> None: ...
    def resume_intake(self) -> None: ...
    def retry_person(self, upn: str) -> Any: ...
    def skip_person(self, upn: str) -> Any: ...
    def cancel_slot(self, slot: str) -> bool: ...


class KeyCommands(Protocol):
    """The key inventory's commands (``keys`` …) as the control socket and the kiosk's dashboard pass them on."""

    def handle(self, cmd: str, request: dict[str, Any]) -> dict[str, Any]: ...
